"""Temp views that let transforms read published-table names straight from the lake."""

from __future__ import annotations

import duckdb

from warehouse.catalog import TABLES
from warehouse.lake import Location


def create_lake_views(con: duckdb.DuckDBPyConnection, lake: Location, names: list[str]) -> None:
    """Create temp views named like the tables with '_' for '.', e.g. core_compute_usage."""
    for name in names:
        view = name.replace(".", "_")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {TABLES[name].source(lake)}")
