"""Temp views that let transforms read published-table names straight from the lake."""

from __future__ import annotations

import duckdb

from warehouse.catalog import TABLES, TableDef
from warehouse.lake import Location, parquet_scan


def table_source(lake: Location, table: TableDef) -> str:
    """FROM-clause source of a table's lake files (typed empty relation when there are none)."""
    return parquet_scan(lake, table.files(lake), table.empty_select())


def create_lake_views(con: duckdb.DuckDBPyConnection, lake: Location, names: list[str]) -> None:
    """Create temp views named like the tables with '_' for '.', e.g. core_compute_usage."""
    for name in names:
        view = name.replace(".", "_")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {table_source(lake, TABLES[name])}")
