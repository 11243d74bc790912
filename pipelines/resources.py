"""Dagster resources: where the lakehouse lives, and DuckDB connections prepared to read it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.ingest.check import load_checked_specs
from assets.ingest.spec import SourceSpec
from pipelines.settings import Settings
from warehouse.lake import Location


class Lakehouse(dg.ConfigurableResource):
    """Landing, lake and warehouse locations (fsspec URLs) plus DuckDB connections for transforms."""

    landing_url: str
    lake_url: str
    warehouse_path: str
    dashboards_path: str
    sources_dir: str
    duckdb: DuckDBResource

    @classmethod
    def from_settings(cls, settings: Settings) -> Lakehouse:
        """A resource for the locations of a deployment."""
        threads = max(1, os.cpu_count() or 1)
        return cls(
            landing_url=settings.landing_url,
            lake_url=settings.lake_url,
            warehouse_path=str(settings.warehouse_path),
            dashboards_path=str(settings.dashboards_path),
            sources_dir=str(settings.sources_dir),
            duckdb=DuckDBResource(
                database=":memory:",
                connection_config={"threads": threads, "memory_limit": settings.duckdb_memory_limit},
            ),
        )

    @property
    def landing(self) -> Location:
        """The landing zone, where providers drop files."""
        return Location(self.landing_url)

    @property
    def lake(self) -> Location:
        """The lake, where Parquet files are written."""
        return Location(self.lake_url)

    def specs(self) -> list[SourceSpec]:
        """Source specs of this deployment."""
        return load_checked_specs(Path(self.sources_dir))

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An in-memory DuckDB connection (UTC) that can read landing and lake files and the ref views."""
        with self.duckdb.get_connection() as con:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            lake = self.lake
            if lake.is_local:
                scratch = lake.path(".scratch/duckdb")
                os.makedirs(scratch, exist_ok=True)
                con.execute(f"SET temp_directory = '{scratch}'")
            lake.attach(con)
            self.landing.attach(con)
            from assets.reference.tables import create_ref_views

            create_ref_views(con, lake)
            yield con

    def reference_fingerprint(self) -> str:
        """A hash of the reference tables that ingest reads (chips, aliases, rates, fx, providers)."""
        from assets.reference.tables import INGEST_REFERENCE

        lake = self.lake
        digest = hashlib.sha256()
        for name in INGEST_REFERENCE:
            relative = f"ref/{name}.parquet"
            if lake.exists(relative):
                with lake.fs.open(lake.path(relative), "rb") as handle:
                    digest.update(handle.read())
        return digest.hexdigest()
