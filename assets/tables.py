"""Every table of the lakehouse: names, typed shapes (from the ingest targets, ledger, reference and capacity
definitions) and which are views."""

from __future__ import annotations

import duckdb

from assets.capacity.tables import CAPACITY_TABLES
from assets.ingest.compile import output_columns
from assets.ingest.enrich import DERIVED
from assets.ingest.ledger import LEDGER_SCHEMA
from assets.ingest.periods import PERIOD_COLUMNS
from assets.ingest.targets import TARGETS
from assets.marts.declarations import sql_marts
from assets.reference.tables import REF_TABLES
from assets.subsidy.checkpoints import CHECKPOINTS, TABLE_COLUMNS
from warehouse.catalog import TableDef, create_tables

_ARROW_SQL = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "decimal128(18, 4)": "DECIMAL(18,4)",
    "timestamp[us, tz=UTC]": "TIMESTAMPTZ",
}
LINEAGE = {
    "source_name": "VARCHAR",
    "source_file": "VARCHAR",
    "source_row": "BIGINT",
    "partition_key": "VARCHAR",
}


# A charge line's id: the source, the landed file and the row in it (and, for a record that yields several
# lines, the line's name; for the second and later daily parts of a line that spans days, the part).
CHARGE_LINE_ID = (
    "md5(concat_ws('|', source_name, source_file, CAST(source_row AS VARCHAR), "
    "CASE WHEN period_part > 1 THEN CAST(period_part AS VARCHAR) END, source_line))"
)


def kind_columns(kind: str) -> dict[str, str]:
    """Columns and SQL types of the lake files that ingest writes for a kind."""
    types = {
        **TARGETS[kind].inputs,
        **DERIVED[kind],
        **LINEAGE,
        "raw_chip": "VARCHAR",
        "source_line": "VARCHAR",
    }
    return {c: types[c] for c in output_columns(kind)} | (PERIOD_COLUMNS if kind == "usage" else {})


QUARANTINE_COLUMNS = {
    "source_name": "VARCHAR",
    "partition_key": "VARCHAR",
    "source_file": "VARCHAR",
    "source_row": "BIGINT",
    "rule": "VARCHAR",
    "detail": "VARCHAR",
    "raw_content": "VARCHAR",
    "run_id": "VARCHAR",
}

CATALOG_HISTORY = {
    "valid_from": "DATE",
    "valid_to": "DATE",
    "is_current": "BOOLEAN",
    "is_removed": "BOOLEAN",
    "license_spdx": "VARCHAR",
    "commercial_use": "BOOLEAN",
    "unmapped_licenses": "BIGINT",
    "modality_norm": "VARCHAR[]",
    "language_codes": "VARCHAR[]",
    "programming_languages": "VARCHAR[]",
    "task_categories": "VARCHAR[]",
}

DATASET_TERMS = {
    "facet": "VARCHAR",
    "raw_value": "VARCHAR",
    "normalised_value": "VARCHAR",
    "detail": "VARCHAR",
    "method": "VARCHAR",
    "datasets": "BIGINT",
}


# The data dictionary (written from the contract suites by the meta/columns asset).
DICTIONARY_COLUMNS = {
    "table_name": "VARCHAR",
    "table_description": "VARCHAR",
    "column_name": "VARCHAR",
    "ordinal": "INTEGER",
    "data_type": "VARCHAR",
    "meaning": "VARCHAR",
}


# The source specs (written by the meta/sources asset).
SOURCES_TABLE = "meta.sources"
SOURCE_COLUMNS = {
    "source_name": "VARCHAR",
    "kind": "VARCHAR",
    "provider_id": "VARCHAR",
    "is_sample": "BOOLEAN",
    "provenance": "VARCHAR",
    "description": "VARCHAR",
}


# Usage rows that a later delivery repeats under its source's dedup keys (written by the core assets).
DEDUP_EXCLUDED = {
    "source_name": "VARCHAR",
    "partition_key": "VARCHAR",
    "source_file": "VARCHAR",
    "source_row": "BIGINT",
}


def ingest_table(source_name: str) -> str:
    """Name of the lake table holding the loaded rows of one source."""
    return f"ingest.{source_name}"


# The marts computed in Python (the SQL marts are declared in warehouse/sql/<schema>/<name>.yaml).
PYTHON_MARTS = ("subsidy_attribution", "subsidy_unattributed", "voucher_balances")


# The day (or month) that dates the rows of a table built from day-partitioned deliveries: a materialization of
# the table reports the span of its data (assets.table_metadata); the subsidy marts rewrite days by it.
DATED_BY = {
    "core.compute_usage": "charge_date",
    "core.data_transfers": "transfer_date",
    "core.dataset_catalog": "snapshot_date",
    "core.vouchers": "issued_date",
    "exports.focus_cost_and_usage": "x_ChargeDate",
    "marts.capacity_demand_daily": "usage_date",
    "marts.capacity_forecast": "forecast_date",
    "marts.capacity_supply_daily": "supply_date",
    "marts.chip_mix": "usage_date",
    "marts.cost_reduction_monthly": "month",
    "marts.network_savings": "transfer_date",
    "marts.queue_wait": "submit_date",
    "marts.subsidy_attribution": "charge_date",
    "marts.subsidy_unattributed": "charge_date",
    "marts.utilization_daily": "usage_date",
    "marts.voucher_balances": "balance_date",
}

# Published tables assembled from more than one asset (asset key paths).
TABLE_ASSETS = {
    "core.compute_usage": (("core", "compute_usage"), ("core", "compute_usage_statements")),
    "meta.subsidy_checkpoints": (("marts", "subsidy_attribution"),),
}


def _tables() -> dict[str, TableDef]:
    tables = [
        TableDef("core.compute_usage", {"charge_line_id": "VARCHAR", **kind_columns("usage")}, view=True),
        TableDef("core.data_transfers", kind_columns("transfers")),
        TableDef(
            "core.dataset_catalog", {**kind_columns("catalog"), "snapshot_date": "DATE", **CATALOG_HISTORY}
        ),
        TableDef("core.dataset_terms", DATASET_TERMS),
        TableDef("core.vouchers", kind_columns("vouchers")),
        TableDef("audit.ingest_ledger", {f.name: _ARROW_SQL[str(f.type)] for f in LEDGER_SCHEMA}),
        TableDef("audit.quarantine", QUARANTINE_COLUMNS),
        TableDef("audit.usage_dedup_excluded", DEDUP_EXCLUDED),
        *(TableDef(f"marts.{m}", {}) for m in PYTHON_MARTS),
        *(
            TableDef(m.table, {c: col.type for c, col in m.columns.items()}, view=m.view)
            for m in sql_marts().values()
        ),
        *(TableDef(t, c) for t, c in CAPACITY_TABLES.items()),
    ]
    tables += [TableDef(f"ref.{t.name}", t.columns) for t in REF_TABLES.values()]
    tables.append(TableDef("meta.columns", DICTIONARY_COLUMNS))
    tables.append(TableDef(SOURCES_TABLE, SOURCE_COLUMNS))
    tables.append(TableDef(CHECKPOINTS, TABLE_COLUMNS))
    return {t.name: t for t in tables}


TABLES: dict[str, TableDef] = _tables()


def create_lake_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every fixed-shape table the lake is missing."""
    create_tables(con, TABLES.values())
