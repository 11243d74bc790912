"""The embedded Dagster instance's event log: Dagster's own SQLite event log storage (a file per run and an index
file under the instance directory), with each file's connection kept open from one event to the next.

Dagster's class opens an engine and a connection for every event it writes or reads, and a SQLite connection
that closes checkpoints its write-ahead log into the file: about 15 ms an event, and a partitioned refresh logs
thousands (a materialization and a planned one per asset partition, and each step's own). With the connection kept
open an event costs about 5 ms; each write is still committed (and synced) before the event counts as logged.
Dagster's run-log watcher (the UI's live log) listens for changes of a run's file, so a write touches the file's
modification time, as the checkpoint of a closing connection did."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy

# the module dagster.yaml's `event_log_storage` setting names for the SQLite event log, and its config record
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy.pool import StaticPool

# Files kept open at once: the index file and the files of the last few runs (a run writes only its own).
OPEN_FILES = 6
BUSY_TIMEOUT_SECONDS = 60  # how long a write waits for another process's write to the same file


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, its files' connections kept open (at most OPEN_FILES at once)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, sqlalchemy.Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> KeptOpenSqliteEventLogStorage:
        """The storage of a dagster.yaml `event_log_storage` entry (config: base_dir)."""
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sqlalchemy.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn:
                written = conn.connection.dbapi_connection.total_changes
                with conn.begin():
                    yield conn
                if conn.connection.dbapi_connection.total_changes != written:
                    os.utime(self.path_for_shard(shard))  # wakes the run-log watchers of other processes

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
