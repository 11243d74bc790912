"""Publishing is committing: readers in other processes see whole commits, keep their snapshot for the length
of a transaction, never block the writer, and a failed commit leaves the tables as they were."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import Deployment, lake_connection
from warehouse.ducklake import LakeConfig, connect_reader
from warehouse.rewrite import replace_table
from warehouse.transactions import commit

pytestmark = pytest.mark.slow  # refreshes small demo lakehouses while reading them


def write_chips(lake: LakeConfig, rows: int) -> None:
    with lake_connection(lake) as con:
        replace_table(
            con,
            "ref.chips",
            f"SELECT 'chip' || i AS chip_model, 'v' AS vendor, false AS is_domestic, 1.0 AS dense_tflops "
            f"FROM range({rows}) t(i)",
        )


def chips(lake: LakeConfig) -> int:
    with connect_reader(lake) as con:
        return con.execute("select count(*) from ref.chips").fetchall()[0][0]


def test_reader_in_another_process_does_not_block_and_keeps_its_snapshot(tmp_path: Path) -> None:
    lake = LakeConfig(str(tmp_path / "catalog.sqlite"), str(tmp_path / "lake"))
    write_chips(lake, 3)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys
            from warehouse.ducklake import LakeConfig, connect_reader
            con = connect_reader(LakeConfig({lake.catalog_url!r}, {lake.data_url!r}))
            con.execute("BEGIN TRANSACTION")
            print(con.execute("select count(*) from ref.chips").fetchall()[0][0], flush=True)
            sys.stdin.readline()
            print(con.execute("select count(*) from ref.chips").fetchall()[0][0], flush=True)
            con.execute("COMMIT")
            print(con.execute("select count(*) from ref.chips").fetchall()[0][0], flush=True)
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert reader.stdout is not None and reader.stdin is not None
    assert reader.stdout.readline().strip() == "3"
    write_chips(lake, 5)  # commits while the reader holds its transaction open
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "3", "a reader keeps its snapshot for its whole transaction"
    assert reader.stdout.readline().strip() == "5", "a new transaction sees the latest commit"
    assert reader.wait(timeout=60) == 0
    assert chips(lake) == 5


def test_a_failed_commit_leaves_the_tables_untouched(tmp_path: Path) -> None:
    lake = LakeConfig(str(tmp_path / "catalog.sqlite"), str(tmp_path / "lake"))
    write_chips(lake, 2)
    with lake_connection(lake) as con, pytest.raises(RuntimeError), commit(con, "half a change"):
        con.execute("DELETE FROM lake.ref.chips")
        raise RuntimeError("the writer dies half-way")
    assert chips(lake) == 2


def test_a_past_snapshot_stays_queryable(tmp_path: Path) -> None:
    lake = LakeConfig(str(tmp_path / "catalog.sqlite"), str(tmp_path / "lake"))
    write_chips(lake, 2)
    with connect_reader(lake) as con:
        (before,) = con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()
    write_chips(lake, 7)
    with connect_reader(lake, snapshot=before) as con:
        assert con.execute("select count(*) from ref.chips").fetchall()[0][0] == 2
    with connect_reader(lake) as con:
        assert con.execute(f"select count(*) from ref.chips AT (VERSION => {before})").fetchall()[0][0] == 2
    assert chips(lake) == 7


def test_readers_refuse_writes(tmp_path: Path) -> None:
    lake = LakeConfig(str(tmp_path / "catalog.sqlite"), str(tmp_path / "lake"))
    write_chips(lake, 1)
    with connect_reader(lake) as con, pytest.raises(Exception, match=r"read-only|read only"):
        con.execute("DELETE FROM ref.chips")


def test_a_reader_keeps_one_snapshot_through_a_whole_refresh(fresh: Deployment) -> None:
    # a lake to read: the reference tables, without their contract checks (not this test's subject)
    assert fresh.refresh(selection="key:ref/*", checks=False).success
    lake = fresh.settings.lake
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys
            from warehouse.ducklake import LakeConfig, connect_reader
            con = connect_reader(LakeConfig({lake.catalog_url!r}, {lake.data_url!r}))
            count = "select count(*) from audit.ingest_ledger"
            con.execute("BEGIN TRANSACTION")
            print(con.execute(count).fetchall()[0][0], flush=True)
            sys.stdin.readline()
            print(con.execute(count).fetchall()[0][0], flush=True)
            con.execute("COMMIT")
            print(con.execute(count).fetchall()[0][0], flush=True)
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert reader.stdout is not None and reader.stdin is not None
    before = int(reader.stdout.readline())
    outcome = fresh.refresh(checks=False)  # every asset commits while the reader's transaction stays open
    assert outcome.success, outcome.failures
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert int(reader.stdout.readline()) == before, "the reader saw one snapshot through the whole refresh"
    after = int(reader.stdout.readline())
    assert after == fresh.query("select count(*) from audit.ingest_ledger")[0][0] > before
    assert reader.wait(timeout=60) == 0
