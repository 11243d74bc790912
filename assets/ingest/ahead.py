"""Staging ahead: while the partitions of one commit of a source are decided, written and committed to the lake,
the files of the next ones are staged on threads of their own (a DuckDB cursor each), two files at a time."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import duckdb

from assets.ingest.ledger import LedgerRow, file_checksum
from assets.ingest.readers import SourceFileError, drop_scratch, make_scratch
from assets.ingest.staging import FileStager, Staged
from warehouse.lake import Location

Stamp = tuple[int, object]
# Files staged at once: planning a small file's staging query takes most of its time and one core, so the
# staging of many small files is what an ingest step waits for; two threads keep both cores of a small machine
# busy while the ingestor writes.
STAGING_THREADS = 2


def file_stamp(landing: Location, path: str) -> Stamp:
    """Size and modification time of a landed file."""
    info = landing.fs.info(path)
    return int(info["size"]), info.get("mtime", info.get("LastModified"))


def stage_landed(
    stager: FileStager, landing: Location, row: LedgerRow, key: str, path: str, stamp: Stamp, scratch: str
) -> Staged | None:
    """Stage one landed file in `scratch`, accounting its ledger `row`; None for an empty file (the row says
    so). SourceFileError when the file cannot be read, or changed after `stamp` was taken."""
    local = path
    if not landing.is_local:
        local = os.path.join(scratch, "landed" + os.path.splitext(path)[1])
        landing.fs.get_file(path, local)
    if row.file_bytes == 0:
        row.status, row.detail = "empty", f"{row.source_file}: the file is empty"
        return None
    staged = stager.stage_file(row, key, local, scratch)
    if file_stamp(landing, path) != stamp:
        raise SourceFileError(
            f"{row.source_file}: the file changed while it was being read (still being written?); "
            "nothing was loaded from it, the next run reads it again"
        )
    return staged


@dataclass
class StagedAhead:
    """A file staged ahead: from which bytes (stamp and checksum), and its row and staged rows, or the error."""

    stamp: Stamp
    checksum: str
    scratch: str
    row: LedgerRow | None = None  # as staging accounted it; the ingestor sets its arrival
    staged: Staged | None = None
    error: Exception | None = None


class StagingAhead:
    """Stages the landed files of upcoming partitions on threads of their own (STAGING_THREADS files at once).

    What it stages is a guess made before the partition's commit: files the ledger already holds with the same
    bytes are skipped. The ingestor takes a file's staging only when the file still has the same stamp and
    checksum; otherwise it stages the file itself, as it does for every file when nothing was staged ahead."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        stager: Callable[[duckdb.DuckDBPyConnection], FileStager],
        landing: Location,
        scratch_base: str,
        make_row: Callable[[str, str, int, str], LedgerRow],
        stands: Callable[[str, str], bool],
    ) -> None:
        self._cursors = [con.cursor() for _ in range(STAGING_THREADS)]
        self._stagers: queue.SimpleQueue[FileStager] = queue.SimpleQueue()
        for cursor in self._cursors:
            cursor.execute("SET TimeZone = 'UTC'")
            self._stagers.put(stager(cursor))
        self._thread = threading.local()  # each thread's stager, taken from the queue as the thread starts
        self._landing = landing
        self._scratch_base = scratch_base
        self._make_row = make_row
        self._stands = stands
        self._pool = ThreadPoolExecutor(
            max_workers=STAGING_THREADS, thread_name_prefix="staging-ahead", initializer=self._take_stager
        )
        self._pending: dict[str, Future[StagedAhead | None]] = {}

    def _take_stager(self) -> None:
        self._thread.stager = self._stagers.get_nowait()

    def submit(self, key: str, paths: list[str]) -> None:
        """Stage the files of partition `key` (in path order) after those already submitted."""
        for path in sorted(paths):
            if path not in self._pending:
                self._pending[path] = self._pool.submit(self._stage, key, path)

    def _stage(self, key: str, path: str) -> StagedAhead | None:
        if not self._landing.contains(path):
            return None
        stamp = file_stamp(self._landing, path)
        checksum = file_checksum(self._landing, path)
        source_file = self._landing.relative(path)
        if self._stands(source_file, checksum):
            return None
        ahead = StagedAhead(stamp, checksum, make_scratch(self._scratch_base))
        row = self._make_row(key, source_file, stamp[0], checksum)
        try:
            ahead.staged = stage_landed(
                self._thread.stager, self._landing, row, key, path, stamp, ahead.scratch
            )
            ahead.row = row
        except Exception as exc:  # handed to the ingestor, which handles it as if it had staged the file
            ahead.error = exc
        return ahead

    def take(self, path: str, stamp: Stamp, checksum: str) -> StagedAhead | None:
        """The file's staging done ahead, if it was made from the same bytes; None: stage the file now. The
        caller drops the staging's scratch directory."""
        future = self._pending.pop(path, None)
        ahead = _result(future)
        if ahead is not None and (ahead.stamp, ahead.checksum) != (stamp, checksum):
            drop_scratch(ahead.scratch)
            return None
        return ahead

    def discard(self, paths: list[str]) -> None:
        """Drop what was staged ahead for `paths` and not taken (files the ingestor did not load)."""
        for path in paths:
            ahead = _result(self._pending.pop(path, None))
            if ahead is not None:
                drop_scratch(ahead.scratch)

    def close(self) -> None:
        """Stop staging ahead and drop what was not taken."""
        for future in self._pending.values():
            future.cancel()
        self.discard(list(self._pending))
        self._pool.shutdown()
        for cursor in self._cursors:
            cursor.close()


def _result(future: Future[StagedAhead | None] | None) -> StagedAhead | None:
    """A finished staging (waiting for it); None when there was none, it was cancelled, or it failed before
    staging (the ingestor then meets the same failure itself)."""
    if future is None or future.cancelled():
        return None
    with contextlib.suppress(Exception):
        return future.result()
    return None
