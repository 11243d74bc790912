"""Publishing swaps a complete warehouse in atomically; readers keep a consistent view and never block it."""

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from warehouse.lake import Location
from warehouse.publish import publish, publish_lock


def write_chips(lake: Location, rows: int) -> None:
    con = duckdb.connect()
    lake.write_query(
        con,
        f"SELECT 'chip' || i AS chip_model, 'v' AS vendor, false AS domestic, 1.0 AS dense_tflops, "
        f"1.0 AS memory_gb, 's' AS source FROM range({rows}) t(i)",
        "ref/chips.parquet",
    )


def test_reader_in_another_process_does_not_block_and_keeps_its_snapshot(tmp_path: Path) -> None:
    lake = Location(str(tmp_path / "lake"))
    warehouse = tmp_path / "warehouse.duckdb"
    write_chips(lake, 3)
    publish(lake, warehouse, ["ref.chips"])
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(warehouse)!r}, read_only=True)
            print(con.execute("select count(*) from ref.chips").fetchall()[0][0], flush=True)
            sys.stdin.readline()
            print(con.execute("select count(*) from ref.chips").fetchall()[0][0], flush=True)
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None and reader.stdin is not None
    assert reader.stdout.readline().strip() == "3"
    write_chips(lake, 5)
    counts = publish(lake, warehouse, ["ref.chips"])  # the reader still holds its connection
    assert counts == {"ref.chips": 5}
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "3", "an open reader must keep the warehouse it opened"
    assert reader.wait(timeout=30) == 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from ref.chips").fetchall()[0][0] == 5
    assert not list(tmp_path.glob(".warehouse.duckdb.next-*")), "no staging file may be left behind"


def test_publishers_are_serialised(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with publish_lock(warehouse), pytest.raises(BlockingIOError), publish_lock(warehouse, wait=False):
        pass


def test_a_failed_publish_leaves_the_served_warehouse_untouched(tmp_path: Path) -> None:
    lake = Location(str(tmp_path / "lake"))
    warehouse = tmp_path / "warehouse.duckdb"
    write_chips(lake, 2)
    publish(lake, warehouse, ["ref.chips"])
    (tmp_path / "lake" / "ref" / "chips.parquet").write_bytes(b"not parquet")
    with pytest.raises(duckdb.Error):
        publish(lake, warehouse, ["ref.chips"])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from ref.chips").fetchall()[0][0] == 2
    assert not list(tmp_path.glob(".warehouse.duckdb.next-*"))
