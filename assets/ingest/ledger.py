"""audit.ingest_ledger: one row per landed file, and the file fingerprints that make re-runs no-ops."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import duckdb
import pyarrow as pa
import xxhash

from warehouse.lake import Location, sql_str

LEDGER_SCHEMA = pa.schema(
    [
        ("source_name", pa.string()),
        ("kind", pa.string()),
        ("partition_key", pa.string()),
        ("source_file", pa.string()),
        ("file_bytes", pa.int64()),
        ("checksum", pa.string()),
        ("fingerprint", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_skipped", pa.int64()),
        ("rows_held", pa.int64()),
        ("money_loaded", pa.decimal128(18, 4)),
        ("status", pa.string()),
        ("detail", pa.string()),
        ("new_columns", pa.string()),
        ("output_file", pa.string()),
        ("run_id", pa.string()),
    ]
)


@dataclass
class LedgerRow:
    """What happened to one landed file."""

    source_name: str
    kind: str
    partition_key: str
    source_file: str
    file_bytes: int
    checksum: str
    fingerprint: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    rows_held: int = 0
    money_loaded: object = None
    status: str = "loaded"
    detail: str | None = None
    new_columns: str | None = None
    output_file: str | None = None
    run_id: str | None = None


def file_checksum(location: Location, path: str) -> str:
    """XXH3-128 of a landed file's bytes, streamed (identifies identical deliveries; not a security hash)."""
    digest = xxhash.xxh3_128()
    with location.fs.open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ledger_path(source_name: str, partition_key: str) -> str:
    """Lake path of the ledger of one source partition."""
    return f"audit/ingest_ledger/{source_name}/partition={partition_key}/ledger.parquet"


def read_ledger(
    con: duckdb.DuckDBPyConnection, lake: Location, source_name: str, key: str
) -> list[LedgerRow]:
    """The ledger rows already recorded for a source partition (empty when none)."""
    relative = ledger_path(source_name, key)
    if not lake.exists(relative):
        return []
    lake.attach(con)
    table = con.sql(
        f"SELECT * FROM read_parquet({sql_str(lake.duckdb_path(lake.path(relative)))})"
    ).to_arrow_table()
    names = [f.name for f in fields(LedgerRow)]
    return [LedgerRow(**{n: row.get(n) for n in names}) for row in table.to_pylist()]


def write_ledger(
    con: duckdb.DuckDBPyConnection, lake: Location, source_name: str, key: str, rows: list[LedgerRow]
) -> None:
    """Write the ledger of a source partition atomically (rows sorted by file)."""
    ordered = sorted(rows, key=lambda r: r.source_file)
    table = pa.Table.from_pylist([asdict(r) for r in ordered], schema=LEDGER_SCHEMA)
    con.register("__ledger_rows", table)
    try:
        lake.write_query(con, "SELECT * FROM __ledger_rows", ledger_path(source_name, key))
    finally:
        con.unregister("__ledger_rows")
