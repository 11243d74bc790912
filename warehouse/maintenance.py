"""DuckLake's own maintenance of the lake: inlined rows flushed, small files merged, old snapshots expired."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from warehouse.lake import sql_str
from warehouse.transactions import LAKE, commit_lock


@dataclass(frozen=True)
class Maintenance:
    """What one maintenance pass of the lake did."""

    files_before: int
    files_after: int
    files_merged: int
    snapshots_expired: int
    files_deleted: int


def maintain(con: duckdb.DuckDBPyConnection, retain_days: int) -> Maintenance:
    """Keep the lake fast with DuckLake's own maintenance: write rows inlined in the catalog to data files, merge
    small adjacent data files (snapshots, time
    travel and change feeds stay as they were), rewrite files that deletes have mostly emptied, expire snapshots
    older than `retain_days` (they can no longer be read with AT (VERSION => n)) and delete the files no
    snapshot needs any more (those unused for over a day, so that no running query loses a file it reads)."""
    metadata = f"__ducklake_metadata_{LAKE}"
    live = f"SELECT count(*) FROM {metadata}.ducklake_data_file WHERE end_snapshot IS NULL"
    with commit_lock(con):
        con.execute(f"CALL ducklake_flush_inlined_data({sql_str(LAKE)})").fetchall()
        before = int(con.execute(live).fetchone()[0])
        merged = con.execute(f"CALL ducklake_merge_adjacent_files({sql_str(LAKE)})").fetchall()
        con.execute(f"CALL ducklake_rewrite_data_files({sql_str(LAKE)})").fetchall()
        expired = con.execute(
            f"CALL ducklake_expire_snapshots({sql_str(LAKE)}, older_than => now() - INTERVAL {int(retain_days)} DAY)"
        ).fetchall()
        day_old = "older_than => now() - INTERVAL 1 DAY"
        deleted = con.execute(f"CALL ducklake_cleanup_old_files({sql_str(LAKE)}, {day_old})").fetchall()
        deleted += con.execute(f"CALL ducklake_delete_orphaned_files({sql_str(LAKE)}, {day_old})").fetchall()
        after = int(con.execute(live).fetchone()[0])
    return Maintenance(before, after, sum(int(r[2]) for r in merged), len(expired), len(deleted))
