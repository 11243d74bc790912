"""Temp views that let transforms read published-table names without the catalog prefix."""

from __future__ import annotations

import duckdb

from assets.tables import TABLES
from warehouse.introspect import lake_tables


def create_lake_views(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    """Create temp views named like the tables with '_' for '.', e.g. core_compute_usage."""
    existing = lake_tables(con)
    for name in names:
        view = name.replace(".", "_")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {TABLES[name].source(con, existing)}"
        )
