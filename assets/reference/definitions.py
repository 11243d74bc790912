"""Reference-table assets."""

import dagster as dg

from assets.reference.tables import REF_TABLES, RefTable, load_reference_table
from pipelines.resources import Lakehouse


def _build(table: RefTable) -> dg.AssetsDefinition:
    origin = f"data_contracts/{table.shipped_file}" if table.shipped_file else f"landing {table.landing_file}"

    @dg.asset(
        key=dg.AssetKey(["ref", table.name]),
        group_name="reference",
        kinds={"duckdb", "parquet"},
        description=f"ref.{table.name}, validated strictly from {origin}",
    )
    def _ref(lakehouse: Lakehouse) -> dg.MaterializeResult:
        with lakehouse.connect() as con:
            rows = load_reference_table(con, table, lakehouse.landing, lakehouse.lake)
        return dg.MaterializeResult(metadata={"rows": rows, "origin": origin})

    return _ref


REFERENCE_ASSETS = [_build(t) for t in REF_TABLES.values()]
