"""Write transactions on the lake: one DuckLake commit per change, tagged with the refresh's run id, and
writers of a SQLite catalog taking turns; reads grouped in one transaction."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from filelock import FileLock

from warehouse.lake import sql_str

LAKE = "lake"  # the name every connection attaches the lake under
RUN_ID_VARIABLE = "computeflow_run_id"


def tag_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Tag every later commit of this connection with a run id."""
    con.execute(f"SET VARIABLE {RUN_ID_VARIABLE} = {sql_str(run_id)}")


_COMMIT_LOCKS: dict[str, FileLock] = {}


def commit_lock(con: duckdb.DuckDBPyConnection) -> contextlib.AbstractContextManager:
    """What serialises write transactions on the lake of `con`: for a SQLite catalog, a lock file beside it
    held from BEGIN to COMMIT (SQLite takes one writer at a time, and a transaction that starts only after the
    previous one committed sees its rows: a second refresh skips the files the first one loaded); nothing for
    PostgreSQL, where DuckLake resolves concurrent commits itself."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [LAKE]).fetchone()
    path = row[0] if row and row[0] else ""
    if not path.startswith("sqlite:"):
        return contextlib.nullcontext()
    lock_path = path.removeprefix("sqlite:") + ".lock"
    if lock_path not in _COMMIT_LOCKS:
        _COMMIT_LOCKS[lock_path] = FileLock(lock_path, thread_local=False)
    return _COMMIT_LOCKS[lock_path]


@contextmanager
def commit(con: duckdb.DuckDBPyConnection, message: str) -> Iterator[None]:
    """One DuckLake transaction: everything inside commits together or not at all.

    The snapshot carries the message and the run id set on the connection (RUN_ID_VARIABLE); lake.snapshots()
    shows both, which tags what a refresh published. Writers of a SQLite catalog take turns (`commit_lock`).
    """
    with commit_lock(con), _transaction(con, message):
        yield


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, message: str) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        run_id = con.execute(f"SELECT getvariable('{RUN_ID_VARIABLE}')").fetchone()[0]
        extra = json.dumps({"run_id": run_id} if run_id else {})
        con.execute(
            f"CALL {LAKE}.set_commit_message('computeflow', {sql_str(message)}, extra_info => {sql_str(extra)})"
        )
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT has ended the transaction
            con.execute("ROLLBACK")
        raise


@contextmanager
def read_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Several reads in one transaction: one snapshot of the lake, and its catalog looked up once instead of
    once per statement (which is most of what a small read costs). Writes nothing; never commits a snapshot."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
