"""Ingest one partition of one source: landed files -> lake Parquet + audit quarantine + ledger."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import duckdb

from assets.ingest.ahead import StagingAhead, ToStage, file_stamp, stage_landed
from assets.ingest.dedup import exclude_repeats
from assets.ingest.ledger import LedgerRow, file_checksum, last_arrival, read_ledger, record_ledger
from assets.ingest.periods import daily_parts, whole_lines
from assets.ingest.readers import (
    SourceFileError,
    drop_scratch,
    make_scratch,
)
from assets.ingest.refdata import RefSnapshot
from assets.ingest.spec import SourceSpec
from assets.ingest.staging import FileStager, Staged, loaded_rows, numbered_scan
from assets.partitions import today_in_shanghai
from assets.tables import TABLES, TableDef, ingest_table, kind_columns
from warehouse.catalog import create_tables
from warehouse.ducklake import qualified
from warehouse.lake import Location, remove_orphans, sql_array, sql_ident, sql_str, sql_values
from warehouse.transactions import commit

ENGINE_VERSION = "5"
UNPARTITIONED = "all"


@dataclass
class PartitionResult:
    """Ledger rows of a partition and the errors that must fail the run."""

    rows: list[LedgerRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changed: bool = False
    # rows can repeat across files (and the partition's exclusion list be non-empty) only where two or more of
    # its files have loaded rows, now or before this run
    across_files: bool = False


@dataclass
class CommitWrites:
    """What a lake commit writes, gathered as its files are decided and written at the end of the commit: one
    statement per table for all its files (a statement costs about as much to plan as a small file's rows cost
    to write)."""

    replaced: list[str] = field(default_factory=list)  # files whose earlier rows are deleted
    loaded: list[Staged] = field(default_factory=list)  # staged files whose loaded rows are inserted
    quarantined: list[tuple[LedgerRow, Staged]] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)
    known: set[str] = field(default_factory=set)  # files the ledger held before the commit
    scratch: list[str] = field(default_factory=list)  # dropped once the commit ends


# A commit takes consecutive partitions of a source, at most this many and this many landed bytes (a larger
# partition commits alone): fewer commits, and what one holds uncommitted stays bounded.
COMMIT_PARTITIONS = 16
COMMIT_BYTES = 64 << 20


def commit_batches(keys: list[str], sizes: dict[str, int]) -> list[list[str]]:
    """The partitions `keys`, in order, grouped into the lake commits that take them (`sizes`: landed bytes)."""
    batches: list[list[str]] = []
    held = 0
    for key in keys:
        if not batches or len(batches[-1]) >= COMMIT_PARTITIONS or held + sizes.get(key, 0) > COMMIT_BYTES:
            batches.append([])
            held = 0
        batches[-1].append(key)
        held += sizes.get(key, 0)
    return batches


def landed_listing(spec: SourceSpec, landing: Location) -> dict[str, dict[str, dict]]:
    """Landed files of a source with their listing entries (size, modification time), grouped by partition key
    (the day in the path, or 'all'), from one listing of the landing glob."""
    grouped: dict[str, dict[str, dict]] = defaultdict(dict)
    for path, info in landing.listing_info(spec.landing.glob).items():
        relative = landing.relative(path)
        key = spec.landing.partition.day_of(relative) if spec.landing.partition else UNPARTITIONED
        if key is not None:
            grouped[key][path] = info
    return dict(grouped)


def landed_files(spec: SourceSpec, landing: Location) -> dict[str, list[str]]:
    """Landed files of a source grouped by partition key (the day in the path, or 'all')."""
    return {key: list(files) for key, files in landed_listing(spec, landing).items()}


def first_partition_day(specs: list[SourceSpec], landing: Location, configured: str | None) -> str:
    """The first day partition: `configured` (COMPUTEFLOW_PARTITION_START) when set, else the first day any
    daily source has landed files for (the partitions span the landed data), else today in Shanghai."""
    if configured:
        return configured
    days = [day for spec in specs if spec.landing.partition for day in landed_files(spec, landing)]
    return min(days) if days else today_in_shanghai()


def _mtime(stamp: tuple[int, object] | None) -> float:
    """A landed file's modification time as seconds (0 when unknown), from its (size, mtime) stamp."""
    value = stamp[1] if stamp else None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, int | float) else 0.0


def _with_rows(rows: Iterable[LedgerRow]) -> int:
    """How many of the files have rows in the source's table."""
    return sum(1 for r in rows if r.status in ("loaded", "empty") and r.rows_loaded)


def file_id(source_file: str) -> str:
    """Stable short id of a landed file, used to name its outputs."""
    return hashlib.sha1(source_file.encode("utf-8")).hexdigest()[:16]


def spec_fingerprint(spec: SourceSpec, ref: RefSnapshot) -> str:
    """What must be unchanged for a processed file to be skipped: spec, reference data, engine."""
    text = spec.model_dump_json() + ref.fingerprint + ENGINE_VERSION
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Ingestor:
    """Loads the files of one source partition with one DuckDB connection that has the lake attached.

    A partition's files end in one lake commit: each file's loaded rows (table ingest.<source>), its
    quarantined rows (audit.quarantine) and its ledger row (audit.ingest_ledger) commit together, so a run
    killed at any point leaves every file either committed whole or not at all.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        spec: SourceSpec,
        landing: Location,
        scratch_base: str,
        run_id: str,
    ) -> None:
        self.con = con
        self.spec = spec
        self.landing = landing
        self.run_id = run_id
        self.scratch_base = os.path.join(scratch_base, "ingest")
        os.makedirs(self.scratch_base, exist_ok=True)
        remove_orphans(self.scratch_base)
        self.table = TableDef(ingest_table(spec.name), kind_columns(spec.kind))
        create_tables(con, [self.table])  # or add the columns a newer version has
        self.ref = RefSnapshot.load(con)
        self.fingerprint = spec_fingerprint(spec, self.ref)
        self._recorded: set[str] = set()
        self._arrival: dict[str, int] = {}
        self._last_arrival: int | None = None  # the source's highest arrival number, read once per ingestor
        self.stager = FileStager(con, spec, self.ref)  # a cursor of its own during run
        self.ahead: StagingAhead | None = None

    def stage_ahead(self, partitions: list[tuple[str, list[str]]]) -> None:
        """Stage the files of the partitions (key, paths) that `run` will be given, after those given before, on
        threads of their own (see assets.ingest.ahead), while `run` writes and commits; files the ledger holds
        with the same bytes are left alone. Partitions must then be run in the order they were given."""
        if self.ahead is None:
            known = {r.source_file: r for r in read_ledger(self.con, self.spec.name)}
            self.ahead = StagingAhead(
                self.con,
                lambda cursor: FileStager(cursor, self.spec, self.ref),
                self.landing,
                self.scratch_base,
                self._row,
                lambda source_file, checksum: self._stands(known.get(source_file), checksum),
            )
        self.ahead.submit(partitions)

    def close(self) -> None:
        """Stop staging ahead, dropping what was staged and not loaded."""
        if self.ahead is not None:
            self.ahead.close()

    def run(self, key: str, paths: list[str]) -> PartitionResult:
        """Ingest a partition in one lake commit; files already loaded with the same fingerprint are not
        loaded again (a partition with nothing new commits nothing).

        Files are read and staged on a connection of their own, outside the lake transaction: a file the
        reader fails on is recorded as failed and the partition's other files still commit."""
        return self._commit([(key, paths)])[0]

    def run_together(self, partitions: list[tuple[str, list[str]]]) -> list[PartitionResult | Exception]:
        """Ingest several partitions, in order, in one lake commit: a commit costs about as much as writing a
        small partition's rows. When that commit fails, each partition is run in a commit of its own, so that
        the one that fails rolls back alone; the exception of a partition that failed takes its place."""
        try:
            return list(self._commit(partitions))
        except Exception as exc:
            if len(partitions) == 1:
                return [exc]
        outcomes: list[PartitionResult | Exception] = []
        for key, paths in partitions:
            try:
                outcomes.append(self.run(key, paths))
            except Exception as exc:  # its commit rolled back: its old rows stay
                outcomes.append(exc)
        return outcomes

    def _commit(self, partitions: list[tuple[str, list[str]]]) -> list[PartitionResult]:
        keys = [key for key, _ in partitions]
        span = keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]}"
        self._writes = CommitWrites()
        with contextlib.closing(self.con.cursor()) as self.stager.stage:
            self.stager.stage.execute("SET TimeZone = 'UTC'")
            try:
                with commit(self.con, f"ingest {self.spec.name} partition {span}"):
                    recorded: dict[str, dict[str, LedgerRow]] = {key: {} for key in keys}
                    for row in read_ledger(self.con, self.spec.name, keys):  # one read for the commit
                        recorded[row.partition_key][row.source_file] = row
                        self._writes.known.add(row.source_file)
                    results = [self._run(key, paths, recorded[key]) for key, paths in partitions]
                    self._write()
                    for key, result in zip(keys, results, strict=True):
                        if result.changed and result.across_files:
                            exclude_repeats(self.con, self.spec, key)
            except Exception:
                self._last_arrival = None  # the arrivals numbered in the rolled-back commit were not kept
                raise
            finally:
                for scratch in self._writes.scratch:
                    drop_scratch(scratch)
                if self.ahead is not None:
                    for _, paths in partitions:
                        self.ahead.discard(paths)
        return results

    def _run(self, key: str, paths: list[str], previous: dict[str, LedgerRow]) -> PartitionResult:
        """The partition's decisions and writes, inside the commit; `previous`: its ledger rows, by file."""
        result = PartitionResult()
        self._recorded = set(previous)
        current = {self.landing.relative(p): p for p in paths}
        # Landing is append-only to the pipeline: a file that vanishes keeps its rows and its ledger row, which
        # records when it was found gone. Taking a delivery back is an explicit withdrawal (see withdraw).
        vanished = [
            previous[f] for f in sorted(set(previous) - set(current)) if previous[f].vanished_at is None
        ]
        if vanished:
            now = datetime.now(UTC)
            self._writes.ledger += [replace(r, vanished_at=now, run_id=self.run_id) for r in vanished]
        outside = {f for f, p in current.items() if not self.landing.contains(p)}
        # (size, mtime) before hashing: a file that changes from here to the end of its load is refused.
        stamps = {f: file_stamp(self.landing, p) for f, p in current.items() if f not in outside}
        checksums = {
            f: file_checksum(self.landing, p) for f, p in sorted(current.items()) if f not in outside
        }
        first_with: dict[str, str] = {}
        duplicates: dict[str, str] = {}
        # Of identical files the one loaded before stays; among new ones the first by path.
        loaded_before = {f for f, r in previous.items() if r.status == "loaded"}
        for source_file in sorted(checksums, key=lambda f: (f not in loaded_before, f)):
            checksum = checksums[source_file]
            if checksum in first_with:
                duplicates[source_file] = first_with[checksum]
            else:
                first_with[checksum] = source_file
        self._arrival = self._arrivals(previous, current, stamps)
        superseded = self.spec.landing.superseded(
            {f: self._arrival[f] for f in current if f not in duplicates}
        )
        for source_file, path in sorted(current.items()):
            old = previous.get(source_file)
            checksum = checksums.get(source_file, "")
            if source_file in outside:
                row = self._refused(key, source_file)
            elif source_file in duplicates:
                detail = f"{source_file}: identical to {duplicates[source_file]}, not loaded twice"
                row = self._set_aside(old, key, source_file, path, checksum, "duplicate", detail)
            elif source_file in superseded:
                detail = f"{source_file}: replaced by the re-delivery {superseded[source_file]}"
                row = self._set_aside(old, key, source_file, path, checksum, "superseded", detail)
            elif self._stands(old, checksum):
                row = self._returned(old)
            else:
                row = self._ingest_file(key, source_file, path, checksum, stamps[source_file])
            result.changed |= row is not old
            result.rows.append(row)
            if row.status == "failed" or row.status == "rejected":
                result.errors.append(row.detail or f"{source_file}: {row.status}")
        result.across_files = max(_with_rows(result.rows), _with_rows(previous.values())) > 1
        return result

    def withdraw(self, source_file: str, reason: str) -> LedgerRow:
        """Take a delivery back, in one lake commit: its loaded and quarantined rows leave the lake, and its
        ledger row says `withdrawn` (its rows counted as held) with the reason. The file, if still in
        landing, is not loaded again unless its bytes change."""
        old = {r.source_file: r for r in read_ledger(self.con, self.spec.name)}.get(source_file)
        if old is None:
            raise SourceFileError(f"{source_file}: source {self.spec.name} has no such file in its ledger")
        row = replace(
            old,
            status="withdrawn",
            rows_loaded=0,
            rows_quarantined=0,
            rows_skipped=0,
            rows_held=old.rows_read,
            money_loaded=None,
            output_file=None,
            run_id=self.run_id,
            detail=f"{source_file}: withdrawn ({reason}); it was {old.status}: {old.detail or 'no detail'}",
        )
        with commit(self.con, f"withdraw {self.spec.name} {source_file}"):
            self._drop_outputs([source_file])
            record_ledger(self.con, [row])
            exclude_repeats(self.con, self.spec, old.partition_key)
        return row

    def _arrivals(
        self, previous: dict[str, LedgerRow], current: dict[str, str], stamps: dict[str, tuple[int, object]]
    ) -> dict[str, int]:
        """Each landed file's arrival order: as the ledger first saw it, and for files new to the ledger the
        next numbers, in order of modification time (then path)."""
        known = {f: r.arrival for f, r in previous.items() if r.arrival is not None}
        new = sorted((f for f in current if f not in known), key=lambda f: (_mtime(stamps.get(f)), f))
        if self._last_arrival is None:
            self._last_arrival = last_arrival(self.con, self.spec.name)
        start = self._last_arrival
        self._last_arrival += len(new)
        return known | {f: start + i for i, f in enumerate(new, start=1)}

    def _returned(self, old: LedgerRow) -> LedgerRow:
        """The ledger row of a file whose outcome stands; one that had vanished is in landing again, and one
        recorded before arrivals were kept gets its arrival."""
        arrival = self._arrival[old.source_file]
        if old.vanished_at is None and old.arrival == arrival:
            return old
        row = replace(old, vanished_at=None, arrival=arrival, run_id=self.run_id)
        self._writes.ledger.append(row)
        return row

    def _row(
        self, key: str, source_file: str, file_bytes: int, checksum: str, **outcome: object
    ) -> LedgerRow:
        """A ledger row of this run for one landed file."""
        return LedgerRow(
            source_name=self.spec.name,
            kind=self.spec.kind,
            partition_key=key,
            source_file=source_file,
            file_bytes=file_bytes,
            checksum=checksum,
            fingerprint=self.fingerprint,
            run_id=self.run_id,
            arrival=self._arrival.get(source_file),
            **outcome,
        )

    def _drop_outputs(self, source_files: list[str]) -> None:
        """Delete what the lake holds from landed files: their rows and their quarantined rows."""
        files = sql_values(source_files)
        self.con.execute(f"DELETE FROM {qualified(self.table.name)} WHERE source_file IN ({files})")
        self.con.execute(
            f"DELETE FROM {qualified('audit.quarantine')} WHERE source_name = ? AND source_file IN ({files})",
            [self.spec.name],
        )

    def _record(self, row: LedgerRow, staged: Staged | None = None) -> LedgerRow:
        """One landed file's outcome, written with the commit (see `_write`): its old outputs replaced by its
        loaded and quarantined rows (none when `staged` is None), and its ledger row."""
        if row.source_file in self._recorded:  # a file seen before: what it left is replaced
            self._writes.replaced.append(row.source_file)
        if staged is not None:
            if row.status in ("loaded", "empty") and row.rows_loaded:
                self._writes.loaded.append(staged)
                row.output_file = self.table.name
            if row.rows_quarantined:
                self._writes.quarantined.append((row, staged))
        self._writes.ledger.append(row)
        return row

    def _write(self) -> None:
        """Within the commit, the outputs of all its files: earlier rows of the files it replaces deleted, then
        the loaded rows, the quarantined rows and the ledger rows, one statement each (files in order)."""
        writes = self._writes
        if writes.replaced:
            self._drop_outputs(writes.replaced)
        if writes.loaded:
            loaded = loaded_rows([s.path for s in writes.loaded], self.spec.kind)
            # usage lines over days are split (the query leaves a line within one day whole)
            split = daily_parts if any(s.spans for s in writes.loaded) else whole_lines
            self.con.execute(
                f"INSERT INTO {qualified(self.table.name)} {split(loaded, list(self.table.columns))}"
            )
        if writes.quarantined:
            self._write_quarantine(writes.quarantined)
        record_ledger(
            self.con, writes.ledger, replace=any(r.source_file in writes.known for r in writes.ledger)
        )

    def _ingest_file(
        self, key: str, source_file: str, path: str, checksum: str, stamp: tuple[int, object]
    ) -> LedgerRow:
        row = self._row(key, source_file, stamp[0], checksum)
        ahead = self.ahead.take(path, stamp, checksum) if self.ahead is not None else None
        scratch = ahead.scratch if ahead is not None else make_scratch(self.scratch_base)
        self._writes.scratch.append(scratch)  # the staged file is read when the commit writes
        try:
            if ahead is None:
                (outcome,) = stage_landed(
                    self.stager, self.landing, [ToStage(row, key, path, stamp, scratch)]
                )
                if isinstance(outcome, Exception):
                    raise outcome
                staged = outcome
            elif ahead.error is not None:
                raise ahead.error
            else:  # staged ahead from the same bytes: the same row, with the arrival known now
                row, staged = replace(ahead.row, arrival=row.arrival), ahead.staged
            return self._record(row, staged)
        except SourceFileError as exc:
            failed = self._row(key, source_file, stamp[0], checksum, status="failed", detail=str(exc))
            return self._record(failed)

    def _refused(self, key: str, source_file: str) -> LedgerRow:
        """A landed path that resolves outside the landing zone: never read, and its source's check fails."""
        detail = f"{source_file}: resolves outside the landing zone (a symlink?); it was not read"
        return self._record(self._row(key, source_file, 0, "", status="failed", detail=detail))

    def _stands(self, old: LedgerRow | None, checksum: str) -> bool:
        """Whether a file's previous outcome stands, so it is not read again: a withdrawn delivery stays
        withdrawn until its bytes change; a load stands with the same bytes, spec and reference data."""
        if old is None or old.checksum != checksum:
            return False
        if old.status == "withdrawn":
            return True
        return old.status not in ("superseded", "duplicate") and old.fingerprint == self.fingerprint

    def _set_aside(
        self,
        old: LedgerRow | None,
        key: str,
        source_file: str,
        path: str,
        checksum: str,
        status: str,
        detail: str,
    ) -> LedgerRow:
        """A file that is not loaded (a duplicate or a superseded delivery): no rows in the lake, a ledger row."""
        if old is not None and (old.status, old.checksum, old.detail) == (status, checksum, detail):
            return old
        size = int(self.landing.fs.size(path))
        return self._record(self._row(key, source_file, size, checksum, status=status, detail=detail))

    def _write_quarantine(self, files: list[tuple[LedgerRow, Staged]]) -> None:
        """Insert the quarantined rows of the commit's files into audit.quarantine, in file order."""
        staged = sql_array(s.path for _, s in files)
        parts = [
            f"SELECT partition_key, source_file, source_row, __rule AS rule, CAST(NULL AS VARCHAR) AS detail, "
            f"__raw AS raw_content FROM {numbered_scan(staged)} WHERE __rule IS NOT NULL"
        ]
        rejects = [
            f"({sql_str(row.partition_key)}, {sql_str(row.source_file)}, {r.row}, {sql_str(r.detail)}, "
            f"{sql_str(r.line)})"
            for row, s in files
            for r in s.rejects
        ]
        if rejects:
            parts.append(
                "SELECT k, f, CAST(r AS BIGINT), 'unparsable_record', d, line "
                f"FROM (VALUES {', '.join(rejects)}) v(k, f, r, d, line)"
            )
        columns = ", ".join(sql_ident(c) for c in TABLES["audit.quarantine"].columns)
        query = (
            f"SELECT {sql_str(self.spec.name)} AS source_name, *, {sql_str(self.run_id)} AS run_id "
            f"FROM ({' UNION ALL '.join(parts)}) ORDER BY partition_key, source_file, source_row, rule"
        )
        self.con.execute(f"INSERT INTO {qualified('audit.quarantine')} SELECT {columns} FROM ({query})")
