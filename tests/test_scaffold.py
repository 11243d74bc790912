"""Drafting a spec from a sample: format, encoding, delimiter, time formats and mappings are detected."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from assets.ingest.check import check_spec_file
from assets.ingest.scaffold import draft_spec, profile_sample


def draft(tmp_path: Path, name: str, sample: Path) -> dict:
    text = draft_spec(name, sample)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return {"spec": yaml.safe_load(text), "problems": check_spec_file(path)}


def test_bom_csv_with_us_dates(tmp_path: Path) -> None:
    sample = tmp_path / "usage_2025-08-01.csv"
    sample.write_bytes(
        "\ufeffTenant;GPU_Model;GPU_Count;Start;End;Amount\nT1;H800;8;8/1/2025 09:00;8/1/2025 10:00;120\n".encode()
    )
    result = draft(tmp_path, "acme", sample)
    spec = result["spec"]
    assert spec["format"] == {"type": "csv", "encoding": "utf-8-sig", "delimiter": ";"}
    assert spec["landing"]["partition"]["format"] == "%Y-%m-%d"
    assert spec["columns"]["charge_period_start"] == {"column": "Start", "format": "%m/%d/%Y %H:%M"}
    assert spec["columns"]["tenant_id"] == "Tenant" and spec["columns"]["chip"] == "GPU_Model"
    assert spec["columns"]["billed_cost"] == "Amount" and result["problems"] == []


def test_gzip_key_value_log(tmp_path: Path) -> None:
    sample = tmp_path / "usage_20250801.log.gz"
    sample.write_bytes(
        gzip.compress(
            b"tenant=T1 start=2025-08-01T08:00:00+08:00 end=2025-08-01T09:00:00+08:00 "
            b"chip=910B cards=8 amount=1.5\n" * 3
        )
    )
    profile = profile_sample(sample)
    assert (profile.format, profile.compression) == ("kv", "gzip")
    spec = draft(tmp_path, "kvsrc", sample)["spec"]
    assert spec["timezone"] == "UTC" and spec["columns"]["gpu_count"] == "cards"


def test_json_lines_with_epoch_seconds(tmp_path: Path) -> None:
    sample = tmp_path / "jobs_2025-08-01.jsonl"
    record = {
        "tenant_id": "T1",
        "job_id": "J",
        "accelerator": "A100",
        "start_ts": 1754006400,
        "end_ts": 1754010000,
    }
    sample.write_text(json.dumps(record) + "\n", encoding="utf-8")
    spec = draft(tmp_path, "jl", sample)["spec"]
    assert spec["format"]["type"] == "jsonl"
    assert spec["columns"]["charge_period_start"] == {"column": "start_ts", "epoch": "s"}


def test_json_document_and_parquet(tmp_path: Path) -> None:
    doc = tmp_path / "catalog.json"
    doc.write_text(json.dumps({"exported_at": "x", "datasets": [{"id": "a", "name": "b"}]}), encoding="utf-8")
    profile = profile_sample(doc)
    assert (profile.format, profile.records_path) == ("json", "datasets")
    parquet = tmp_path / "hourly.parquet"
    pq.write_table(pa.table({"account_id": ["T1"], "gpu_type": ["L40S"], "gpu_count": [1]}), parquet)
    assert profile_sample(parquet).format == "parquet"
    result = draft(tmp_path, "pq", parquet)
    assert any("charge_period_start: required mapping is missing" in p for p in result["problems"])


def test_gbk_chinese_headers(tmp_path: Path) -> None:
    sample = tmp_path / "bill_20250801.csv"
    sample.write_bytes(
        "租户编号,芯片型号,卡数,开始时间,结束时间,应付金额(元)\r\n"
        "T1,昇腾910B2,8,2025-08-01 08:00:00,2025-08-01 09:00:00,10\r\n".encode("gbk")
    )
    spec = draft(tmp_path, "gb", sample)["spec"]
    assert spec["format"]["encoding"] == "gbk" and spec["timezone"] == "Asia/Shanghai"
    assert spec["columns"]["tenant_id"] == "租户编号" and spec["columns"]["billed_cost"] == "应付金额(元)"
