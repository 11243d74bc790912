"""Where ComputeFlow keeps its data: every location is an fsspec URL read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from warehouse.ducklake import LakeConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACTS_DIR = REPO_ROOT / "data_contracts"


@dataclass(frozen=True)
class Settings:
    """Resolved locations of one ComputeFlow deployment."""

    home: Path
    landing_url: str
    lake_url: str
    catalog_url: str
    dashboards_path: Path
    dagster_home: Path
    sources_dir: Path
    partition_start: str | None
    duckdb_memory_limit: str = "1GB"
    dagster_storage_url: str | None = None

    @property
    def lake(self) -> LakeConfig:
        """The DuckLake catalog and data locations."""
        return LakeConfig(self.catalog_url, self.lake_url)

    @property
    def scratch_path(self) -> Path:
        """Local scratch space (spilled DuckDB data, staged ingest files)."""
        return self.home / "scratch"

    @classmethod
    def from_env(cls) -> Settings:
        """Read COMPUTEFLOW_* variables; everything defaults under COMPUTEFLOW_HOME (./data)."""
        home = Path(os.environ.get("COMPUTEFLOW_HOME", "data")).resolve()
        return cls(
            home=home,
            landing_url=os.environ.get("COMPUTEFLOW_LANDING_URL", str(home / "landing")),
            lake_url=os.environ.get("COMPUTEFLOW_LAKE_URL", str(home / "lake")),
            catalog_url=os.environ.get("COMPUTEFLOW_CATALOG_URL", str(home / "catalog.sqlite")),
            dashboards_path=home / "dashboards",
            dagster_home=Path(os.environ.get("DAGSTER_HOME", home / "dagster")),
            sources_dir=Path(os.environ.get("COMPUTEFLOW_SOURCES_DIR", CONTRACTS_DIR / "sources")),
            partition_start=os.environ.get("COMPUTEFLOW_PARTITION_START") or None,
            duckdb_memory_limit=os.environ.get("COMPUTEFLOW_DUCKDB_MEMORY", "1GB"),
            dagster_storage_url=os.environ.get("COMPUTEFLOW_DAGSTER_STORAGE_URL") or None,
        )
