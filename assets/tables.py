"""Every table of the lakehouse: names, typed shapes (from their declarations: data_contracts/tables and the SQL
marts' YAML) and which are views."""

from __future__ import annotations

import duckdb

from assets.contracts.declared import declared, declared_tables
from assets.ingest.compile import output_columns
from assets.ingest.periods import PERIOD_COLUMNS
from assets.ingest.targets import TARGETS
from assets.marts.declarations import sql_marts
from warehouse.catalog import TableDef, create_tables

# A charge line's id: the source, the landed file and the row in it (and, for a record that yields several
# lines, the line's name; for the second and later daily parts of a line that spans days, the part).
CHARGE_LINE_ID = (
    "md5(concat_ws('|', source_name, source_file, CAST(source_row AS VARCHAR), "
    "CASE WHEN period_part > 1 THEN CAST(period_part AS VARCHAR) END, source_line))"
)


def kind_columns(kind: str) -> dict[str, str]:
    """Columns and SQL types of the lake files that ingest writes for a kind (typed as the kind's published
    table declares them)."""
    names = [*output_columns(kind), *(PERIOD_COLUMNS if kind == "usage" else ())]
    return declared(TARGETS[kind].table).typed(*names)


SOURCES_TABLE = "meta.sources"  # the source specs (written by the meta/sources asset)


def ingest_table(source_name: str) -> str:
    """Name of the lake table holding the loaded rows of one source."""
    return f"ingest.{source_name}"


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


# Tables defined by their asset as views over other lake tables (never created empty).
VIEWS = ("core.compute_usage",)


def _tables() -> dict[str, TableDef]:
    tables = [TableDef(t.table, t.types, view=t.table in VIEWS) for t in declared_tables().values()]
    tables += [TableDef(m.table, m.types, view=m.view) for m in sql_marts().values()]
    return {t.name: t for t in sorted(tables, key=lambda t: t.name)}


TABLES: dict[str, TableDef] = _tables()


def create_lake_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every fixed-shape table the lake is missing."""
    create_tables(con, TABLES.values())
