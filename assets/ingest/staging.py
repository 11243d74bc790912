"""Stage one landed file: read it, compile its rows to the canonical columns with a verdict per row, number and
mark repeated rows, and account for it, into a scratch Parquet file in file order (nothing touches the lake)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import duckdb

from assets.ingest.compile import compile_files, compile_source, raw_fields_of
from assets.ingest.dedup import keys_repeat
from assets.ingest.enrich import is_day
from assets.ingest.ledger import LedgerRow
from assets.ingest.periods import SPANS_DAYS
from assets.ingest.readers import RawRelation, SourceFileError, csv_relations, open_raw, reader_error
from assets.ingest.refdata import RefSnapshot
from assets.ingest.spec import SourceSpec
from assets.ingest.units import focus_unit_sql
from warehouse.lake import copy_to_parquet, first_row, sql_array, sql_ident, sql_str

MONEY_COLUMN = {"usage": "billed_cost", "transfers": "cost", "vouchers": "face_value"}
# Ingest files leave source_row NULL where a row's number is its position in the file (see compile_source).
SOURCE_ROW = "coalesce(source_row, file_row_number + 1)"


def numbered_scan(files_sql: str, options: str = "") -> str:
    """A FROM-clause source over ingest files (a SQL path or list) with every row's source_row filled in."""
    return (
        f"(SELECT * EXCLUDE (file_row_number) REPLACE ({SOURCE_ROW} AS source_row) "
        f"FROM read_parquet({files_sql}{options}, file_row_number = true))"
    )


def loaded_rows(staged: list[str], kind: str) -> str:
    """A FROM item of staged files' loaded rows (their source_row filled in), in file order, a usage file's
    units rewritten into the FOCUS Unit Format. The rewrite is done here rather than while staging: read back
    from Parquet, a unit column comes dictionary-encoded and DuckDB rewrites each distinct spelling once, not
    once per row."""
    units = ""
    if kind == "usage":
        rewrites = ", ".join(f"{focus_unit_sql(c)} AS {c}" for c in ("consumed_unit", "pricing_unit"))
        units = f" REPLACE ({rewrites})"
    return f"(SELECT *{units} FROM {numbered_scan(sql_array(staged))} WHERE __rule IS NULL)"


@dataclass(frozen=True)
class Reject:
    """A record the reader could not split into fields: its row number, its text and the reader's message."""

    row: int
    line: str
    detail: str


@dataclass(frozen=True)
class Staged:
    """A staged file: its Parquet path, the records the reader could not split, and whether its loaded usage
    lines span days (and are split by day when committed)."""

    path: str
    rejects: list[Reject]
    spans: bool


@dataclass(frozen=True)
class Landed:
    """A landed file to stage: its ledger row (which staging accounts), partition key, a local copy of its bytes
    and its scratch directory."""

    row: LedgerRow
    key: str
    local: str
    scratch: str


# Small files of a source are staged several at once, by one query: DuckDB plans a staging query anew for each
# query, and for a small file the plan is most of the cost.
TOGETHER_BYTES = 4 << 20  # a larger file is staged by a query of its own


class FileStager:
    """Stages the landed files of one source on a connection that reads files only (never the lake)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: SourceSpec, ref: RefSnapshot) -> None:
        self.stage = con
        self.spec = spec
        self.ref = ref
        # the order of a staged file's rows: by record, and a record's lines by name
        self._order = "source_row, source_line" if spec.kind == "usage" else "source_row"

    def stage_files(self, files: list[Landed]) -> list[Staged | SourceFileError]:
        """One pass over each file, in order: every parsed row, with its verdict, staged in file order, and the
        file's ledger row accounted (and marked rejected when too many rows broke the contract); a file that
        cannot be read gets its error instead.

        Small files whose raw fields agree are read by one query (see compile_files) into one Parquet file that
        is then split by file; when that query fails, each of them is staged by a query of its own, so that
        the error is the file's own."""
        outcomes: list[Staged | SourceFileError] = []
        together: dict[tuple, list[tuple[int, Landed, RawRelation]]] = {}
        for i, landed in enumerate(files):
            try:
                raw = self._open(landed)
            except SourceFileError as exc:
                outcomes.append(exc)
                continue
            outcomes.append(SourceFileError(f"{landed.row.source_file}: not staged"))  # until it is
            small = not self.spec.lines and os.path.getsize(landed.local) <= TOGETHER_BYTES
            alike = (
                (tuple(raw.fields), raw.raw_sql, raw.header_sql, raw.csv, is_day(landed.key))
                if small
                else (i,)
            )
            together.setdefault(alike, []).append((i, landed, raw))
        for group in together.values():
            staged = self._stage_together(group) if len(group) > 1 else None
            for (i, landed, raw), done in zip(group, staged or [None] * len(group), strict=True):
                try:
                    if done is None:  # staged alone, or again alone after the query of several failed
                        raw = raw if len(group) == 1 else self._open(landed)
                        done = raw, self._stage_alone(landed, raw), None
                    outcomes[i] = self._finish(landed, *done)
                except SourceFileError as exc:
                    outcomes[i] = exc
        return outcomes

    def _open(self, landed: Landed) -> RawRelation:
        display = landed.row.source_file
        wanted = sorted(raw_fields_of(self.spec))
        raw = open_raw(self.stage, landed.local, self.spec.format, wanted, landed.scratch, display)
        if self.spec.format.type in ("csv", "parquet"):
            missing = [f for f in wanted if f not in raw.fields and f not in self.spec.optional_columns]
            if missing:
                hint = ""
                if self.spec.format.type == "csv" and len(raw.fields) == 1:
                    delimiter = self.spec.format.delimiter
                    hint = f" (the header was read as one column: is the delimiter {delimiter!r} right?)"
                raise SourceFileError(
                    f"{display}: missing column(s) {', '.join(missing)}; the file has: {', '.join(raw.fields)}{hint}"
                )
            known = raw_fields_of(self.spec) | set(self.spec.ignore_columns)
            landed.row.new_columns = ", ".join(f for f in raw.fields if f not in known) or None
        return raw

    def _stage_alone(self, landed: Landed, raw: RawRelation) -> str:
        staged = os.path.join(landed.scratch, "staged.parquet")
        query = compile_source(self.spec, raw, self.ref, landed.row.source_file, landed.key)
        try:
            copy_to_parquet(self.stage, query, staged)
        except duckdb.Error as exc:
            raise SourceFileError(f"{landed.row.source_file}: {reader_error(exc, landed.local)}") from None
        return staged

    def _stage_together(
        self, group: list[tuple[int, Landed, RawRelation]]
    ) -> list[tuple[RawRelation, str, tuple | None]] | None:
        """Stage the files of `group` by one query, each file's rows then copied to its own staged file (in file
        order); each file's raw relation, staged file and counts (None for a file whose keys may repeat), or None
        when the query fails. CSV files read alike are read by one scan; other files by one scan each."""
        raws = [raw for _, _, raw in group]
        if raws[0].csv is not None:  # the group's files are read alike (see stage_files)
            paths = [str(r.csv_path) for r in raws]
            raw, raws = csv_relations(paths, raws[0].csv, raws[0].fields, raws[0].header_sql is not None)
        else:
            union = " UNION ALL ".join(
                f"SELECT {n} AS __file, * FROM ({r.select_sql})" for n, r in enumerate(raws)
            )
            raw = RawRelation(union, raws[0].fields, raws[0].raw_sql, None, raws[0].header_sql)
        files = [(landed.row.source_file, landed.key) for _, landed, _ in group]
        joint = os.path.join(group[0][1].scratch, "staged-together.parquet")
        try:
            copy_to_parquet(self.stage, compile_files(self.spec, raw, self.ref, files), joint)
            rows = f"read_parquet({sql_str(joint)})"
            counts = {
                found[0]: found[1:]
                for found in self.stage.execute(
                    f"SELECT source_file, {self._counts} FROM {rows} GROUP BY 1"
                ).fetchall()
            }
            repeat = set()
            if self.spec.dedup_keys:  # files whose keys may repeat (see _mark_duplicates), by one query
                keys = ", ".join(sql_ident(k) for k in self.spec.line_keys)
                repeat = {
                    found[0]
                    for found in self.stage.execute(
                        f"SELECT DISTINCT source_file FROM {rows} WHERE __rule IS NULL "
                        f"GROUP BY source_file, hash({keys}) HAVING count(*) > 1"
                    ).fetchall()
                }
            staged = []
            for (_, landed, _), own in zip(group, raws, strict=True):
                path = os.path.join(landed.scratch, "staged.parquet")
                where = f"source_file = {sql_str(landed.row.source_file)}"
                copy_to_parquet(
                    self.stage, f"SELECT * FROM read_parquet({sql_str(joint)}) WHERE {where}", path
                )
                source_file = landed.row.source_file
                staged.append((own, path, None if source_file in repeat else counts.get(source_file)))
            return staged
        except duckdb.Error:
            return None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(joint)

    def _finish(self, landed: Landed, raw: RawRelation, staged: str, counts: tuple | None) -> Staged:
        """A staged file's rejected records, renumbering, repeated keys and accounts (see stage_files); with its
        `counts` known, its keys do not repeat."""
        row, scratch = landed.row, landed.scratch
        rejects = self._rejects(raw)
        if rejects:
            staged = self._renumber(staged, rejects, os.path.join(scratch, "renumbered.parquet"))
        if counts is None:
            staged = self._mark_duplicates(staged, os.path.join(scratch, "deduplicated.parquet"))
            counts = first_row(self.stage, f"SELECT {self._counts} FROM read_parquet({sql_str(staged)})")
        spans = self._account(row, counts, len(rejects))
        bad_ratio = (row.rows_quarantined - row.rows_skipped) / row.rows_read if row.rows_read else 0.0
        if bad_ratio > self.spec.max_quarantine_ratio:
            row.status = "rejected"
            row.rows_held, row.rows_loaded, row.money_loaded = row.rows_loaded, 0, None
            row.detail = (
                f"{row.source_file}: {row.rows_quarantined - row.rows_skipped} of {row.rows_read} rows "
                f"({bad_ratio:.1%}) broke the contract, above the limit of {self.spec.max_quarantine_ratio:.1%} "
                f"for source {self.spec.name}; the file was not loaded (see audit.quarantine)"
            )
        elif row.rows_read == 0:
            row.status = "empty"
        return Staged(staged, rejects, bool(spans))

    def _rejects(self, raw: RawRelation) -> list[Reject]:
        """Records the reader could not split, in file order."""
        if not raw.rejects_sql:
            return []
        rows = self.stage.execute(raw.rejects_sql + " ORDER BY 1").fetchall()
        return [Reject(int(r), str(line), str(detail)) for r, line, detail in rows]

    def _renumber(self, staged: str, rejects: list[Reject], target: str) -> str:
        """Write explicit row numbers, counting the structurally rejected rows that precede each parsed row."""
        gaps = ", ".join(f"({r.row - i}, {i})" for i, r in enumerate(rejects, start=1))
        copy_to_parquet(
            self.stage,
            f"WITH g AS (SELECT good_before, max(n) AS n FROM (VALUES {gaps}) v(good_before, n) GROUP BY good_before),"
            f" o AS (SELECT * FROM {numbered_scan(sql_str(staged))}) "
            f"SELECT o.* REPLACE (o.source_row + coalesce(g.n, 0) AS source_row) "
            f"FROM o ASOF LEFT JOIN g ON o.source_row > g.good_before ORDER BY {self._order}",
            target,
        )
        return target

    def _mark_duplicates(self, staged: str, target: str) -> str:
        """Quarantine later rows whose dedup keys repeat an earlier row of the same file (rule duplicate_key).

        A cheap aggregate over the key columns finds whether any key repeats; only then is the file rewritten.
        """
        if not self.spec.dedup_keys:
            return staged
        numbered = numbered_scan(sql_str(staged))
        if not keys_repeat(self.stage, numbered, self.spec.line_keys, "__rule IS NULL"):
            return staged
        keys = ", ".join(sql_ident(k) for k in self.spec.line_keys)
        window = f"PARTITION BY __rule IS NULL, {keys} ORDER BY {self._order}"
        repeat = f"__rule IS NULL AND row_number() OVER ({window}) > 1"
        copy_to_parquet(
            self.stage,
            f"SELECT * REPLACE (CASE WHEN {repeat} THEN 'duplicate_key' ELSE __rule END AS __rule, "
            f"CASE WHEN {repeat} THEN CAST(to_json(t) AS VARCHAR) ELSE __raw END AS __raw) "
            f"FROM {numbered} t ORDER BY {self._order}",
            target,
        )
        return target

    @property
    def _counts(self) -> str:
        """The aggregates of a staged file's rows that `_account` takes."""
        money = MONEY_COLUMN.get(self.spec.kind)
        total = f"sum({money}) FILTER (WHERE __rule IS NULL)" if money else "NULL"
        spans = (
            f"bool_or({SPANS_DAYS}) FILTER (WHERE __rule IS NULL)" if self.spec.kind == "usage" else "NULL"
        )
        return (
            f"count(*) FILTER (WHERE __rule IS NULL), {total}, count(__rule), "
            f"count(*) FILTER (WHERE starts_with(__rule, 'skip:')), {spans}"
        )

    @staticmethod
    def _account(row: LedgerRow, counts: tuple, rejected: int) -> bool | None:
        """Put a staged file's `counts` (see `_counts`) of loaded, quarantined and skipped rows and money into
        `row`; whether its loaded usage lines span days."""
        loaded, amount, quarantined, skipped, spans = counts
        row.rows_loaded, row.money_loaded = int(loaded), amount
        row.rows_quarantined = int(quarantined) + rejected
        row.rows_skipped = int(skipped)
        row.rows_read = row.rows_loaded + row.rows_quarantined
        return spans
