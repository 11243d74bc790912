"""The published warehouse: every table's lake files and typed empty shape."""

from __future__ import annotations

from dataclasses import dataclass

from assets.capacity.tables import CAPACITY_TABLES
from assets.ingest.compile import DERIVED, output_columns
from assets.ingest.engine import numbered_scan
from assets.ingest.ledger import LEDGER_SCHEMA
from assets.ingest.targets import TARGETS
from assets.reference.tables import REF_TABLES
from warehouse.lake import Location, parquet_scan, sql_ident

_ARROW_SQL = {"string": "VARCHAR", "int64": "BIGINT", "decimal128(18, 4)": "DECIMAL(18,4)"}
LINEAGE = {
    "source_name": "VARCHAR",
    "source_file": "VARCHAR",
    "source_row": "BIGINT",
    "partition_key": "VARCHAR",
}


@dataclass(frozen=True)
class TableDef:
    """A published table: the lake globs it is read from and its columns when the lake has none yet."""

    name: str
    globs: tuple[str, ...]
    columns: dict[str, str]

    def files(self, lake: Location) -> list[str]:
        """The table's lake files."""
        return [f for pattern in self.globs for f in lake.glob(pattern)]

    def empty_select(self) -> str:
        """A typed SELECT with no rows, for tables whose lake files do not exist yet."""
        return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {sql_ident(c)}" for c, t in self.columns.items())

    def source(self, lake: Location) -> str:
        """FROM-clause source of the table's rows in the lake (a typed empty relation when there are none)."""
        return parquet_scan(lake, self.files(lake), self.empty_select())


# A charge line's id: the source, the landed file and the row in it.
CHARGE_LINE_ID = "md5(concat_ws('|', source_name, source_file, CAST(source_row AS VARCHAR)))"


@dataclass(frozen=True)
class SnapshotTableDef(TableDef):
    """A table served straight from frozen ingest files: their loaded rows, minus the rows that deduplication
    across files excluded (listed, like a deletion vector, in the files matched by `excluded`)."""

    excluded: tuple[str, ...] = ()

    def source(self, lake: Location) -> str:
        """Loaded rows of the member files with a charge_line_id, excluded rows removed."""
        files = self.files(lake)
        if not files:
            return f"({self.empty_select()} LIMIT 0)"
        columns = ", ".join(sql_ident(c) for c in self.columns if c != "charge_line_id")
        rows = (
            f"SELECT {CHARGE_LINE_ID} AS charge_line_id, {columns} "
            f"FROM {numbered_scan(lake.listing(files), ', union_by_name = true')} WHERE __rule IS NULL"
        )
        dropped = [f for pattern in self.excluded for f in lake.glob(pattern)]
        if dropped:
            rows = (
                f"SELECT r.* FROM ({rows}) r ANTI JOIN read_parquet({lake.listing(dropped)}) x "
                "USING (source_name, source_file, source_row)"
            )
        return f"({rows})"


def kind_columns(kind: str) -> dict[str, str]:
    """Columns and SQL types of the lake files that ingest writes for a kind."""
    types = {**TARGETS[kind].inputs, **DERIVED[kind], **LINEAGE, "raw_chip": "VARCHAR"}
    return {c: types[c] for c in output_columns(kind)}


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


# Usage rows that a later delivery repeats under its source's dedup keys (written by the core assets).
EXCLUDED_USAGE = (
    "core/compute_usage/day=*/excluded/*.parquet",
    "core/compute_usage_statements/excluded/*.parquet",
)


def _tables() -> dict[str, TableDef]:
    tables = [
        SnapshotTableDef(
            "core.compute_usage",
            ("core/compute_usage/day=*/*.parquet", "core/compute_usage_statements/*.parquet"),
            {"charge_line_id": "VARCHAR", **kind_columns("usage")},
            EXCLUDED_USAGE,
        ),
        TableDef("core.data_transfers", ("core/data_transfers/data.parquet",), kind_columns("transfers")),
        TableDef(
            "core.dataset_catalog",
            ("core/dataset_catalog/data.parquet",),
            {**kind_columns("catalog"), "snapshot_date": "DATE", **CATALOG_HISTORY},
        ),
        TableDef("core.dataset_terms", ("core/dataset_terms/data.parquet",), DATASET_TERMS),
        TableDef("core.vouchers", ("core/vouchers/data.parquet",), kind_columns("vouchers")),
        TableDef(
            "audit.ingest_ledger",
            ("audit/ingest_ledger/*/partition=*/ledger.parquet",),
            {f.name: _ARROW_SQL[str(f.type)] for f in LEDGER_SCHEMA},
        ),
        TableDef("audit.quarantine", ("audit/quarantine/*/partition=*/*.parquet",), QUARANTINE_COLUMNS),
        TableDef(
            "audit.usage_dedup_excluded",
            EXCLUDED_USAGE,
            {"source_name": "VARCHAR", "source_file": "VARCHAR", "source_row": "BIGINT"},
        ),
        *(
            TableDef(f"marts.{m}", (f"marts/{m}/data.parquet",), {})
            for m in (
                "chip_mix",
                "network_savings",
                "network_savings_monthly",
                "dataset_flow",
                "capacity_supply_daily",
                "capacity_demand_daily",
                "utilization_daily",
                "queue_wait",
            )
        ),
        *(
            TableDef(f"marts.{m}", (f"marts/{m}/data.parquet",), {})
            for m in (
                "subsidy_attribution",
                "subsidy_unattributed",
                "voucher_balances",
                "cost_reduction_monthly",
            )
        ),
        TableDef("exports.focus_cost_and_usage", ("exports/focus_cost_and_usage/data.parquet",), {}),
        *(TableDef(t, (f"marts/{t.split('.')[1]}/data.parquet",), c) for t, c in CAPACITY_TABLES.items()),
    ]
    tables += [TableDef(f"ref.{t.name}", (f"ref/{t.name}.parquet",), t.columns) for t in REF_TABLES.values()]
    tables.append(TableDef("meta.columns", ("meta/columns/data.parquet",), DICTIONARY_COLUMNS))
    return {t.name: t for t in tables}


TABLES: dict[str, TableDef] = _tables()
