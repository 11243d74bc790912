"""Reference-table assets; each landed reference file gets its audit.ingest_ledger row."""

import dagster as dg
from dagster import AssetExecutionContext

from assets.ingest.ledger import LedgerRow, file_checksum, write_ledger
from assets.reference.tables import REF_TABLES, ReferenceDataError, RefTable, load_reference_table
from pipelines.resources import Lakehouse


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
        output_file=f"ref/{table.name}.parquet",
    )


def _build(table: RefTable) -> dg.AssetsDefinition:
    origin = f"data_contracts/{table.shipped_file}" if table.shipped_file else f"landing {table.landing_file}"

    @dg.asset(
        key=dg.AssetKey(["ref", table.name]),
        group_name="reference",
        kinds={"duckdb", "parquet"},
        description=f"ref.{table.name}, validated strictly from {origin}",
    )
    def _ref(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        with lakehouse.connect() as con:
            try:
                rows = load_reference_table(con, table, lakehouse.landing, lakehouse.lake)
            except ReferenceDataError as exc:
                if table.landing_file and lakehouse.landing.exists(table.landing_file):
                    row = _ledger_row(table, lakehouse, context.run.run_id)
                    row.status, row.detail, row.output_file = "failed", str(exc), None
                    write_ledger(con, lakehouse.lake, row.source_name, "all", [row])
                raise dg.Failure(description=str(exc)) from None
            if table.landing_file:
                row = _ledger_row(table, lakehouse, context.run.run_id)
                row.rows_read = row.rows_loaded = rows
                previous = lakehouse.lake.exists(
                    f"audit/ingest_ledger/{row.source_name}/partition=all/ledger.parquet"
                )
                if not previous or _changed(con, lakehouse, row):
                    write_ledger(con, lakehouse.lake, row.source_name, "all", [row])
        return dg.MaterializeResult(metadata={"rows": rows, "origin": origin})

    return _ref


def _changed(con, lakehouse: Lakehouse, row: LedgerRow) -> bool:
    from assets.ingest.ledger import read_ledger

    old = read_ledger(con, lakehouse.lake, row.source_name, "all")
    return not old or old[0].checksum != row.checksum or old[0].status != "loaded"


REFERENCE_ASSETS = [_build(t) for t in REF_TABLES.values()]
