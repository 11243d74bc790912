"""The meta/columns asset: the data dictionary table, written after every other table and before the publish."""

import dagster as dg
from dagster import AssetExecutionContext

from assets.dictionary.columns import DICTIONARY_TABLE, write_dictionary
from assets.keys import COLUMNS_KEY
from assets.pools import write_pool
from assets.resources import Lakehouse
from assets.table_metadata import add_table_metadata


def build_dictionary_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """meta.columns, downstream of every asset that writes a table (its contract also checks the audit tables,
    which every ingest asset writes)."""

    @dg.asset(
        key=COLUMNS_KEY,
        group_name="warehouse",
        deps=upstream,
        kinds={"duckdb", "ducklake"},
        pool=write_pool(COLUMNS_KEY),
        description="Data dictionary: every published table and column with its type and meaning (from the "
        "tables' declarations).",
    )
    def columns(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        with lakehouse.connect() as con:
            described = write_dictionary(con)
            add_table_metadata(context, con, DICTIONARY_TABLE)
        return dg.MaterializeResult(metadata={"columns": described})

    return columns
