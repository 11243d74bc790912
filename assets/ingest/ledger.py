"""audit.ingest_ledger: one row per landed file, and the file fingerprints that make re-runs no-ops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import duckdb
import pyarrow as pa
import xxhash

from assets.contracts.declared import declared
from warehouse.ducklake import qualified
from warehouse.lake import Location

LEDGER_TABLE = "audit.ingest_ledger"
_ARROW = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DECIMAL(18,4)": pa.decimal128(18, 4),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
}
# The ledger's rows as Arrow writes them, typed as its declaration gives them.
LEDGER_SCHEMA = pa.schema([(c, _ARROW[t]) for c, t in declared(LEDGER_TABLE).types.items()])


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
    vanished_at: object = None  # when the ingest first found the file gone from landing (its rows are kept)
    arrival: int | None = None  # the order in which the source's files were first seen (1, 2, ...)


def file_checksum(location: Location, path: str) -> str:
    """XXH3-128 of a landed file's bytes, streamed (identifies identical deliveries; not a security hash)."""
    digest = xxhash.xxh3_128()
    with location.fs.open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_ledger(
    con: duckdb.DuckDBPyConnection, source_name: str, keys: Sequence[str] | None = None
) -> list[LedgerRow]:
    """The ledger rows recorded for a source (those of the partitions `keys` when given), on a writer's
    connection (the lake's tables made)."""
    where = "source_name = ?"
    if keys is not None:
        where += f" AND partition_key IN ({', '.join('?' for _ in keys)})" if keys else " AND false"
    table = con.execute(
        f"SELECT * FROM {qualified(LEDGER_TABLE)} WHERE {where} ORDER BY source_file",
        [source_name, *(keys or [])],
    ).to_arrow_table()
    names = [f.name for f in fields(LedgerRow)]
    return [LedgerRow(**{n: row.get(n) for n in names}) for row in table.to_pylist()]


def last_arrival(con: duckdb.DuckDBPyConnection, source_name: str) -> int:
    """The highest arrival number of a source's files (0 before the first), on a writer's connection."""
    query = f"SELECT coalesce(max(arrival), 0) FROM {qualified(LEDGER_TABLE)} WHERE source_name = ?"
    return int(con.execute(query, [source_name]).fetchone()[0])


def record_ledger(con: duckdb.DuckDBPyConnection, rows: list[LedgerRow], replace: bool = True) -> None:
    """Put ledger rows in place of the rows of the same files (call inside a lake commit); `replace=False`
    when none of the files has a row yet."""
    if not rows:
        return
    table = pa.Table.from_pylist([asdict(r) for r in rows], schema=LEDGER_SCHEMA)
    con.register("__ledger_rows", table)
    try:
        if replace:
            con.execute(
                f"DELETE FROM {qualified(LEDGER_TABLE)} l WHERE EXISTS (SELECT 1 FROM __ledger_rows n "
                "WHERE l.source_name = n.source_name AND l.source_file = n.source_file)"
            )
        con.execute(f"INSERT INTO {qualified(LEDGER_TABLE)} SELECT * FROM __ledger_rows ORDER BY source_file")
    finally:
        con.unregister("__ledger_rows")
