"""The embedded Dagster instance's event log: Dagster's own SQLite event log storage (a file per run and an index
file under the instance directory), with each file's connection kept open from one event to the next.

Dagster's class opens an engine and a connection for every event it writes or reads, and a SQLite connection
that closes checkpoints its write-ahead log into the file: about 15 ms an event, and a partitioned refresh logs
thousands (a materialization and a planned one per asset partition, and each step's own). With the connection kept
open an event costs about 5 ms; each write is still committed (and synced) before the event counts as logged.
The events Dagster hands over as a batch (a run's planned materializations, a step's materializations over many
partitions) are written in one transaction per file. Dagster asks whether the index file has a table or a column
before many writes (opening another engine to the file each time); what the file has it keeps (migrations only
add), so a table or column found is remembered until a wipe or an upgrade. Dagster's run-log watcher (the UI's
live log) listens for changes of a run's file, so a write touches the file's modification time, as the checkpoint
of a closing connection did."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import dagster as dg
import sqlalchemy

# the module dagster.yaml's `event_log_storage` setting names for the SQLite event log, and its config record
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy.pool import StaticPool

# Files kept open at once: the index file and the files of the last few runs (a run writes only its own).
OPEN_FILES = 6
BUSY_TIMEOUT_SECONDS = 60  # how long a write waits for another process's write to the same file
# Dagster's setting (an environment variable) under which it hands asset events over in batches
# (store_event_batch), and the largest batch: a run's planned materializations, a step's partitions.
BATCH_SIZE_VARIABLE, BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE", 10_000


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, its files' connections kept open (at most OPEN_FILES at once)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, sqlalchemy.Engine] = OrderedDict()
        self._batch = threading.local()  # the open transactions of a store_event_batch, on its thread
        self._found: set[tuple[str, str]] = set()  # the index file's tables and asset key columns found
        os.environ.setdefault(BATCH_SIZE_VARIABLE, str(BATCH_SIZE))  # read by Dagster at each event
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> KeptOpenSqliteEventLogStorage:
        """The storage of a dagster.yaml `event_log_storage` entry (config: base_dir)."""
        return cls(inst_data=inst_data, **config_value)

    def store_event_batch(self, events: Sequence[dg.EventLogEntry]) -> None:
        """Store events in one transaction per file instead of one per event (Dagster hands a step's partition
        materializations and a run's planned materializations over as a batch when DAGSTER_EVENT_BATCH_SIZE is
        set, as this storage sets it); if any fails, none is stored (Dagster then stores them one by one)."""
        with self._db_lock, ExitStack() as stack:
            self._batch.open = (stack, {})
            try:
                for event in events:
                    self.store_event(event)
            finally:
                self._batch.open = None

    def has_table(self, table_name: str) -> bool:
        """Whether the index file has the table (asked of the file until it has it)."""
        parent = super().has_table
        return self._has(("table", table_name), lambda: parent(table_name))

    def _has_asset_key_col_on_connection(self, conn: sqlalchemy.Connection, column_name: str) -> bool:
        """Whether the index file's asset key table has the column (asked of the file until it has it)."""
        parent = super()._has_asset_key_col_on_connection
        return self._has(("asset_keys column", column_name), lambda: parent(conn, column_name))

    def _has(self, what: tuple[str, str], ask: Callable[[], bool]) -> bool:
        if what not in self._found and ask():
            self._found.add(what)
        return what in self._found

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sqlalchemy.Connection]:
        batch = getattr(self._batch, "open", None)
        if batch is not None:  # within store_event_batch on this thread: the lock is held, transactions open
            stack, connections = batch
            if shard not in connections:
                connections[shard] = self._begin(stack, shard)
            yield connections[shard]
            return
        with self._db_lock, ExitStack() as stack:
            yield self._begin(stack, shard)

    def _begin(self, stack: ExitStack, shard: str) -> sqlalchemy.Connection:
        """A connection to a file in a transaction that commits (or rolls back) when `stack` closes; a commit
        that wrote touches the file's modification time, which wakes the run-log watchers of other processes."""
        conn = stack.enter_context(self._engine(shard).connect())
        written = conn.connection.dbapi_connection.total_changes
        stack.callback(self._touch_if_written, conn, shard, written)
        stack.enter_context(conn.begin())
        return conn

    def _touch_if_written(self, conn: sqlalchemy.Connection, shard: str, written: int) -> None:
        if conn.connection.dbapi_connection.total_changes != written:
            os.utime(self.path_for_shard(shard))

    def _engine(self, shard: str) -> sqlalchemy.Engine:
        """The open engine of a file (its schema created the first time), the least recently used one closed
        when more than OPEN_FILES are open."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = sqlalchemy.create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,  # one connection, used by one thread at a time (under _db_lock)
                connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_FILES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def _close_files(self) -> None:
        self._found.clear()  # a wipe or an upgrade: the schema is asked of the files again
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        """Delete every event (Dagster removes the run files: their open connections are closed first)."""
        self._close_files()
        super().wipe()

    def upgrade(self) -> None:
        """Migrate the files' schema, on connections opened afresh."""
        self._close_files()
        super().upgrade()

    def dispose(self) -> None:
        """Close the open files and stop the run-log watchers."""
        self._close_files()
        super().dispose()
