"""Dagster metadata of the assets that publish lake tables, from one place: the column schema (the columns,
types and meanings of the data dictionary), the row count after the commit and the span of what a
materialization covers."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from assets.dictionary.columns import TableMeaning, described_columns, suite_meanings
from assets.ingest.engine import UNPARTITIONED
from assets.tables import DATED_BY, TABLE_ASSETS, TABLES
from warehouse.ducklake import qualified
from warehouse.introspect import lake_columns
from warehouse.lake import sql_ident
from warehouse.transactions import read_transaction

# Dagster's table metadata keys (dagster's TableMetadataSet: the UI shows them as the table's schema and size).
COLUMN_SCHEMA = "dagster/column_schema"
ROW_COUNT = "dagster/row_count"
PARTITION_ROW_COUNT = "dagster/partition_row_count"
# The first and last day partition a materialization of a daily asset covers (the run's partition range).
PARTITION_START, PARTITION_END = "partition_start", "partition_end"
# The first and last day (or month) of an unpartitioned table's rows (its DATED_BY column).
DATA_START, DATA_END = "data_start", "data_end"
PARTITION_COLUMN = "partition_key"  # ingest tables and core.compute_usage: the day partition a row came from


def published_table(key: dg.AssetKey) -> str | None:
    """The warehouse table an asset publishes ('schema.table'), None for an asset that publishes none."""
    name = ".".join(key.path)
    if name in TABLES:
        return name
    return next((t for t, keys in TABLE_ASSETS.items() if tuple(key.path) in keys), None)


def column_schema(columns: Iterable[tuple[str, str]], meaning: TableMeaning) -> dg.TableSchema:
    """Dagster's column schema of a table: each column's name and type with its declared meaning."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, data_type, description=meaning.columns.get(name))
            for name, data_type in columns
        ]
    )


@cache
def _declared_schemas() -> dict[str, dg.TableSchema]:
    """The column schema of every fixed-shape table (computed once per process)."""
    meanings = suite_meanings()
    with duckdb.connect() as con:  # DuckDB's names of the declared types, as meta.columns has them
        return {
            name: column_schema(
                described_columns(con, table, set()), meanings.get(name, TableMeaning("", {}))
            )
            for name, table in TABLES.items()
            if table.columns
        }


def with_column_schema(assets: Iterable[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The assets, each that publishes a fixed-shape table with its column schema (`dagster/column_schema`);
    a table whose columns its query sets gets its schema at materialization (`add_table_metadata`)."""
    schemas = _declared_schemas()

    def _with_schema(spec: dg.AssetSpec) -> dg.AssetSpec:
        table = published_table(spec.key)
        if table not in schemas:
            return spec
        return spec.merge_attributes(metadata={COLUMN_SCHEMA: schemas[table]})

    return list(dg.map_asset_specs(_with_schema, assets))


def add_table_metadata(
    context: AssetExecutionContext, con: duckdb.DuckDBPyConnection, table: str, key: dg.AssetKey | None = None
) -> None:
    """Add to the materialization of `key` (default: the context's asset) what it published in `table`, read
    once after the commit: `dagster/row_count`; for a daily asset its partition range and each partition's
    `dagster/partition_row_count`; else the span of the rows' days (DATED_BY); and the column schema of a
    table whose columns are known only now.

    In a table with a partition_key column (ingest tables, core.compute_usage) an asset's rows are those of its
    own partitions: the day partitions of a daily asset, the undated part of an unpartitioned one."""
    with read_transaction(con):  # one snapshot, and one catalog lookup for the reads below
        _add_table_metadata(context, con, table, key or context.asset_key)


def _add_table_metadata(
    context: AssetExecutionContext, con: duckdb.DuckDBPyConnection, table: str, key: dg.AssetKey
) -> None:
    columns = lake_columns(con, [table]).get(table, set())
    partitioned = context.assets_def.partitions_def is not None
    dated = DATED_BY.get(table)
    span = (
        f"min({sql_ident(dated)}), max({sql_ident(dated)})"
        if dated in columns and not partitioned
        else "NULL, NULL"
    )
    if PARTITION_COLUMN in columns:
        groups = con.execute(
            f"SELECT {PARTITION_COLUMN}, count(*), {span} FROM {qualified(table)} GROUP BY ALL"
        ).fetchall()
        own = {
            part: (rows, first, last)
            for part, rows, first, last in groups
            if (part != UNPARTITIONED) == partitioned
        }
    elif columns:
        own = {None: con.execute(f"SELECT count(*), {span} FROM {qualified(table)}").fetchone()}
    else:  # nothing committed yet (an ingest asset whose source has landed no file)
        own = {}
    metadata: dict[str, object] = {ROW_COUNT: sum(rows for rows, _, _ in own.values())}
    if partitioned:
        covered = context.partition_key_range
        metadata |= {PARTITION_START: covered.start, PARTITION_END: covered.end}
        for part in context.partition_keys:
            rows = own.get(part, (0, None, None))[0]
            context.add_asset_metadata({PARTITION_ROW_COUNT: rows}, key, part)
    else:
        days = [d for _, first, last in own.values() for d in (first, last) if d is not None]
        if days:
            metadata |= {DATA_START: min(days).isoformat(), DATA_END: max(days).isoformat()}
    if table in TABLES and not TABLES[table].columns and columns:
        meaning = suite_meanings().get(table, TableMeaning("", {}))
        metadata[COLUMN_SCHEMA] = column_schema(described_columns(con, TABLES[table], {table}), meaning)
    context.add_asset_metadata(metadata, key)
