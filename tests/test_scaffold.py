"""Drafting a spec from a sample: format, encoding, delimiter, time formats and mappings are detected by name and
by content; every draft is valid YAML whose TODOs name what is left to do."""

import gzip
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from assets.ingest.check import check_spec_file
from assets.ingest.scaffold import draft_spec, landing_glob, profile_sample
from assets.ingest.scaffold_values import money_format
from assets.ingest.spec import SourceSpec
from pipelines.cli import main
from tests.ingest_support import ingest
from warehouse.ducklake import LakeConfig
from warehouse.settings import CONTRACTS_DIR

PAI = CONTRACTS_DIR / "samples" / "alibaba_pai_gpu_2023" / "openb_pod_list_default.csv"


def draft(tmp_path: Path, name: str, sample: Path, kind: str = "usage") -> dict:
    text = draft_spec(name, sample, kind)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return {"text": text, "spec": yaml.safe_load(text), "problems": check_spec_file(path), "path": path}


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


def test_relative_seconds_and_milli_gpus_of_the_pai_trace(tmp_path: Path) -> None:
    sample = tmp_path / "openb_pod_list_default.csv"
    sample.write_text(
        "".join(PAI.read_text(encoding="utf-8").splitlines(keepends=True)[:40]), encoding="utf-8"
    )
    result = draft(tmp_path, "pai", sample)
    columns = result["spec"]["columns"]
    assert columns["gpu_count"] == {"expr": "num_gpu * gpu_milli / 1000"}
    assert (
        "# TODO no amount found: map billed_cost, price the lines (`pricing`), or load a workload trace as "
        in (result["text"])
    )
    todo_origin = {"epoch": "s", "origin": "TODO-ISO-timestamp"}
    assert columns["charge_period_start"] == {"column": "scheduled_time", **todo_origin}
    assert columns["charge_period_end"] == {"column": "deletion_time", **todo_origin}
    assert columns["job_submit_time"] == {"column": "creation_time", **todo_origin}
    assert columns["job_status"]["column"] == "pod_phase"
    assert columns["job_status"]["map"]["Running"] == "running"
    assert "TODO seconds from an unknown start: set origin" in result["text"]
    problems = "\n".join(result["problems"])
    assert "charge_period_start.origin: 'TODO-ISO-timestamp' is not an ISO timestamp" in problems
    assert "columns.tenant_id: required mapping is missing" in problems
    done = result["text"].replace("TODO-ISO-timestamp", "2025-08-01T00:00:00+08:00")
    done = done.replace("  # TODO tenant_id:", "  tenant_id: {const: pai-openb}  #")
    result["path"].write_text(done, encoding="utf-8")
    assert check_spec_file(result["path"]) == []


def test_hundredths_of_a_gpu_are_a_guess_to_confirm(tmp_path: Path) -> None:
    sample = tmp_path / "pai_job_table_v2.csv"
    sample.write_text(
        "job_name,user,plan_gpu,start_time,end_time\n"
        "j1,u1,100,2025-08-01 08:00:00,2025-08-01 09:00:00\n"
        "j2,u2,50,2025-08-01 08:00:00,2025-08-01 09:00:00\n"
        "j3,u3,800,2025-08-01 08:00:00,2025-08-01 09:00:00\n"
        "j4,u1,100,2025-08-01 08:00:00,2025-08-01 09:00:00\n",
        encoding="utf-8",
    )
    result = draft(tmp_path, "pai2020", sample)
    assert result["spec"]["columns"]["gpu_count"] == {"expr": "plan_gpu / 100"}
    assert "# TODO confirm the unit: plan_gpu/100 of a GPU" in result["text"]
    assert result["spec"]["landing"]["glob"] == "providers/pai2020/pai_job_table_*.csv"


def test_whole_gpu_counts_are_left_alone(tmp_path: Path) -> None:
    sample = tmp_path / "jobs.csv"
    sample.write_text(
        "tenant,gpus,start,end\nT1,256,2025-08-01T08:00:00Z,2025-08-01T09:00:00Z\n"
        "T2,1024,2025-08-01T08:00:00Z,2025-08-01T09:00:00Z\n",
        encoding="utf-8",
    )
    result = draft(tmp_path, "big", sample)
    assert result["spec"]["columns"]["gpu_count"] == "gpus" and result["spec"]["timezone"] == "UTC"
    assert result["problems"] == []


def test_durations_give_gpu_hours_and_the_end_of_a_charge(tmp_path: Path) -> None:
    sample = tmp_path / "runs_2025-08-01.tsv"
    sample.write_text(
        "tenant\tstart\tgpus\twall_seconds\nT1\t2025-08-01 08:00:00\t8\t5400\n"
        "T2\t2025-08-01 09:00:00\t4\t1800\n",
        encoding="utf-8",
    )
    result = draft(tmp_path, "runs", sample)
    spec = result["spec"]
    assert spec["format"]["delimiter"] == "\t" and spec["timezone"] == "Asia/Shanghai"
    assert spec["columns"]["gpu_hours"] == {"expr": "gpus * wall_seconds / 3600"}
    assert spec["columns"]["charge_period_end"] == {
        "expr": "add_seconds(concat(start, '+08:00'), wall_seconds)"
    }
    assert "TODO +08:00 is the offset of timezone Asia/Shanghai" in result["text"]
    assert result["problems"] == []


def test_a_duration_in_milliseconds_ends_an_epoch_start(tmp_path: Path) -> None:
    sample = tmp_path / "calls.jsonl"
    rows = [{"tenant": "T1", "ts_ms": 1754006400000, "elapsed_ms": 2500}]
    sample.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    columns = draft(tmp_path, "calls", sample)["spec"]["columns"]
    assert columns["charge_period_start"] == {"column": "ts_ms", "epoch": "ms"}
    assert columns["charge_period_end"] == {"expr": "ts_ms + elapsed_ms", "epoch": "ms"}


@pytest.mark.parametrize(
    ("values", "signs", "thousands", "decimal", "mapping"),
    [
        (["120", "3.5"], (), None, ".", {"column": "amt"}),
        (["1,234.50", "12"], (), ",", ".", {"column": "amt", "thousands": ","}),
        (["¥1,234.50", "￥12.00"], ("¥", "￥"), ",", ".", None),
        (["$1,234.50", "-$3"], ("$",), ",", ".", {"expr": "replace(amt, '$', '')", "thousands": ","}),
        (
            ["1\u00a0234,50 €", "7,10 €"],
            ("€",),
            "\u00a0",
            ",",
            {"expr": r"replace(replace(replace(amt, '€', ''), '\xa0', ''), ',', '.')"},
        ),
        (["1.234.567,00", "3,5"], (), ".", ",", {"expr": "replace(replace(amt, '.', ''), ',', '.')"}),
        (["RMB 1,000", "RMB 20"], ("RMB",), ",", ".", None),
    ],
)
def test_how_amounts_are_written(values, signs, thousands, decimal, mapping) -> None:
    written = money_format(values)
    assert written is not None and (written.signs, written.thousands, written.decimal) == (
        signs,
        thousands,
        decimal,
    )
    if mapping:
        assert written.mapping("amt") == mapping


@pytest.mark.parametrize("values", [["2025-08-01"], ["10.0.0.1"], ["1,234", "5,5"], ["abc"], ["12:30"]])
def test_what_is_not_an_amount(values: list[str]) -> None:
    assert money_format(values) is None


def test_money_with_currency_signs_and_chinese_headers(tmp_path: Path) -> None:
    sample = tmp_path / "账单_2025_08_01.csv"
    sample.write_text(
        "账户|卡数|开始时间|结束时间|金额|状态\n"
        "T1|8|2025-08-01 08:00:00|2025-08-01 09:00:00|¥1,234.50|成功\n"
        "T2|4|2025-08-01 09:00:00|2025-08-01 10:00:00|¥12,000.00|失败\n",
        encoding="utf-8",
    )
    result = draft(tmp_path, "cn", sample)
    spec = result["spec"]
    assert spec["format"]["delimiter"] == "|" and spec["currency"] == "CNY"
    assert spec["landing"]["partition"] == {"regex": r"(\d{4}_\d{2}_\d{2})", "format": "%Y_%m_%d"}
    assert spec["columns"]["billed_cost"] == {"expr": "replace(金额, '¥', '')", "thousands": ","}
    assert spec["columns"]["tenant_id"] == "账户"
    assert spec["columns"]["job_status"] == {"column": "状态", "map": {"成功": "succeeded", "失败": "failed"}}
    assert (
        "currency: CNY  # TODO confirm: 金额 is written with ¥, which is also the yen sign" in result["text"]
    )
    assert result["problems"] == []


def test_an_amount_column_found_by_its_dollar_sign(tmp_path: Path) -> None:
    sample = tmp_path / "invoice.csv"
    sample.write_text(
        'tenant,start,end,total\nT1,2025-08-01T08:00:00Z,2025-08-01T09:00:00Z,"$1,234.50"\n', encoding="utf-8"
    )
    result = draft(tmp_path, "usd", sample)
    assert result["spec"]["currency"] == "USD"
    assert result["spec"]["columns"]["billed_cost"] == {"expr": "replace(total, '$', '')", "thousands": ","}
    assert result["problems"] == []


def test_statuses_by_name_and_by_their_words(tmp_path: Path) -> None:
    named = tmp_path / "jobs.csv"
    named.write_text(
        "tenant,start,end,state\n"
        + "".join(
            f"T1,2025-08-01T08:00:00Z,2025-08-01T09:00:00Z,{s}\n" for s in ("Succeeded", "Failed", "Pending")
        ),
        encoding="utf-8",
    )
    result = draft(tmp_path, "jobs", named)
    status = result["spec"]["columns"]["job_status"]
    assert status == {"column": "state", "map": {"Succeeded": "succeeded", "Failed": "failed"}}
    assert "# TODO map Pending (values not mapped are quarantined)" in result["text"]
    words = tmp_path / "transfers.csv"
    words.write_text(
        "transfer_id,bytes,start_time,end_time,outcome\n"
        + "".join(
            f"x{i},10,2025-08-01T08:00:00Z,2025-08-01T09:00:00Z,{s}\n"
            for i, s in enumerate(["OK", "FAILED", "OK"])
        ),
        encoding="utf-8",
    )
    result = draft(tmp_path, "moves", words, kind="transfers")
    assert result["spec"]["columns"]["status"] == {
        "column": "outcome",
        "map": {"OK": "completed", "FAILED": "failed"},
    }
    assert result["problems"] == []


def test_http_codes_of_a_named_status_column(tmp_path: Path) -> None:
    sample = tmp_path / "api.csv"
    sample.write_text(
        "tenant,start,end,status_code\n"
        + "".join(f"T1,2025-08-01T08:00:00Z,2025-08-01T09:00:00Z,{c}\n" for c in (200, 429, 500)),
        encoding="utf-8",
    )
    status = draft(tmp_path, "api", sample)["spec"]["columns"]["job_status"]
    assert status == {"column": "status_code", "map": {"200": "succeeded", "429": "failed", "500": "failed"}}


def test_an_llm_request_log_is_metered_in_tokens(tmp_path: Path) -> None:
    sample = tmp_path / "llm_requests_000123.csv"
    sample.write_text(
        "request_id,created,customer_id,model,prompt_tokens,completion_tokens,total_tokens,latency_ms,status\n"
        "r1,1754006400,T1,qwen-72b,1200,300,1500,850,OK\n"
        "r2,1754006460,T2,deepseek-v3,800,1200,2000,2300,error\n",
        encoding="utf-8",
    )
    result = draft(tmp_path, "llm", sample)
    spec, text = result["spec"], result["text"]
    assert spec["columns"]["consumed_unit"] == {"const": "Tokens"}
    assert spec["columns"]["pricing_unit"] == {"const": "1000000 Tokens"}
    assert spec["columns"]["charge_period_start"] == {"column": "created", "epoch": "s"}
    assert spec["columns"]["charge_period_end"] == {"expr": "created + latency_ms / 1000", "epoch": "s"}
    assert spec["columns"]["tenant_id"] == "customer_id" and spec["ignore_columns"] == ["total_tokens"]
    block = (
        "lines:\n"
        "  - name: input_tokens\n"
        '    columns: {consumed_quantity: "prompt_tokens"}\n'
        "  - name: output_tokens\n"
        '    columns: {consumed_quantity: "completion_tokens"}\n'
    )
    assert block in text and spec["columns"]["model_id"] == "model"
    assert result["problems"] == []


def test_one_token_column_is_the_consumed_quantity(tmp_path: Path) -> None:
    sample = tmp_path / "tokens.csv"
    sample.write_text(
        "tenant,start,end,tokens\nT1,2025-08-01T08:00:00Z,2025-08-01T08:00:01Z,42\n", encoding="utf-8"
    )
    columns = draft(tmp_path, "tok", sample)["spec"]["columns"]
    assert columns["consumed_quantity"] == "tokens" and columns["consumed_unit"] == {"const": "Tokens"}


def test_an_unsniffable_single_column_file_is_one_column_per_line(tmp_path: Path) -> None:
    sample = tmp_path / "tenants.csv"
    sample.write_text("tenant\nT1\nT2\n", encoding="utf-8")  # csv.Sniffer: "Could not determine delimiter"
    result = draft(tmp_path, "single", sample)
    assert result["spec"]["format"]["delimiter"] == ","
    assert result["spec"]["columns"] == {"tenant_id": "tenant"}
    assert "# TODO confirm: read as one column per line" in result["text"]
    assert "  # TODO charge_period_start: no column found for this required field" in result["text"]
    assert result["problems"] == [
        f"{result['path']}: columns.charge_period_start: required mapping is missing",
        f"{result['path']}: columns.charge_period_end: required mapping is missing",
    ]


def test_an_unsniffable_pipe_file_with_a_short_row(tmp_path: Path) -> None:
    sample = tmp_path / "ragged.txt"
    row = "T3|2025-08-01T08:00:00Z|2025-08-01T09:00:00Z\n"
    sample.write_text("tenant|start|end\n" + row + "T2|x\n" + row * 3, encoding="utf-8")
    result = draft(tmp_path, "piped", sample)
    assert result["spec"]["format"]["delimiter"] == "|" and result["problems"] == []


def test_a_whitespace_aligned_log_becomes_a_regex_record_format(tmp_path: Path, lake: LakeConfig) -> None:
    sample = tmp_path / "sacct_20250801.log"
    body = (
        "JobID    Account  AllocGPUS  Start                Elapsed\n"
        "1001     t1       8          2025-08-01T08:00:00  3600\n"
        "1002     t2       4          2025-08-01T09:30:00  1800\n"
    )
    sample.write_text(body, encoding="utf-8")
    result = draft(tmp_path, "slurm", sample)
    spec = result["spec"]
    assert spec["format"]["type"] == "regex" and [p["name"] for p in spec["format"]["patterns"]] == [
        "header",
        "record",
    ]
    assert "# TODO confirm: fields aligned with runs of spaces" in result["text"]
    assert spec["columns"]["tenant_id"] == "account" and spec["columns"]["gpu_count"] == "allocgpus"
    assert spec["columns"]["gpu_hours"] == {"expr": "allocgpus * elapsed / 3600"}
    assert spec["rules"] == [{"name": "header_line", "when": "record_type == 'header'", "action": "skip"}]
    assert result["problems"] == []
    # an accounting log carries no prices: loaded as an unpriced trace, the draft reads every record
    spec = SourceSpec.model_validate(
        result["spec"]
        | {"landing": {"glob": "acme/*"}, "check_tenants": False, "unpriced": True, "unknown_chip": "load"}
    )
    _, rows, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.log", body.encode())
    assert quarantine == [(1, "skip:header_line")]
    assert [(r["job_id"], r["gpu_hours"]) for r in rows] == [("1001", 8.0), ("1002", 2.0)]
    assert rows[1]["charge_period_end"] == datetime(2025, 8, 1, 2, tzinfo=UTC)  # 09:30 + 30 min in Shanghai


def test_an_empty_file_gives_an_empty_draft(tmp_path: Path) -> None:
    sample = tmp_path / "empty.csv"
    sample.write_bytes(b"")
    result = draft(tmp_path, "empty", sample)
    assert result["spec"]["columns"] == {} and "  # TODO tenant_id:" in result["text"]


def test_control_characters_in_a_header_stay_valid_yaml(tmp_path: Path) -> None:
    sample = tmp_path / "odd.csv"
    sample.write_bytes(b"tenant,\x82note\xff,start,end\nT1,x,2025-08-01T08:00:00Z,2025-08-01T09:00:00Z\n")
    result = draft(tmp_path, "odd", sample)  # not UTF-8 nor GBK: read as latin-1, with a C1 control character
    assert result["spec"]["format"]["encoding"] == "latin-1"
    assert result["spec"]["ignore_columns"] == ["\x82note\xff"] and result["problems"] == []


@pytest.mark.parametrize(
    ("file_name", "glob"),
    [
        ("usage_2025-08-01.csv", "usage_*.csv"),
        ("bill_20250801_0001.csv.gz", "bill_*.csv.gz"),
        ("jobs_2025_08_01-v2.jsonl", "jobs_*-*.jsonl"),
        ("export_job123456.csv", "export_job*.csv"),
        ("report_v2.csv", "report_*.csv"),
        ("h800_usage_17.csv", "h800_usage_*.csv"),
        ("openb_pod_list_default.csv", "*.csv"),
    ],
)
def test_the_glob_is_a_pattern_not_the_sample_name(file_name: str, glob: str) -> None:
    assert landing_glob(file_name) == glob


def test_a_drafted_spec_loads_amounts_ends_and_statuses(tmp_path: Path, lake: LakeConfig) -> None:
    body = (
        "账户|芯片|卡数|开始时间|时长|金额|状态\n"
        "T1|H800|8|2025-08-01 08:00:00|5400|¥1,234.50|成功\n"
        "T2|H800|4|2025-08-01 09:00:00|1800|¥12,000.00|失败\n"
    )
    sample = tmp_path / "2025-08-01.csv"
    sample.write_text(body, encoding="utf-8")
    drafted = draft(tmp_path, "acme", sample)
    assert drafted["problems"] == []
    spec = SourceSpec.model_validate(
        drafted["spec"] | {"landing": {"glob": "acme/*"}, "check_tenants": False, "max_quarantine_ratio": 1.0}
    )
    _, rows, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", body.encode())
    assert quarantine == []
    first, second = rows
    assert first["billed_cost"] == Decimal("1234.50") and second["billed_cost"] == Decimal("12000.00")
    assert first["charge_period_start"] == datetime(2025, 8, 1, 0, 0, tzinfo=UTC)
    assert first["charge_period_end"] == datetime(2025, 8, 1, 1, 30, tzinfo=UTC)
    assert first["gpu_hours"] == pytest.approx(12.0) and second["gpu_hours"] == pytest.approx(2.0)
    assert (first["job_status"], second["job_status"]) == ("succeeded", "failed")


def test_the_cli_writes_the_draft_outside_the_live_sources_folder(tmp_path: Path) -> None:
    sources = tmp_path / "contracts" / "sources"
    sources.mkdir(parents=True)
    (sources / "other.yaml").write_text("# a live spec\n", encoding="utf-8")
    sample = tmp_path / "usage_2025-08-01.csv"
    sample.write_text("tenant,start,end\nT1,2025-08-01T08:00:00Z,2025-08-01T09:00:00Z\n", encoding="utf-8")
    env = {"COMPUTEFLOW_SOURCES_DIR": str(sources)}
    result = CliRunner().invoke(main, ["sources", "scaffold", "acme", "--sample", str(sample)], env=env)
    assert result.exit_code == 0, result.output
    drafted = tmp_path / "contracts" / "drafts" / "acme.yaml"
    assert check_spec_file(drafted) == [] and sorted(os.listdir(sources)) == ["other.yaml"]
    assert "the draft passes `computeflow sources check`" in result.output
    assert f"move it to {sources / 'acme.yaml'}" in result.output
    again = CliRunner().invoke(main, ["sources", "scaffold", "acme", "--sample", str(sample)], env=env)
    assert again.exit_code != 0 and "pass --force to overwrite it" in again.output
    live = CliRunner().invoke(
        main,
        ["sources", "scaffold", "acme", "--sample", str(sample), "--output", str(sources / "acme.yaml")],
        env=env,
    )
    assert live.exit_code == 0 and (sources / "acme.yaml").exists()
    assert "the draft passes" in live.output and "it is in the sources folder" in live.output


def test_a_real_request_log_is_charged_per_hour_in_input_and_output_lines(tmp_path: Path) -> None:
    sample = CONTRACTS_DIR / "samples" / "azure_llm_inference_2023" / "AzureLLMInferenceTrace_conv_head.csv"
    result = draft(tmp_path, "llm", sample)
    spec = result["spec"]
    assert spec["values"] == {"requested_at": {"column": "TIMESTAMP", "type": "timestamp"}}
    assert spec["columns"]["charge_period_start"] == {"expr": "truncate(requested_at, 'hour')"}
    assert spec["columns"]["charge_period_end"] == {
        "expr": "add_seconds(truncate(requested_at, 'hour'), 3600)"
    }
    assert [(line["name"], line["columns"]) for line in spec["lines"]] == [
        ("input_tokens", {"consumed_quantity": "ContextTokens"}),
        ("output_tokens", {"consumed_quantity": "GeneratedTokens"}),
    ]
    assert "# TODO price the tokens" in result["text"]
    assert [p.split(": ", 1)[1] for p in result["problems"]] == [
        "columns.tenant_id: required mapping is missing"
    ]
