"""Reference-table assets; each landed reference file gets its audit.ingest_ledger row in the same commit."""

import dagster as dg
from dagster import AssetExecutionContext

from assets.ingest.engine import UNPARTITIONED
from assets.ingest.ledger import LedgerRow, file_checksum, read_ledger, record_ledger
from assets.landing_versions import file_version, record_versions
from assets.pools import write_pool
from assets.reference.tables import (
    REF_TABLES,
    ReferenceDataError,
    RefTable,
    create_ref_view,
    stage_reference_table,
    write_staged,
)
from assets.resources import Lakehouse
from assets.table_metadata import add_table_metadata
from pipelines.domains import domain_definitions
from warehouse.transactions import commit


def _ledger_row(table: RefTable, lakehouse: Lakehouse, run_id: str) -> LedgerRow:
    landing = lakehouse.landing
    path = landing.path(table.landing_file or "")
    return LedgerRow(
        source_name=f"ref_{table.name}",
        kind="reference",
        partition_key="all",
        source_file=table.landing_file or "",
        file_bytes=int(landing.fs.size(path)),
        checksum=file_checksum(landing, path),
        fingerprint="",
        run_id=run_id,
        output_file=f"ref.{table.name}",
    )


def _build(table: RefTable) -> dg.AssetsDefinition:
    origin = f"data_contracts/{table.shipped_file}" if table.shipped_file else f"landing {table.landing_file}"

    @dg.asset(
        key=dg.AssetKey(["ref", table.name]),
        group_name="reference",
        kinds={"duckdb", "ducklake"},
        description=f"ref.{table.name}, validated strictly from {origin}",
        pool=write_pool(dg.AssetKey(["ref", table.name])),
    )
    def _ref(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        version = file_version(lakehouse.landing, table.landing_file) if table.landing_file else None
        with lakehouse.connect() as con:
            try:
                rows = stage_reference_table(con, table, lakehouse.landing)
            except ReferenceDataError as exc:
                if table.landing_file and lakehouse.landing.exists(table.landing_file):
                    row = _ledger_row(table, lakehouse, context.run.run_id)
                    row.status, row.detail, row.output_file = "failed", str(exc), None
                    with commit(con, f"reference {table.name} failed"):
                        record_ledger(con, [row])
                raise dg.Failure(description=str(exc)) from None
            with commit(con, f"reference {table.name}"):
                rewritten = write_staged(con, table)
                if table.landing_file:
                    row = _ledger_row(table, lakehouse, context.run.run_id)
                    row.rows_read = row.rows_loaded = rows
                    old = read_ledger(con, row.source_name)
                    if not old or old[0].checksum != row.checksum or old[0].status != "loaded":
                        record_ledger(con, [row])
            # the process's view ref_<name> reads the table now that it exists
            create_ref_view(con, table.name)
            add_table_metadata(context, con, f"ref.{table.name}")
        if version:
            record_versions(context, {UNPARTITIONED: version})
        return dg.MaterializeResult(metadata={"origin": origin, "rewritten": rewritten})

    return _ref


@dg.definitions
def defs() -> dg.Definitions:
    """A reference-table asset per shipped or landed reference file."""
    return domain_definitions([_build(t) for t in REF_TABLES.values()])
