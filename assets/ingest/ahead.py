"""Staging ahead: while the partitions of one commit of a source are decided, written and committed to the lake,
the files of the next ones are staged on threads of their own (a DuckDB cursor each), two tasks at a time, each
task a few files staged together."""

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
from assets.ingest.staging import FileStager, Landed, Staged
from warehouse.lake import Location

Stamp = tuple[int, object]
# Files staged at once: planning a small file's staging query takes most of its time and one core, so the
# staging of many small files is what an ingest step waits for; two threads keep both cores of a small machine
# busy while the ingestor writes.
STAGING_THREADS = 2
TOGETHER_FILES = 8  # files one staging task takes at once


def file_stamp(landing: Location, path: str) -> Stamp:
    """Size and modification time of a landed file."""
    info = landing.fs.info(path)
    return int(info["size"]), info.get("mtime", info.get("LastModified"))


@dataclass(frozen=True)
class ToStage:
    """A landed file to stage: its ledger row, partition key, path in landing, stamp and scratch directory."""

    row: LedgerRow
    key: str
    path: str
    stamp: Stamp
    scratch: str


def stage_landed(
    stager: FileStager, landing: Location, files: list[ToStage]
) -> list[Staged | Exception | None]:
    """Stage landed files, each in its `scratch`, accounting its ledger `row` (see FileStager.stage_files); for
    each file, its staging, None for an empty file (the row says so), or the error: SourceFileError when the
    file cannot be read, or changed after its `stamp` was taken."""
    outcomes: list[Staged | Exception | None] = [None] * len(files)
    landed: dict[int, Landed] = {}
    for i, item in enumerate(files):
        if item.row.file_bytes == 0:
            item.row.status, item.row.detail = "empty", f"{item.row.source_file}: the file is empty"
            continue
        local = item.path
        if not landing.is_local:
            local = os.path.join(item.scratch, "landed" + os.path.splitext(item.path)[1])
            try:
                landing.fs.get_file(item.path, local)
            except Exception as exc:  # this file's, not its neighbours'
                outcomes[i] = exc
                continue
        landed[i] = Landed(item.row, item.key, local, item.scratch)
    for i, outcome in zip(landed, stager.stage_files(list(landed.values())), strict=True):
        if not isinstance(outcome, Exception) and file_stamp(landing, files[i].path) != files[i].stamp:
            outcome = SourceFileError(
                f"{files[i].row.source_file}: the file changed while it was being read (still being written?); "
                "nothing was loaded from it, the next run reads it again"
            )
        outcomes[i] = outcome
    return outcomes


@dataclass
class StagedAhead:
    """A file staged ahead: from which bytes (stamp and checksum), and its row and staged rows, or the error."""

    stamp: Stamp
    checksum: str
    scratch: str
    row: LedgerRow | None = None  # as staging accounted it; the ingestor sets its arrival
    staged: Staged | None = None
    error: Exception | None = None


# A file staged ahead: the task that stages it (with a few others), and its place among the task's files.
Pending = tuple[Future[list[StagedAhead | None]], int]


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
        self._pending: dict[str, Pending] = {}

    def _take_stager(self) -> None:
        self._thread.stager = self._stagers.get_nowait()

    def submit(self, partitions: list[tuple[str, list[str]]]) -> None:
        """Stage the files of `partitions` (key, paths; a partition's files in path order) after those already
        submitted, a few files per task (see FileStager.stage_files): as many tasks as threads, at most
        TOGETHER_FILES files each."""
        files = [
            (key, path) for key, paths in partitions for path in sorted(paths) if path not in self._pending
        ]
        size = min(TOGETHER_FILES, max(1, -(-len(files) // STAGING_THREADS)))
        for start in range(0, len(files), size):
            chunk = files[start : start + size]
            future = self._pool.submit(self._stage, chunk)
            for n, (_, path) in enumerate(chunk):
                self._pending[path] = (future, n)

    def _stage(self, chunk: list[tuple[str, str]]) -> list[StagedAhead | None]:
        staged: list[StagedAhead | None] = []
        todo: list[tuple[StagedAhead, ToStage]] = []
        for key, path in chunk:
            try:
                ahead = self._before(key, path)
            except Exception:  # e.g. gone since it was listed: the ingestor meets it in turn
                ahead = None
            staged.append(ahead[0] if ahead else None)
            if ahead:
                todo.append(ahead)
        try:
            outcomes = stage_landed(self._thread.stager, self._landing, [item for _, item in todo])
        except Exception as exc:  # handed to the ingestor, which handles it as if it had staged the files
            outcomes = [exc] * len(todo)
        for (ahead, item), outcome in zip(todo, outcomes, strict=True):
            if isinstance(outcome, Exception):
                ahead.error = outcome
            else:
                ahead.staged, ahead.row = outcome, item.row
        return staged

    def _before(self, key: str, path: str) -> tuple[StagedAhead, ToStage] | None:
        """What staging a file ahead starts from; None for a file whose previous outcome stands."""
        if not self._landing.contains(path):
            return None
        stamp = file_stamp(self._landing, path)
        checksum = file_checksum(self._landing, path)
        source_file = self._landing.relative(path)
        if self._stands(source_file, checksum):
            return None
        ahead = StagedAhead(stamp, checksum, make_scratch(self._scratch_base))
        row = self._make_row(key, source_file, stamp[0], checksum)
        return ahead, ToStage(row, key, path, stamp, ahead.scratch)

    def take(self, path: str, stamp: Stamp, checksum: str) -> StagedAhead | None:
        """The file's staging done ahead, if it was made from the same bytes; None: stage the file now. The
        caller drops the staging's scratch directory."""
        ahead = _result(self._pending.pop(path, None))
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
        for future, _ in self._pending.values():
            future.cancel()
        self.discard(list(self._pending))
        self._pool.shutdown()
        for cursor in self._cursors:
            cursor.close()


def _result(pending: Pending | None) -> StagedAhead | None:
    """A file's finished staging (waiting for its task); None when there was none, the task was cancelled, or it
    failed before staging (the ingestor then meets the same failure itself)."""
    if pending is None or pending[0].cancelled():
        return None
    with contextlib.suppress(Exception):
        return pending[0].result()[pending[1]]
    return None
