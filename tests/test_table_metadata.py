"""Asset metadata: every table-publishing asset shows the data dictionary's column schema, and each
materialization the row count and the span of what it covers, as the lake holds them."""

from collections import defaultdict

import dagster as dg
import pytest

from assets.ingest.engine import UNPARTITIONED
from assets.table_metadata import (
    COLUMN_SCHEMA,
    DATA_END,
    DATA_START,
    PARTITION_END,
    PARTITION_ROW_COUNT,
    PARTITION_START,
    ROW_COUNT,
    published_table,
)
from assets.tables import DATED_BY, TABLES, ingest_table
from tests.conftest import Deployment

pytestmark = pytest.mark.slow  # refreshes small demo lakehouses


def dictionary(demo: Deployment) -> dict[str, list[tuple]]:
    """meta.columns of the demo: (column, type, meaning) of every table, in column order."""
    found = defaultdict(list)
    for table, column, data_type, meaning in demo.query(
        "SELECT table_name, column_name, data_type, meaning FROM meta.columns ORDER BY table_name, ordinal"
    ):
        found[table].append((column, data_type, meaning))
    return found


def columns_of(schema: dg.TableSchema) -> list[tuple]:
    """(name, type, description) of a schema's columns."""
    return [(c.name, c.type, c.description) for c in schema.columns]


def lake_table(key: dg.AssetKey) -> str | None:
    """The lake table an asset writes: a warehouse table, or an ingest asset's ingest.<source>."""
    return published_table(key) or (ingest_table(key.path[1]) if key.path[0] == "ingest" else None)


@pytest.fixture(scope="module")
def specs(demo: Deployment) -> dict[dg.AssetKey, dg.AssetSpec]:
    """The code location's asset specs, by key."""
    return {spec.key: spec for spec in demo.definitions().resolve_all_asset_specs()}


def test_table_assets_declare_the_dictionary_columns(
    demo: Deployment, specs: dict[dg.AssetKey, dg.AssetSpec]
) -> None:
    """An asset of a fixed-shape table declares its columns, types and meanings exactly as meta.columns has
    them; an asset of any other table declares none."""
    expected = dictionary(demo)
    declared = {}
    for key, spec in specs.items():
        table = published_table(key)
        schema = spec.metadata.get(COLUMN_SCHEMA)
        assert (schema is not None) == bool(table and TABLES[table].columns), key
        if schema is not None:
            declared[key] = table
            assert columns_of(schema) == expected[table], table
    assert {
        "core.compute_usage",
        "core.vouchers",
        "ref.chips",
        "marts.capacity_forecast",
        "meta.columns",
    } <= set(declared.values())


def materializations(demo: Deployment, key: dg.AssetKey) -> list[dg.EventLogRecord]:
    """Every materialization record of an asset, newest first."""
    return list(demo.instance.fetch_materializations(key, limit=10_000).records)


def test_materializations_report_rows_span_and_late_schemas(
    demo: Deployment, specs: dict[dg.AssetKey, dg.AssetSpec]
) -> None:
    """The latest materializations after the demo refresh: row counts as the lake counts them, each partition's
    rows and the run's partition range, the span of the dated tables' days, and the schema of the tables whose
    columns only their query sets."""
    expected = dictionary(demo)
    checked = set()
    for key, spec in sorted(specs.items()):
        table = lake_table(key)
        history = materializations(demo, key)
        records = {}  # the newest record of each partition (None: unpartitioned)
        for record in history:
            records.setdefault(record.partition_key, record)
        if table is None or not records:
            continue
        checked.add(key)
        partitioned = spec.partitions_def is not None
        columns = {r[0] for r in demo.query(f"DESCRIBE {table}")}
        own = ""  # the rows of the table this asset publishes
        if "partition_key" in columns:
            own = f"WHERE partition_key {'<>' if partitioned else '='} '{UNPARTITIONED}'"
        newest = history[0].asset_materialization.metadata
        assert newest[ROW_COUNT].value == demo.query(f"SELECT count(*) FROM {table} {own}")[0][0], key
        if partitioned:
            per_partition = dict(demo.query(f"SELECT partition_key, count(*) FROM {table} GROUP BY ALL"))
            for partition, record in records.items():
                metadata = record.asset_materialization.metadata
                rows = per_partition.get(partition, 0)
                assert metadata[PARTITION_ROW_COUNT].value == rows, (key, partition)
                in_run = [r.partition_key for r in history if r.run_id == record.run_id]
                assert (metadata[PARTITION_START].value, metadata[PARTITION_END].value) == (
                    min(in_run),
                    max(in_run),
                )
        elif DATED_BY.get(table) in columns:
            column = DATED_BY[table]
            first, last = demo.query(f'SELECT min("{column}"), max("{column}") FROM {table} {own}')[0]
            assert (newest[DATA_START].value, newest[DATA_END].value) == (first.isoformat(), last.isoformat())
        if table in TABLES and not TABLES[table].columns:
            assert columns_of(newest[COLUMN_SCHEMA].value) == expected[table], table
    assert dg.AssetKey(["core", "compute_usage"]) in checked
    assert dg.AssetKey(["ingest", "telecom_sh"]) in checked
    assert dg.AssetKey(["marts", "chip_mix"]) in checked
