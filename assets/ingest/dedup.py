"""Deduplication across deliveries: among loaded rows that share a source's dedup keys the latest delivery wins.

Usage rows left out are listed in audit.usage_dedup_excluded, maintained in the same lake commit as the file
that made them repeats (see assets.core.usage for the view that leaves them out).
"""

from __future__ import annotations

import duckdb

from assets.ingest.compile import output_columns
from assets.ingest.ledger import LEDGER_TABLE
from assets.ingest.periods import FIRST_PART
from assets.ingest.spec import SourceSpec
from assets.tables import TABLES, ingest_table
from warehouse.ducklake import qualified
from warehouse.introspect import lake_tables
from warehouse.lake import first_row, sql_ident, sql_str, sql_values

EXCLUDED = "audit.usage_dedup_excluded"

# Among rows that share dedup keys, the latest delivery wins (window order, first row kept): the later day, then
# the file that arrived later (its ledger arrival; file names never decide), then the later row of that file.
LATEST_FIRST = "partition_key DESC, __arrival DESC NULLS LAST, source_file DESC, source_row DESC"


def keys_repeat(con: duckdb.DuckDBPyConnection, source: str, keys: list[str], where: str = "TRUE") -> bool:
    """Whether any combination of `keys` may occur twice among the rows of a source that pass `where`.

    Groups by one 64-bit hash of the keys (much cheaper than grouping by the key columns); a hash collision
    only makes the caller run its exact deduplication, which then finds nothing to drop.
    """
    columns = ", ".join(sql_ident(k) for k in keys)
    return (
        first_row(
            con,
            f"SELECT 1 FROM {source} WHERE {where} GROUP BY hash({columns}) HAVING count(*) > 1 LIMIT 1",
        )
        is not None
    )


def source_rows(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    partitions: list[str] | None = None,
    dropped: bool = False,
) -> str | None:
    """Loaded rows of one source (of some partitions), deduplicated on its keys: the latest delivery wins.

    With partitions given, rows repeat only within their own partition (a day's re-delivery). `dropped`
    gives the rows deduplication leaves out instead (None when none do). The window runs only when the keys
    do repeat, which a cheap aggregate over the key columns finds first. None when the source has no table.
    """
    table = ingest_table(spec.name)
    if table not in lake_tables(con):
        return None
    columns = ", ".join(sql_ident(c) for c in output_columns(spec.kind))
    scan = f"(SELECT * FROM {qualified(table)}{partition_filter(partitions)})"
    if spec.kind == "usage":  # a line split by day repeats as a whole: its first part stands for it
        scan = f"(SELECT * FROM {scan} WHERE {FIRST_PART})"
    keys = [*(["partition_key"] if partitions is not None else []), *spec.line_keys]
    repeats = bool(spec.dedup_keys) and keys_repeat(con, scan, keys)
    if dropped and not repeats:
        return None
    if not repeats:
        return f"SELECT {columns} FROM {scan}"
    arrivals = (
        f"SELECT source_file, max(arrival) AS __arrival FROM {qualified(LEDGER_TABLE)} "
        f"WHERE source_name = {sql_str(spec.name)} GROUP BY source_file"
    )
    window = (
        f"row_number() OVER (PARTITION BY {', '.join(sql_ident(k) for k in keys)} ORDER BY {LATEST_FIRST})"
    )
    return (
        f"SELECT {columns} FROM {scan} LEFT JOIN ({arrivals}) USING (source_file) "
        f"QUALIFY {window} {'>' if dropped else '='} 1"
    )


def partition_filter(partitions: list[str] | None) -> str:
    """A WHERE clause on partition_key (empty for all partitions)."""
    if partitions is None:
        return ""
    return f" WHERE partition_key IN ({sql_values(partitions)})"


def exclude_repeats(con: duckdb.DuckDBPyConnection, spec: SourceSpec, partition: str) -> None:
    """Replace the exclusion list of one usage source partition (call inside the commit that changed it)."""
    if spec.kind != "usage" or not spec.dedup_keys:
        return
    con.execute(
        f"DELETE FROM {qualified(EXCLUDED)} WHERE source_name = ? AND partition_key = ?",
        [spec.name, partition],
    )
    dropped = source_rows(con, spec, [partition], dropped=True)
    if dropped:
        columns = ", ".join(sql_ident(c) for c in TABLES[EXCLUDED].columns)
        con.execute(
            f"INSERT INTO {qualified(EXCLUDED)} SELECT {columns} FROM ({dropped}) ORDER BY source_file, source_row"
        )
