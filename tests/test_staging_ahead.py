"""Files staged ahead, on a thread of their own while the partition before commits, load exactly as files the
ingestor stages itself; a file rewritten after it was staged ahead is read again."""

import contextlib
import os
from pathlib import Path

import pytest

from assets.ingest import staging
from assets.ingest.ahead import StagingAhead, file_stamp
from assets.ingest.engine import Ingestor, landed_files
from assets.ingest.ledger import file_checksum
from assets.ingest.readers import SourceFileError, drop_scratch, make_scratch
from assets.ingest.staging import FileStager, Landed, Staged, numbered_scan
from assets.tables import ingest_table
from tests.conftest import chip_lake, lake_connection
from tests.ingest_support import BROKEN, CSV_HEADER, GOOD, MIXED_FILES, land, spec_of
from warehouse.ducklake import LakeConfig, qualified
from warehouse.lake import Location, sql_str
from warehouse.lake import copy_to_parquet as copy

pytestmark = pytest.mark.slow  # runs the ingest engine


def outcome(lake: LakeConfig, ahead: bool, root: Path, taken: list[object] | None = None) -> dict[str, list]:
    """Ingest every landed partition in day order, staging ahead or not; the ledger, rows and quarantine."""
    spec, landing = spec_of(), Location(str(root / "landing"))
    files = landed_files(spec, landing)
    scratch = root / "scratch"
    with lake_connection(lake) as con:
        ingestor = Ingestor(con, spec, landing, str(scratch), "r1")
        if ahead:
            ingestor.stage_ahead([(day, files[day]) for day in sorted(files)])
            if taken is not None:
                ingestor.ahead = Spy(ingestor.ahead, taken)
        for day in sorted(files):
            ingestor.run(day, files[day])
        ingestor.close()
        assert not os.listdir(scratch / "ingest"), "staging left scratch files behind"
        ledger = con.execute(
            f"SELECT * FROM {qualified('audit.ingest_ledger')} ORDER BY source_file"
        ).fetchall()
        rows = con.execute(f"SELECT * FROM {qualified(ingest_table(spec.name))} ORDER BY ALL").fetchall()
        quarantine = con.execute(f"SELECT * FROM {qualified('audit.quarantine')} ORDER BY ALL").fetchall()
    return {"ledger": ledger, "rows": rows, "quarantine": quarantine}


class Spy:
    """A StagingAhead that records what `take` handed over."""

    def __init__(self, inner: StagingAhead, taken: list[object]) -> None:
        self._inner, self._taken = inner, taken

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def take(self, *args: object) -> object:
        found = self._inner.take(*args)
        self._taken.append(found)
        return found


def test_files_staged_ahead_load_as_files_staged_in_turn(tmp_path: Path) -> None:
    results = {}
    taken: list[object] = []
    for ahead in (False, True):
        root = tmp_path / str(ahead)
        land(root, MIXED_FILES)
        results[ahead] = outcome(chip_lake(root), ahead, root, taken if ahead else None)
    assert results[True] == results[False]
    assert [row[-7] for row in results[True]["ledger"]] == ["loaded", "failed", "empty", "loaded", "loaded"]
    assert len(results[True]["rows"]) == 7 and len(results[True]["quarantine"]) == 3
    # every file was handed over staged (or with its error), none staged a second time
    assert len(taken) == len(MIXED_FILES) and all(t is not None for t in taken)
    assert sum(t.error is not None for t in taken) == 1


def test_a_file_rewritten_after_it_was_staged_ahead_is_read_again(tmp_path: Path, lake: LakeConfig) -> None:
    landing = land(tmp_path, {k: MIXED_FILES[k] for k in ("acme/2025-08-01.csv", "acme/2025-08-04.csv")})
    spec = spec_of()
    files = landed_files(spec, landing)
    first, last = (files[day][0] for day in sorted(files))
    with lake_connection(lake) as con:
        ingestor = Ingestor(con, spec, landing, str(tmp_path / "scratch"), "r1")
        ingestor.stage_ahead([("2025-08-01", [first])])
        ingestor.stage_ahead([("2025-08-04", [last])])
        assert ingestor.ahead is not None
        # one file at a time, in order: once the last is staged, so is the first
        staged_last = ingestor.ahead.take(last, file_stamp(landing, last), file_checksum(landing, last))
        assert staged_last is not None and staged_last.row is not None and staged_last.row.rows_read == 3
        Path(first).write_bytes((CSV_HEADER + GOOD * 5).encode())  # five lines now, not two
        (row,) = ingestor.run("2025-08-01", [first]).rows
        ingestor.close()
        drop_scratch(staged_last.scratch)  # what the ingestor does with a staging it takes
        assert (row.rows_read, row.rows_loaded, row.rows_quarantined) == (5, 5, 0)
        assert row.checksum == file_checksum(landing, first)
        assert con.execute(f"SELECT count(*) FROM {qualified(ingest_table(spec.name))}").fetchone() == (5,)
    assert not os.listdir(tmp_path / "scratch" / "ingest")  # the stale staging of the first file was dropped


def staged_outcome(stager: FileStager, landed: Landed, staged: Staged) -> tuple:
    """What a staging left: the accounted ledger counts, the rejected records and the staged rows in order."""
    row = landed.row
    rows = stager.stage.execute(f"SELECT * FROM {numbered_scan(sql_str(staged.path))}").fetchall()
    counts = (
        row.status,
        row.rows_read,
        row.rows_loaded,
        row.rows_quarantined,
        row.money_loaded,
        row.new_columns,
    )
    return counts, staged.rejects, staged.spans, rows


def test_small_files_staged_together_stage_as_they_do_alone(
    tmp_path: Path, lake: LakeConfig, monkeypatch
) -> None:
    """Several small CSV files of a source are staged by one scan and one query, and each ends exactly as it
    does staged by itself: rows and their order, row numbers around a record the reader could not split,
    repeated keys, accounts; a file the reader cannot open fails alone."""
    files = {**MIXED_FILES, "acme/2025-08-06.csv": (CSV_HEADER + BROKEN + GOOD).encode()}
    landing = land(tmp_path, files)
    spec = spec_of(dedup_keys=["tenant_id", "charge_period_start"])
    with lake_connection(lake) as con, contextlib.closing(con.cursor()) as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        ingestor = Ingestor(con, spec, landing, str(tmp_path / "scratch"), "r1")
        stager = FileStager(cursor, spec, ingestor.ref)
        paths = {day: paths[0] for day, paths in landed_files(spec, landing).items()}
        nonempty = [day for day in sorted(paths) if os.path.getsize(paths[day])]

        def landed(day: str) -> Landed:
            source_file = landing.relative(paths[day])
            row = ingestor._row(
                day, source_file, os.path.getsize(paths[day]), file_checksum(landing, paths[day])
            )
            return Landed(row, day, paths[day], make_scratch(str(tmp_path / "scratch")))

        alone = {}
        for day in nonempty:
            item = landed(day)
            (outcome,) = stager.stage_files([item])
            alone[day] = (
                str(outcome)
                if isinstance(outcome, SourceFileError)
                else staged_outcome(stager, item, outcome)
            )
        items = [landed(day) for day in nonempty]
        queries: list[str] = []
        monkeypatch.setattr(FileStager, "_stage_alone", lambda *args: pytest.fail("a file was staged alone"))
        monkeypatch.setattr(
            staging,
            "copy_to_parquet",
            lambda con, query, path: queries.append(query) or copy(con, query, path),
        )
        together = {
            item.key: str(outcome)
            if isinstance(outcome, SourceFileError)
            else staged_outcome(stager, item, outcome)
            for item, outcome in zip(items, stager.stage_files(items), strict=True)
        }
    assert together == alone
    assert "not valid utf-8" in together["2025-08-02"].lower()
    assert [t[0][:4] for day, t in together.items() if day != "2025-08-02"] == [
        ("loaded", 2, 1, 1),
        ("loaded", 3, 1, 2),
        ("loaded", 4, 2, 2),
        ("loaded", 2, 1, 1),
    ]
    # one query read the four readable files (one multi-file scan); the others copy each file's rows out of it
    # or rewrite a file whose rows need renumbering or whose keys repeat
    (read,) = [q for q in queries if "read_csv(" in q]
    assert read.count("read_csv(") == 1 and all(paths[day] in read for day in together if day != "2025-08-02")
