"""Dagster resources: where the lakehouse lives, and DuckDB connections with the lake attached."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from assets.ingest.check import load_checked_specs
from assets.ingest.spec import SourceSpec
from assets.reference.tables import SEARCH_PATH, create_ref_views
from assets.tables import create_lake_tables
from warehouse.ducklake import LakeConfig, attach, enable_s3, offline_config
from warehouse.lake import Location, sql_str
from warehouse.settings import Settings
from warehouse.transactions import tag_run

_READERS: dict[tuple, duckdb.DuckDBPyConnection] = {}
_WRITERS: dict[tuple, duckdb.DuckDBPyConnection] = {}


class Lakehouse(dg.ConfigurableResource):
    """Landing (fsspec URL), the DuckLake lake (catalog + data URL) and DuckDB connections for transforms."""

    landing_url: str
    lake_url: str
    catalog_url: str
    dashboards_path: str
    scratch_path: str
    sources_dir: str
    threads: int
    memory_limit: str
    _run_id: str | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> Lakehouse:
        """A resource for the locations of a deployment."""
        threads = max(1, os.cpu_count() or 1)
        return cls(
            landing_url=settings.landing_url,
            lake_url=settings.lake_url,
            catalog_url=settings.catalog_url,
            dashboards_path=str(settings.dashboards_path),
            scratch_path=str(settings.scratch_path),
            sources_dir=str(settings.sources_dir),
            threads=threads,
            memory_limit=settings.duckdb_memory_limit,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Remember the run id: every lake commit of the run is tagged with it."""
        self._run_id = context.run.run_id if context.run else None

    @property
    def landing(self) -> Location:
        """The landing zone, where providers drop files."""
        return Location(self.landing_url)

    @property
    def lake(self) -> LakeConfig:
        """The DuckLake catalog and data locations."""
        return LakeConfig(self.catalog_url, self.lake_url)

    def specs(self) -> list[SourceSpec]:
        """Source specs of this deployment."""
        return load_checked_specs(Path(self.sources_dir))

    def _key(self) -> tuple:
        """Which lake an instance is attached to: a catalog file deleted and made again is another lake."""
        path = self.lake.catalog_path()
        inode = os.stat(path).st_ino if path and os.path.exists(path) else None
        return (os.getpid(), self.catalog_url, self.lake_url, inode)

    def _writer(self) -> duckdb.DuckDBPyConnection:
        """The process's in-memory DuckDB instance with the lake attached for writing (extensions loaded, the
        catalog attached and the fixed-shape tables made once per process, not once per step)."""
        key = self._key()
        if key not in _WRITERS:
            base = duckdb.connect(config=offline_config(threads=self.threads, memory_limit=self.memory_limit))
            os.makedirs(self.scratch_path, exist_ok=True)
            base.execute(f"SET temp_directory = {sql_str(os.path.join(self.scratch_path, 'duckdb'))}")
            attach(base, self.lake)
            if self.landing.on_s3:
                enable_s3(base)  # DuckDB's own S3 client: fsspec must not take over the lake's s3:// paths
            else:
                self.landing.attach(base)
            create_lake_tables(base)
            create_ref_views(base)
            key = self._key()  # attaching may have made the catalog file
            _WRITERS[key] = base
        return _WRITERS[key]

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection (UTC) with the lake attached for writing as `lake`, the landing zone readable, and the
        ref_* views over the reference tables (shared by the process's connections); its temp tables and views
        are its own."""
        con = self._writer().cursor()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            con.execute(SEARCH_PATH)  # the process's ref_* views
            if self._run_id:
                tag_run(con, self._run_id)
            yield con
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection on the lake's latest snapshot, from one DuckDB instance per process and lake
        (extensions loaded and the catalog attached once); temp objects are the connection's own."""
        key = self._key()
        if key not in _READERS:
            base = duckdb.connect(config=offline_config())
            attach(base, self.lake, read_only=True)
            _READERS[key] = base
        con = _READERS[key].cursor()
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()
