"""Files staged ahead, on a thread of their own while the partition before commits, load exactly as files the
ingestor stages itself; a file rewritten after it was staged ahead is read again."""

import os
from pathlib import Path

import pytest

from assets.ingest.ahead import StagingAhead, file_stamp
from assets.ingest.engine import Ingestor, landed_files
from assets.ingest.ledger import file_checksum
from assets.ingest.readers import drop_scratch
from assets.tables import ingest_table
from tests.conftest import chip_lake, lake_connection
from tests.ingest_support import CSV_HEADER, GOOD, MIXED_FILES, land, spec_of
from warehouse.ducklake import LakeConfig, qualified
from warehouse.lake import Location

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
