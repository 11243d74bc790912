"""The real public samples (Alibaba PAI GPU trace, FOCUS 1.2 example bills) land and load like any provider."""

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import Deployment
from warehouse.settings import CONTRACTS_DIR

PAI = CONTRACTS_DIR / "samples" / "alibaba_pai_gpu_2023" / "openb_pod_list_default.csv"
ORIGIN = datetime(2025, 7, 31, 16, 0, tzinfo=UTC)  # 2025-08-01 00:00 Asia/Shanghai, as the spec states


def pai_pods() -> list[dict[str, str]]:
    with open(PAI, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_scheduled_gpu_pod_is_a_charge_line(demo: Deployment) -> None:
    pods = pai_pods()
    gpu_scheduled = [p for p in pods if p["scheduled_time"] and int(p["num_gpu"]) > 0]
    loaded = demo.query(  # charge lines: a pod that runs over several days is one line in daily parts
        "SELECT count(*) FROM core.compute_usage WHERE source_name = 'alibaba_pai' AND period_part = 1"
    )[0][0]
    assert loaded == len(gpu_scheduled)
    assert loaded + 897 + 1052 == len(pods)


@pytest.mark.parametrize("pod_name", ["openb-pod-0001", "openb-pod-0035", "openb-pod-0033"])
def test_fractional_gpus_relative_times_and_no_invented_price_or_chip(
    demo: Deployment, pod_name: str
) -> None:
    pod = next(p for p in pai_pods() if p["name"] == pod_name)
    row = demo.query(  # the pod's line, its daily parts added up
        "SELECT min(charge_period_start), max(charge_period_end), any_value(gpu_count), sum(gpu_hours), "
        "count(billed_cost), any_value(chip_model), any_value(raw_chip), any_value(job_status), "
        "count(pflop_hours) FROM core.compute_usage WHERE job_id = ?",
        [pod_name],
    )[0]
    start, end, gpu_count, gpu_hours, costs, chip, raw_chip, status, pflops = row
    assert start == ORIGIN + timedelta(seconds=int(pod["scheduled_time"]))
    assert end == ORIGIN + timedelta(seconds=int(pod["deletion_time"]))
    expected_gpus = int(pod["num_gpu"]) * int(pod["gpu_milli"]) / 1000
    assert gpu_count == pytest.approx(expected_gpus)
    hours = (int(pod["deletion_time"]) - int(pod["scheduled_time"])) / 3600
    assert gpu_hours == pytest.approx(expected_gpus * hours)
    assert status == pod["pod_phase"].lower() and costs == 0  # a trace, not a bill: no cost is made up
    named = pod["gpu_spec"].split("|")[0]
    assert raw_chip == (named or None)
    if named:
        assert chip == named and pflops > 0
    else:  # no GPU model constraint: GPU-hours count on chip 'unknown', PFLOP-hours stay NULL
        assert chip == "unknown" and pflops == 0


def test_the_trace_totals_match_the_file_and_stay_out_of_costs(demo: Deployment) -> None:
    pods = [p for p in pai_pods() if p["scheduled_time"] and int(p["num_gpu"]) > 0]
    expected = sum(
        int(p["num_gpu"])
        * int(p["gpu_milli"])
        / 1000
        * (int(p["deletion_time"]) - int(p["scheduled_time"]))
        / 3600
        for p in pods
    )
    gpu_hours, costs = demo.query(
        "SELECT sum(gpu_hours), count(billed_cost_cny) FROM core.compute_usage WHERE source_name = 'alibaba_pai'"
    )[0]
    assert gpu_hours == pytest.approx(expected, rel=1e-9) and costs == 0
    in_chip_mix = demo.query("SELECT sum(gpu_hours) FROM marts.chip_mix WHERE provider_id = 'alibaba_pai'")[
        0
    ][0]
    assert float(in_chip_mix) == pytest.approx(expected, rel=1e-6)
    elsewhere = demo.query(
        "SELECT (SELECT count(*) FROM exports.focus_cost_and_usage WHERE x_SourceName = 'alibaba_pai'), "
        "(SELECT count(*) FROM marts.cost_reduction_monthly WHERE provider_id = 'alibaba_pai'), "
        "(SELECT count(*) FROM marts.subsidy_attribution WHERE provider_id = 'alibaba_pai')"
    )[0]
    assert elsewhere == (0, 0, 0)


LLM = CONTRACTS_DIR / "samples" / "azure_llm_inference_2023" / "AzureLLMInferenceTrace_conv_head.csv"


def test_a_provider_billed_per_input_and_output_token(demo: Deployment) -> None:
    with open(LLM, encoding="utf-8") as handle:
        requests = list(csv.DictReader(handle))
    prices = dict(
        demo.query(
            "SELECT service, contracted_price FROM ref.rate_cards WHERE provider_id = 'azure_llm_trace' "
            "AND model_id = 'conversation-llm'"
        )
    )
    tokens_in = sum(int(r["ContextTokens"]) for r in requests)
    tokens_out = sum(int(r["GeneratedTokens"]) for r in requests)
    money = sum(
        Decimal(str(round(int(r["ContextTokens"]) / 1e6 * prices["llm_input_tokens"], 4)))
        + Decimal(str(round(int(r["GeneratedTokens"]) / 1e6 * prices["llm_output_tokens"], 4)))
        for r in requests
    )
    rows = dict(
        (line, (lines, quantity, billed, unit, gpu))
        for line, lines, quantity, billed, unit, gpu in demo.query(
            "SELECT source_line, count(*), sum(consumed_quantity), sum(billed_cost_cny), any_value(pricing_unit), "
            "count(gpu_hours) FROM core.compute_usage WHERE source_name = 'azure_llm_trace' GROUP BY ALL"
        )
    )
    assert rows["input_tokens"][:2] == (len(requests), tokens_in)
    assert rows["output_tokens"][:2] == (len(requests), tokens_out)
    assert rows["input_tokens"][2] + rows["output_tokens"][2] == money
    assert {r[3] for r in rows.values()} == {"1000000 Tokens"} and {r[4] for r in rows.values()} == {0}
    exported = demo.query(
        "SELECT sum(ConsumedQuantity), sum(BilledCost), count(*) FROM exports.focus_cost_and_usage "
        "WHERE x_SourceName = 'azure_llm_trace'"
    )[0]
    assert exported == (tokens_in + tokens_out, money, 2 * len(requests))
    # GPU-hour marts leave tokens out; the cost mart has them as their own kind of usage
    assert demo.query("SELECT count(*) FROM marts.chip_mix WHERE provider_id = 'azure_llm_trace'")[0][0] == 0
    costs = demo.query(
        "SELECT usage_kind, sum(billed_cost_cny), sum(gpu_hours) FROM marts.cost_reduction_monthly "
        "WHERE provider_id = 'azure_llm_trace' GROUP BY ALL"
    )
    assert costs == [("tokens", money, 0)]


def test_focus_bills_with_bom_us_dates_purchases_and_usd(demo: Deployment) -> None:
    rows = demo.query(  # one row per bill line, its daily parts (usage over several days) added up
        "SELECT source_file, any_value(charge_category), min(charge_period_start), sum(billed_cost), "
        "sum(billed_cost_cny), any_value(fx_rate_to_cny) FROM core.compute_usage WHERE source_name = 'focus_samples' "
        "GROUP BY source_file, source_row ORDER BY source_file, source_row"
    )
    assert len(rows) == 8
    assert {r[1] for r in rows} == {"Usage", "Purchase"}
    saas = [r for r in rows if r[0].endswith("saas_spend_agreements_a1.csv")]
    # "4/1/25" and "5/1/25" are US-style month/day/year
    assert {r[2].date().isoformat() for r in saas} >= {"2025-04-01", "2025-05-01"}
    fx = dict(demo.query("SELECT valid_from, rate_to_cny FROM ref.fx_rates WHERE currency = 'USD'"))
    for _, _, start, billed, billed_cny, rate in rows:
        month_rate = fx[start.date().replace(day=1)]
        assert rate == month_rate
        assert billed_cny == (billed * Decimal(str(month_rate))).quantize(Decimal("0.0001"))


def test_samples_ship_with_their_provenance_and_licence() -> None:
    for folder, licence in [
        ("alibaba_pai_gpu_2023", "LICENSE_cluster-trace-gpu-v2020_CC-BY-4.0.txt"),
        ("azure_llm_inference_2023", "LICENSE_CC-BY-4.0.txt"),
        ("focus_1_2", "LICENSE.md"),
        ("nersc_transfer_logs", "LICENSE"),
        ("data_provenance_catalog", "LICENSE"),
    ]:
        readme = (CONTRACTS_DIR / "samples" / folder / "README.txt").read_text(encoding="utf-8")
        assert "Source:" in readme and "commit" in readme
        assert (CONTRACTS_DIR / "samples" / folder / licence).stat().st_size > 0


HPSS = CONTRACTS_DIR / "samples" / "nersc_transfer_logs" / "hpss_daily.txt"


def hpss_largest_users() -> dict[str, int]:
    """Bytes per transfer id of the report's "Largest Users" tables, read independently of the spec."""
    found, system, table, day = {}, None, None, None
    for line in HPSS.read_text(encoding="utf-8").splitlines():
        if line.startswith("HPSS Report for Date"):
            day = line.split()[-1]
        elif ":" in line and line.split(":")[0].strip() in ("Archive", "Hpss"):
            system, table = (part.strip() for part in line.split(":", 1))
        elif table == "Largest Users" and len(line.split()) == 10 and line.split()[1].isalpha():
            user, app, io_gb = line.split()[:3]
            if io_gb.replace(".", "").isdigit():
                found[f"{day}/{system}/{user}/{app}"] = round(float(io_gb) * 1e9)
    return found


def test_a_report_whose_lines_differ_by_record_type(demo: Deployment) -> None:
    expected = hpss_largest_users()
    loaded = dict(
        demo.query("SELECT transfer_id, bytes FROM core.data_transfers WHERE source_name = 'nersc_hpss'")
    )
    assert loaded == expected and len(expected) == 57
    ((read, kept, skipped),) = demo.query(
        "SELECT rows_read, rows_loaded, rows_skipped FROM audit.ingest_ledger WHERE source_name = 'nersc_hpss'"
    )
    lines = [line for line in HPSS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert (read, kept, skipped) == (len(lines), 57, len(lines) - 57)
    starts = demo.query(
        "SELECT DISTINCT start_time, end_time FROM core.data_transfers WHERE source_name = 'nersc_hpss'"
    )
    assert starts == [(datetime(2018, 8, 9, 7, tzinfo=UTC), datetime(2018, 8, 10, 7, tzinfo=UTC))]
