"""The ingest engine on hand-made provider files: every format, every defect, exact row numbers."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.tables import ingest_table
from tests.conftest import lake_connection
from tests.ingest_support import CSV_HEADER, ingest, latest_snapshot, spec_of
from warehouse.ducklake import LakeConfig, qualified

pytestmark = pytest.mark.slow  # runs the ingest engine on generated files, one of them large


def test_csv_defects_are_quarantined_with_their_rule_and_row(tmp_path: Path, lake: LakeConfig) -> None:
    body = (
        CSV_HEADER
        + "T1,2025-08-01 08:00:00,2025-08-01 10:00:00,910B,8,100.5\n"  # 1 ok
        + "T2,2025-08-01 08:00:00,2025-08-01 10:00:00,A100,N/A,10\n"  # 2 unparsable cards
        + ",2025-08-01 08:00:00,2025-08-01 10:00:00,A100,1,10\n"  # 3 missing tenant
        + "T4,2025-08-01 08:00:00,2025-08-01 10:00:00,A100,-2,10\n"  # 4 negative
        + "T5,2025-08-01 08:00:00\n"  # 5 too few columns
        + "T6,2025-08-01 10:00:00,2025-08-01 08:00:00,A100,1,10\n"  # 6 end before start
        + "T7,2025-08-01 08:00:00,2025-08-01 10:00:00,Z9000,1,10\n"  # 7 unknown chip
        + "T8,2025-08-01 08:00:00,2025-08-01 09:00:00,V100M32,2,7\n"  # 8 ok (alias)
    )
    result, rows, quarantine = ingest(
        tmp_path, lake, spec_of(timezone="Asia/Shanghai"), "2025-08-01.csv", body.encode()
    )
    (ledger,) = result.rows
    assert (ledger.rows_read, ledger.rows_loaded, ledger.rows_quarantined) == (8, 2, 6)
    assert quarantine == [
        (2, "unparsable:gpu_count"),
        (3, "missing_required:tenant_id"),
        (4, "negative_quantity:gpu_count"),
        (5, "unparsable_record"),
        (6, "end_before_start"),
        (7, "unknown_chip"),
    ]
    assert [r["source_row"] for r in rows] == [1, 8]
    assert rows[1]["chip_model"] == "V100" and rows[1]["gpu_hours"] == pytest.approx(2.0)
    assert rows[0]["charge_period_start"].isoformat() == "2025-08-01T00:00:00+00:00"
    assert rows[0]["pflop_hours"] == pytest.approx(16 * 354 / 1000)


def test_gbk_with_chinese_headers(tmp_path: Path, lake: LakeConfig) -> None:
    body = "租户,开始,结束,芯片,卡数,金额\nT1,2025-08-01 08:00:00,2025-08-01 09:00:00,昇腾910B2,8,96.00\n"
    spec = spec_of(
        format={"type": "csv", "encoding": "gbk"},
        columns={
            "tenant_id": "租户",
            "charge_period_start": "开始",
            "charge_period_end": "结束",
            "chip": "芯片",
            "gpu_count": "卡数",
            "billed_cost": "金额",
        },
    )
    _, rows, _ = ingest(tmp_path, lake, spec, "2025-08-01.csv", body.encode("gbk"))
    assert rows[0]["chip_model"] == "Ascend910B" and rows[0]["billed_cost"] == 96


def test_wrong_encoding_is_a_clear_file_error(tmp_path: Path, lake: LakeConfig) -> None:
    body = "租户,开始\nT1,x\n".encode()[:-5] + b"\xff\xfe\n"
    spec = spec_of(format={"type": "csv", "encoding": "gbk"})
    result, rows, _ = ingest(tmp_path, lake, spec, "2025-08-01.csv", body)
    assert rows == [] and result.rows[0].status == "failed"
    assert "acme/2025-08-01.csv" in result.errors[0] and "not valid gbk" in result.errors[0]


def test_a_header_that_is_not_utf8_is_a_clear_file_error(tmp_path: Path, lake: LakeConfig) -> None:
    body = CSV_HEADER.encode()[:6] + b"\xff\xfe" + CSV_HEADER.encode()[6:] + b"T1,x,y,A100,1,1\n"
    result, rows, _ = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert rows == [] and result.rows[0].status == "failed"
    assert result.errors == ["acme/2025-08-01.csv: the header is not valid utf-8: invalid start byte"]


def test_missing_column_names_the_file_and_the_column(tmp_path: Path, lake: LakeConfig) -> None:
    result, _, _ = ingest(
        tmp_path, lake, spec_of(), "2025-08-01.csv", b"tenant,start,end,chip,cards\nT,a,b,c,1\n"
    )
    assert "missing column(s) cost" in result.errors[0] and "2025-08-01.csv" in result.errors[0]


def test_jsonl_with_a_broken_line_and_epoch_times(tmp_path: Path, lake: LakeConfig) -> None:
    lines = [
        {"tenant": "T1", "start": 1754006400, "end": 1754010000, "chip": "H800", "cards": 4, "fen": 12345},
        "this is not json",
        {"tenant": "T2", "start": 1754006400, "end": 1754010000, "chip": "H800", "cards": 1, "fen": 100},
    ]
    body = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n"
    spec = spec_of(
        format={"type": "jsonl"},
        columns={
            "tenant_id": "tenant",
            "chip": "chip",
            "gpu_count": "cards",
            "charge_period_start": {"column": "start", "epoch": "s"},
            "charge_period_end": {"column": "end", "epoch": "s"},
            "billed_cost": {"expr": "fen / 100"},
        },
    )
    result, rows, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.jsonl", body.encode())
    assert quarantine == [(2, "unparsable_record")]
    assert [r["source_row"] for r in rows] == [1, 3]
    assert float(rows[0]["billed_cost"]) == 123.45 and rows[0]["gpu_hours"] == pytest.approx(4.0)
    assert result.rows[0].rows_read == 3


def test_gzip_key_value_lines(tmp_path: Path, lake: LakeConfig) -> None:
    text = (
        "tenant=T1 start=2025-08-01T08:00:00+08:00 end=2025-08-01T09:00:00+08:00 chip=910B cards=8 cost=50\n"
        "garbage line without pairs\n"
        "tenant=T2 start=2025-08-01T08:00:00Z end=2025-08-01T09:00:00Z chip=910B cards=1 cost=5\n"
    )
    spec = spec_of(format={"type": "kv", "compression": "gzip"})
    _, rows, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.log.gz", gzip.compress(text.encode()))
    assert quarantine == [(2, "unparsable_record")]
    assert rows[0]["charge_period_start"].isoformat() == "2025-08-01T00:00:00+00:00"
    assert rows[1]["charge_period_start"].isoformat() == "2025-08-01T08:00:00+00:00"


def test_not_really_gzip(tmp_path: Path, lake: LakeConfig) -> None:
    spec = spec_of(format={"type": "kv", "compression": "gzip"})
    result, _, _ = ingest(tmp_path, lake, spec, "2025-08-01.log.gz", b"tenant=T1 cards=1\n")
    assert "not a gzip file" in result.errors[0]


def test_parquet_rows_are_numbered_from_the_file(tmp_path: Path, lake: LakeConfig) -> None:
    table = pa.table(
        {
            "tenant": ["T1", None, "T3"],
            "start": pa.array([1754006400_000_000] * 3, pa.timestamp("us", tz="UTC")),
            "end": pa.array([1754010000_000_000] * 3, pa.timestamp("us", tz="UTC")),
            "chip": ["L40S", "L40S", "L40S"],
            "cards": pa.array([1, 2, 3], pa.int32()),
            "cost": [1.5, 2.5, 3.5],
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    _, rows, quarantine = ingest(
        tmp_path,
        lake,
        spec_of(format={"type": "parquet"}),
        "2025-08-01.parquet",
        sink.getvalue().to_pybytes(),
    )
    assert quarantine == [(2, "missing_required:tenant_id")]
    assert [(r["source_row"], r["gpu_count"]) for r in rows] == [(1, 1.0), (3, 3.0)]


def test_threshold_holds_back_a_mostly_broken_file(tmp_path: Path, lake: LakeConfig) -> None:
    body = CSV_HEADER + "T1,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,1\n" + ",x,y,A100,1,1\n" * 3
    result, rows, quarantine = ingest(
        tmp_path, lake, spec_of(max_quarantine_ratio=0.05), "2025-08-01.csv", body.encode()
    )
    (ledger,) = result.rows
    assert ledger.status == "rejected" and rows == [] and len(quarantine) == 3
    assert (ledger.rows_read, ledger.rows_loaded, ledger.rows_quarantined, ledger.rows_held) == (4, 0, 3, 1)
    assert "75.0%" in result.errors[0] and "above the limit of 5.0%" in result.errors[0]


def test_an_unchanged_file_is_not_loaded_twice(tmp_path: Path, lake: LakeConfig) -> None:
    body = (CSV_HEADER + "T1,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,1\n").encode()
    ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body, run_id="r1")
    snapshot = latest_snapshot(lake)
    second, _, _ = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body, run_id="r2")
    assert not second.changed and second.rows[0].run_id == "r1" and latest_snapshot(lake) == snapshot
    third, rows, _ = ingest(
        tmp_path, lake, spec_of(), "2025-08-01.csv", body + body[len(CSV_HEADER) :], run_id="r3"
    )
    assert third.changed and third.rows[0].run_id == "r3" and len(rows) == 2


def test_row_numbers_survive_parallel_parsing_of_a_large_file(tmp_path: Path, lake: LakeConfig) -> None:
    """Rows are numbered by their position in the written file; that must hold when DuckDB parses in parallel."""
    n = 400_000
    rows = [
        f"{'' if i % 9973 == 0 else 'T' + str(i)},2025-08-01 08:00:00,2025-08-01 09:00:00,"
        f"{'A100' if i % 3 else '910B'},{i % 8 + 1},{i}"
        for i in range(1, n + 1)
    ]
    body = (CSV_HEADER + "\n".join(rows) + "\n").encode()
    assert len(body) > 16 << 20  # several DuckDB CSV buffers, so several threads
    spec = spec_of()
    result, _, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", body, rows=False)
    assert result.rows[0].rows_read == n
    with lake_connection(lake) as con:  # the cost column holds the line number
        ((loaded, misnumbered),) = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE CAST(billed_cost AS BIGINT) <> source_row) "
            f"FROM {qualified(ingest_table(spec.name))}"
        ).fetchall()
    assert (loaded, misnumbered) == (n - len(quarantine), 0)
    assert [r for r, _ in quarantine] == [i for i in range(1, n + 1) if i % 9973 == 0]
