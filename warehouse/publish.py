"""Publish protocol: build the next warehouse file beside the served one, then swap it in atomically.

Readers open the served file read-only. A refresh never writes to it: it builds `.<name>.next-*` in the same
directory and renames it over the served file, so a reader sees the old warehouse or the new one, never a
half-built one, and never blocks the refresh (a reader that opened the old file keeps reading it).
Publishers are serialised by an exclusive lock file beside the warehouse.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.catalog import TABLES
from warehouse.lake import Location, scalar


@contextmanager
def publish_lock(warehouse_path: Path, wait: bool = True) -> Iterator[None]:
    """Hold the exclusive publish lock of a warehouse (waits, or raises BlockingIOError when wait=False)."""
    lock_path = warehouse_path.with_name(warehouse_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(lake: Location, warehouse_path: Path, names: list[str] | None = None) -> dict[str, int]:
    """Copy the lake's tables into a new DuckDB file and swap it in; returns rows per table."""
    counts: dict[str, int] = {}
    with publish_lock(warehouse_path):
        for leftover in warehouse_path.parent.glob(f".{warehouse_path.name}.next-*"):
            leftover.unlink()  # only the lock holder builds a next file: these are from a killed publisher
        staging = warehouse_path.with_name(f".{warehouse_path.name}.next-{uuid.uuid4().hex[:12]}")
        try:
            con = duckdb.connect(str(staging))
            con.execute("SET TimeZone = 'UTC'")
            try:
                lake.attach(con)
                for name in names or sorted(TABLES):
                    table = TABLES[name]
                    if not table.columns and not table.files(lake):
                        continue
                    schema = name.split(".")[0]
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    con.execute(f"CREATE TABLE {name} AS SELECT * FROM {table.source(lake)}")
                    counts[name] = int(scalar(con, f"SELECT count(*) FROM {name}"))
                con.execute("CHECKPOINT")
            finally:
                con.close()
            os.replace(staging, warehouse_path)
        finally:
            for leftover in (staging, staging.with_name(staging.name + ".wal")):
                if leftover.exists():
                    leftover.unlink()
    return counts
