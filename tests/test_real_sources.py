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
def test_fractional_gpus_relative_times_and_rate_card_pricing(demo: Deployment, pod_name: str) -> None:
    pod = next(p for p in pai_pods() if p["name"] == pod_name)
    ((list_price, contracted),) = demo.query(
        "SELECT list_price, contracted_price FROM ref.rate_cards WHERE provider_id = 'alibaba_pai' "
        "AND chip_model = 'V100'"
    )
    row = demo.query(  # the pod's line, its daily parts added up
        "SELECT min(charge_period_start), max(charge_period_end), any_value(gpu_count), sum(gpu_hours), "
        "sum(list_cost), sum(billed_cost), any_value(chip_model), any_value(job_status), "
        "bool_and(priced_from_rate_card), sum(pflop_hours) FROM core.compute_usage WHERE job_id = ?",
        [pod_name],
    )[0]
    start, end, gpu_count, gpu_hours, list_cost, billed, chip, status, priced, pflop = row
    assert start == ORIGIN + timedelta(seconds=int(pod["scheduled_time"]))
    assert end == ORIGIN + timedelta(seconds=int(pod["deletion_time"]))
    expected_gpus = int(pod["num_gpu"]) * int(pod["gpu_milli"]) / 1000
    assert gpu_count == pytest.approx(expected_gpus)
    hours = (int(pod["deletion_time"]) - int(pod["scheduled_time"])) / 3600
    assert gpu_hours == pytest.approx(expected_gpus * hours)
    assert priced and chip == "V100" and status == pod["pod_phase"].lower()
    assert list_cost == Decimal(str(round(gpu_hours * list_price, 4)))
    assert billed == Decimal(str(round(gpu_hours * contracted, 4)))
    assert pflop == pytest.approx(gpu_hours * 125 / 1000)


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
        ("focus_1_2", "LICENSE.md"),
        ("nersc_transfer_logs", "LICENSE"),
        ("data_provenance_catalog", "LICENSE"),
    ]:
        readme = (CONTRACTS_DIR / "samples" / folder / "README.txt").read_text(encoding="utf-8")
        assert "Source:" in readme and "commit" in readme
        assert (CONTRACTS_DIR / "samples" / folder / licence).stat().st_size > 0
