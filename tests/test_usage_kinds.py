"""Today's kinds of usage from a spec alone: tokens billed per model and line, traces without prices or chips,
logs whose lines differ by record type, and named values with time arithmetic (real ingest, real lake)."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from assets.reference.tables import REF_TABLES, load_reference_table
from tests.conftest import lake_connection
from tests.ingest_support import ingest, spec_of
from warehouse.ducklake import LakeConfig
from warehouse.lake import Location

pytestmark = pytest.mark.slow  # ingests token, trace and log files into lakes of their own

RATES = (
    "provider_id,service,chip_model,model_id,unit,list_price,contracted_price,currency,valid_from,valid_to\n"
    "acme,llm_input_tokens,,chat-7b,1000000 Tokens,2.00,1.60,CNY,2025-01-01,\n"
    "acme,llm_output_tokens,,chat-7b,1000000 Tokens,8.00,6.40,CNY,2025-01-01,\n"
    "acme,llm_input_tokens,,chat-70b,1000000 Tokens,4.00,4.00,CNY,2025-01-01,\n"
    "acme,llm_output_tokens,,chat-70b,1000000 Tokens,16.00,16.00,CNY,2025-01-01,\n"
    "acme,gpu_compute,A100,,GPU-Hour,20.00,18.00,CNY,2025-01-01,\n"
)

TOKEN_SPEC = {
    "values": {"requested_at": {"column": "ts", "type": "timestamp"}},
    "columns": {
        "tenant_id": "tenant",
        "model_id": "model",
        "resource_id": "request_id",
        "charge_period_start": {"expr": "truncate(requested_at, 'hour')"},
        "charge_period_end": {"expr": "add_seconds(truncate(requested_at, 'hour'), 3600)"},
        "consumed_unit": {"const": "Tokens"},
        "pricing_unit": {"const": "1000000 Tokens"},
    },
    "lines": [
        {
            "name": "input_tokens",
            "service": "llm_input_tokens",
            "columns": {"consumed_quantity": "prompt_tokens"},
        },
        {
            "name": "output_tokens",
            "service": "llm_output_tokens",
            "columns": {"consumed_quantity": "completion_tokens"},
        },
    ],
    "pricing": {"rate_card_provider": "acme", "service": "llm_input_tokens", "per": "model"},
    "dedup_keys": ["resource_id"],
}
REQUESTS = (
    "request_id,ts,tenant,model,prompt_tokens,completion_tokens\n"
    "r1,2025-08-01 09:15:02.5,T1,chat-7b,1200,300\n"
    "r2,2025-08-01 09:59:59,T1,chat-70b,50000,2000\n"
    "r3,2025-08-01 10:00:00,T2,chat-7b,700,oops\n"
    "r4,2025-08-01 10:30:00,T2,chat-9000,10,10\n"
)


def with_rates(tmp_path: Path, lake: LakeConfig) -> None:
    landing = tmp_path / "landing"
    (landing / "reference").mkdir(parents=True, exist_ok=True)
    (landing / "reference" / "rate_cards.csv").write_text(RATES, encoding="utf-8")
    with lake_connection(lake) as con:
        load_reference_table(con, REF_TABLES["rate_cards"], Location(str(landing)))


def test_each_request_yields_an_input_and_an_output_line_priced_per_model(
    tmp_path: Path, lake: LakeConfig
) -> None:
    with_rates(tmp_path, lake)
    spec = spec_of(**TOKEN_SPEC)
    result, rows, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", REQUESTS.encode())
    lines = {(r["resource_id"], r["source_line"]): r for r in rows}
    # r3's output count does not parse: that line is quarantined, its input line loads; r4's model has no price
    assert quarantine == [(3, "unparsable:consumed_quantity"), (4, "missing_cost"), (4, "missing_cost")]
    assert sorted(lines) == [
        ("r1", "input_tokens"),
        ("r1", "output_tokens"),
        ("r2", "input_tokens"),
        ("r2", "output_tokens"),
        ("r3", "input_tokens"),
    ]
    prices = {("chat-7b", "input_tokens"): (2.0, 1.6), ("chat-7b", "output_tokens"): (8.0, 6.4)}
    prices |= {("chat-70b", "input_tokens"): (4.0, 4.0), ("chat-70b", "output_tokens"): (16.0, 16.0)}
    raw = {"r1": (1200, 300), "r2": (50000, 2000), "r3": (700, None)}
    for (request, line), row in lines.items():
        tokens = raw[request][0 if line == "input_tokens" else 1]
        list_price, contracted = prices[(row["model_id"], line)]
        assert row["consumed_quantity"] == tokens and row["consumed_unit"] == "Tokens"
        assert row["pricing_quantity"] == pytest.approx(tokens / 1e6)
        assert row["list_cost"] == Decimal(str(round(tokens / 1e6 * list_price, 4)))
        assert row["billed_cost"] == Decimal(str(round(tokens / 1e6 * contracted, 4)))
        assert row["gpu_hours"] is None and row["chip_model"] is None and row["pflop_hours"] is None
        assert row["service_subcategory"] == "Generative AI"
    assert lines[("r1", "input_tokens")]["charge_period_start"] == datetime(2025, 8, 1, 9, tzinfo=UTC)
    assert lines[("r2", "output_tokens")]["charge_period_end"] == datetime(2025, 8, 1, 10, tzinfo=UTC)
    # every record counts once per line: 4 records x 2 lines = 5 loaded + 3 quarantined
    assert (result.rows[0].rows_read, result.rows[0].rows_loaded) == (8, 5)


def test_a_rerun_of_a_token_file_is_identical(tmp_path: Path, lake: LakeConfig) -> None:
    with_rates(tmp_path, lake)
    spec = spec_of(**TOKEN_SPEC)
    _, first, _ = ingest(tmp_path / "a", lake, spec, "2025-08-01.csv", REQUESTS.encode())
    other = LakeConfig(str(tmp_path / "b.sqlite"), str(tmp_path / "b-lake"))
    with lake_connection(other) as con:
        load_reference_table(con, REF_TABLES["chips"], Location(str(tmp_path / "landing")))
    with_rates(tmp_path, other)
    _, second, _ = ingest(tmp_path / "b", other, spec, "2025-08-01.csv", REQUESTS.encode())
    strip = ("source_file",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in first] == [
        {k: v for k, v in r.items() if k not in strip} for r in second
    ]


def test_a_trace_without_prices_or_chips_counts_gpu_hours_and_invents_nothing(
    tmp_path: Path, lake: LakeConfig
) -> None:
    spec = spec_of(
        unpriced=True,
        unknown_chip="load",
        columns={
            "tenant_id": "tenant",
            "charge_period_start": {"column": "start", "epoch": "s", "origin": "2025-08-01T00:00:00+08:00"},
            "charge_period_end": {"column": "end", "epoch": "s", "origin": "2025-08-01T00:00:00+08:00"},
            "chip": "chip",
            "gpu_count": "cards",
        },
    )
    content = (
        b"tenant,start,end,chip,cards\nT1,0,3600,,2\nT1,0,1800,A100,4\nT1,600,4200,Z9000,1\nT1,0,60,,0\n"
    )
    _, rows, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", content)
    assert quarantine == []
    by_row = {r["source_row"]: r for r in rows}
    assert [by_row[n]["chip_model"] for n in (1, 2, 3)] == ["unknown", "A100", "unknown"]
    assert by_row[3]["raw_chip"] == "Z9000"  # the provider's name is kept, never replaced by a guess
    assert [by_row[n]["gpu_hours"] for n in (1, 2, 3)] == [2.0, 2.0, 1.0]
    assert by_row[1]["pflop_hours"] is None and by_row[3]["pflop_hours"] is None
    assert by_row[2]["pflop_hours"] == pytest.approx(2.0 * 312 / 1000)
    assert by_row[4]["chip_model"] is None  # no GPU time: nothing to name
    assert all(r["billed_cost"] is None and r["billed_cost_cny"] is None for r in rows)


def test_unknown_chips_are_quarantined_unless_the_spec_says_load(tmp_path: Path, lake: LakeConfig) -> None:
    content = b"tenant,start,end,chip,cards,cost\nT1,2025-08-01T01:00:00Z,2025-08-01T02:00:00Z,Z9000,1,10\n"
    _, rows, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", content)
    assert rows == [] and quarantine == [(1, "unknown_chip")]


HPSS_SPEC = {
    "kind": "transfers",
    "provider_id": None,
    "landing": {"glob": "acme/*", "partition": {"regex": r"(\d{4}-\d{2}-\d{2})"}},
    "format": {
        "type": "regex",
        "patterns": [
            {"name": "title", "regex": r"HPSS Report for Date (?P<report_date>\d{4}-\d{2}-\d{2})"},
            {"name": "section", "regex": r"(?P<system>\w+)\s*: IO Totals by (?P<grouping>.+)"},
            {"name": "layout", "regex": r"(?:Host\s|=+|HPSS ACCOUNTING:)"},
            {
                "name": "host",
                "regex": r"(?P<host>\S+)\s+(?P<users>\d+)\s+(?P<io_gb>[\d.]+)\s+(?P<ops>\d+)"
                r"\s+(?P<write_gb>[\d.]+)\s+\d+\s+(?P<read_gb>[\d.]+)\s+\d+\s+[\d.]+\s+\d+\s*$",
            },
        ],
    },
    "timezone": "America/Los_Angeles",
    "values": {  # a report covers the local day its file is named for
        "day_start": {"expr": "file_day", "type": "timestamp"},
        "day_end": {"expr": "add_seconds(day_start, 86400)", "type": "timestamp"},
    },
    "columns": {
        "transfer_id": {"expr": "concat(file_day, '/', host)"},
        "host": "host",
        "bytes": {"expr": "round(number(io_gb) * 1000000000)"},
        "start_time": {"expr": "day_start"},
        "end_time": {"expr": "day_end"},
        "direction": {"const": "archive"},
    },
    "rules": [
        {"name": "layout", "when": "record_type != 'host'", "action": "skip"},
        {"name": "totals", "when": "host == 'Total'", "action": "skip"},
    ],
    "optional_columns": [],
}


def test_a_log_whose_lines_differ_by_record_type(tmp_path: Path, lake: LakeConfig) -> None:
    report = (
        "HPSS Report for Date 2018-08-09\n\n"
        "Archive : IO Totals by HPSS Client Gateway (UI) Host\n"
        "Host             Users      IO_GB       Ops   Write_GB     W_Ops    Read_GB     R_Ops    Copy_GB     C_Ops\n"
        "===============  =====  =========  ========  =========  ========  =========  ========  =========  ========\n"
        "heart               53   148740.6     27991   109266.6     20172    39474.0      7819        0.0         0\n"
        "dtn11                5    29538.6      1694    29471.4      1688       67.3         6        0.0         0\n"
        "Total               58   178279.2     29685   138738.0     21860    39541.2      7825        0.0         0\n"
        "HPSS ACCOUNTING:         224962.6\n"
        "a stray line that is none of these\n"
    )
    spec = spec_of(**HPSS_SPEC)
    _, rows, quarantine = ingest(tmp_path, lake, spec, "2018-08-09.txt", report.encode())
    assert quarantine == [
        (1, "skip:layout"),
        (3, "skip:layout"),
        (4, "skip:layout"),
        (5, "skip:layout"),
        (8, "skip:totals"),
        (9, "skip:layout"),
        (10, "no_pattern_matched"),
    ]
    assert [(r["host"], r["bytes"]) for r in rows] == [("heart", 148740600000000), ("dtn11", 29538600000000)]
    pacific_midnight = datetime(2018, 8, 9, 7, tzinfo=UTC)
    assert {(r["start_time"], r["end_time"]) for r in rows} == {
        (pacific_midnight, datetime(2018, 8, 10, 7, tzinfo=UTC))
    }


def test_start_is_the_end_less_the_duration_in_the_spec_time_zone(tmp_path: Path, lake: LakeConfig) -> None:
    """A log that writes when a job ended (local wall-clock time) and how long it ran: the value is parsed once,
    in the spec's zone, and both charge period ends read it."""
    spec = spec_of(
        timezone="Asia/Shanghai",
        values={
            "ended": {"column": "end", "type": "timestamp", "format": "%Y/%m/%d %H:%M:%S"},
            "ran": {"expr": "double(seconds)", "type": "double"},
        },
        columns={
            "tenant_id": "tenant",
            "charge_period_start": {"expr": "add_seconds(ended, -ran)"},
            "charge_period_end": {"expr": "ended"},
            "chip": "chip",
            "gpu_count": {"expr": "integer(cards)"},
            "billed_cost": "cost",
        },
    )
    content = (
        b"tenant,end,seconds,chip,cards,cost\n"
        b"T1,2025/08/01 10:30:00,5400,A100,2,10\n"
        b"T1,2025/08/01 10:30:00,x,A100,2,10\n"
    )
    _, rows, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", content)
    assert quarantine == [(2, "unparsable:ran")]
    (row,) = rows
    assert row["charge_period_end"] == datetime(2025, 8, 1, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
    assert row["charge_period_start"] == datetime(2025, 8, 1, 1, 0, tzinfo=UTC)
    assert row["gpu_hours"] == pytest.approx(3.0)
