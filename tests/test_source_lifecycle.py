"""Deliveries over time: re-deliveries, corrections and the landing sensor, through real Dagster runs."""

import json
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import Deployment
from tests.test_end_to_end import snapshot
from tests.test_incremental import materialized

pytestmark = pytest.mark.slow  # refreshes small demo lakehouses through deliveries

DAY = "2025-08-02"
BILL = "providers/telecom_sh/bill_20250802.csv"


def telecom_day(deployment: Deployment) -> list[tuple]:
    return deployment.query(
        "SELECT source_file, count(*), sum(billed_cost) FROM core.compute_usage "
        "WHERE source_name = 'telecom_sh' AND partition_key = ? GROUP BY 1",
        [DAY],
    )


def test_an_identical_redelivery_is_not_loaded_twice(refreshed: Deployment) -> None:
    before = snapshot(refreshed.settings.lake)
    landing = Path(refreshed.settings.landing_url)
    shutil.copy(landing / BILL, landing / "providers/telecom_sh/bill_20250802 (1).csv")
    (landing / BILL).write_bytes((landing / BILL).read_bytes())  # same bytes, new mtime
    assert refreshed.refresh(checks=False).success
    after = snapshot(refreshed.settings.lake)
    assert {k: v for k, v in after.items() if k != "audit.ingest_ledger"} == {
        k: v for k, v in before.items() if k != "audit.ingest_ledger"
    }
    ((status, detail),) = refreshed.query(
        "SELECT status, detail FROM audit.ingest_ledger WHERE source_file LIKE '%(1).csv'"
    )
    assert status == "duplicate" and BILL in detail


def test_a_corrected_redelivery_replaces_the_rows_of_the_file_it_corrects(refreshed: Deployment) -> None:
    landing = Path(refreshed.settings.landing_url)
    lines = (landing / BILL).read_bytes().decode("gbk").splitlines()
    header, rows = lines[0], lines[1:]
    kept = rows[: len(rows) // 2]
    corrected = landing / "providers/telecom_sh/bill_20250802_v2.csv"
    corrected.write_bytes(("\r\n".join([header, *kept]) + "\r\n").encode("gbk"))
    assert refreshed.refresh(checks=False).success
    ((source_file, count, _),) = telecom_day(refreshed)
    quarantined = refreshed.query(
        "SELECT rows_quarantined FROM audit.ingest_ledger WHERE source_file = ?",
        [str(corrected.relative_to(landing))],
    )[0][0]
    assert source_file.endswith("_v2.csv") and count == len(kept) - quarantined
    ((status, detail),) = refreshed.query(
        "SELECT status, detail FROM audit.ingest_ledger WHERE source_file = ?", [BILL]
    )
    assert status == "superseded" and "_v2.csv" in detail
    ((ledger_money, core_money),) = refreshed.query(
        "SELECT (SELECT sum(money_loaded) FROM audit.ingest_ledger WHERE kind = 'usage'),"
        " (SELECT sum(billed_cost) FROM core.compute_usage)"
    )
    assert ledger_money == core_money


def evaluate(deployment: Deployment, defs: dg.Definitions, cursor: str | None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("landing_files")
    with (
        deployment.environment(),
        dg.build_sensor_context(
            instance=deployment.instance,
            cursor=cursor,
            definitions=defs,
            resources={"lakehouse": defs.resources["lakehouse"]},
        ) as context,
    ):
        return sensor(context)


def test_the_landing_sensor_requests_exactly_the_changed_partitions(refreshed: Deployment) -> None:
    defs = refreshed.definitions()
    first = evaluate(refreshed, defs, None)  # a sensor started on a refreshed lake: every file is new to it
    days = {r.tags.get("dagster/asset_partition_range_start") for r in first.run_requests}
    assert "2025-08-01" in days and first.cursor
    second = evaluate(refreshed, defs, first.cursor)
    assert not second.run_requests and "no new or changed" in str(second.skip_reason)
    landing = Path(refreshed.settings.landing_url)
    shutil.copy(landing / BILL, landing / "providers/telecom_sh/bill_20250805.csv")
    third = evaluate(refreshed, defs, second.cursor)
    (request,) = third.run_requests
    selected = set(request.asset_selection)
    assert dg.AssetKey(["ingest", "telecom_sh"]) in selected
    assert not {k for k in selected if k.path[0] == "ingest"} - {dg.AssetKey(["ingest", "telecom_sh"])}
    # ... and everything downstream of it, over the same day: core, marts, the warehouse snapshot, dashboards
    assert {dg.AssetKey(["core", "compute_usage"]), dg.AssetKey(["marts", "chip_mix"])} <= selected
    assert {dg.AssetKey("warehouse"), dg.AssetKey("dashboards")} <= selected
    assert dg.AssetKey(["ref", "chips"]) not in selected  # up to date: not loaded again
    assert defs.resolve_sensor_def("landing_files").job_name == "refresh_all"
    assert defs.resolve_sensor_def("landing_files").default_status == dg.DefaultSensorStatus.RUNNING
    assert request.tags["dagster/asset_partition_range_start"] == "2025-08-05"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-08-05"
    assert json.loads(third.cursor)["telecom_sh"]["2025-08-05"]


def test_a_landing_zone_without_dated_files_refreshes_the_rest(fresh: Deployment) -> None:
    landing = Path(fresh.settings.landing_url)
    for folder in ("providers", "transfers", "catalog"):
        shutil.rmtree(landing / folder)
    outcome = fresh.refresh(checks=False)
    assert outcome.success, outcome.failures
    assert outcome.partition_range is None
    assert fresh.query("SELECT count(*) FROM core.compute_usage") == [(0,)]
    assert fresh.query("SELECT count(*) FROM core.vouchers")[0][0] > 0
    assert fresh.query("SELECT count(*) FROM marts.network_savings") == [(0,)]


def test_a_withdrawn_delivery_takes_its_lines_and_money_out_of_core_and_marts(refreshed: Deployment) -> None:
    (source_file, money, day), *_ = refreshed.query(
        "SELECT source_file, money_loaded, partition_key FROM audit.ingest_ledger "
        "WHERE source_name = 'telecom_sh' AND status = 'loaded' AND rows_loaded > 0 ORDER BY source_file"
    )
    lines = "SELECT count(*), sum(effective_cost_cny) FROM {} WHERE {} = ?"
    before = refreshed.query(lines.format("core.compute_usage", "charge_date"), [day])
    mart_before = refreshed.query(
        "SELECT sum(charge_lines), sum(effective_cost_cny) FROM marts.chip_mix WHERE usage_date = ?", [day]
    )
    (of_file,) = refreshed.query(lines.format("core.compute_usage", "source_file"), [source_file])
    (on_day,) = refreshed.query(
        "SELECT count(*), sum(effective_cost_cny) FROM core.compute_usage WHERE source_file = ? AND charge_date = ?",
        [source_file, day],
    )
    assert of_file[0] > 0 and refreshed.query(
        "SELECT sum(billed_cost) FROM core.compute_usage WHERE source_file = ?", [source_file]
    ) == [(money,)]
    with refreshed.environment():
        result = CliRunner().invoke(
            main, ["withdraw", "telecom_sh", source_file, "--reason", "sent in error"]
        )
    assert result.exit_code == 0, result.output
    assert refreshed.query(lines.format("core.compute_usage", "source_file"), [source_file]) == [(0, None)]
    after = refreshed.query(lines.format("core.compute_usage", "charge_date"), [day])
    assert after == [(before[0][0] - on_day[0], before[0][1] - on_day[1])]
    assert refreshed.query(
        "SELECT sum(charge_lines), sum(effective_cost_cny) FROM marts.chip_mix WHERE usage_date = ?", [day]
    ) == [(mart_before[0][0] - on_day[0], mart_before[0][1] - on_day[1])]
    (status, detail, held, loaded) = refreshed.query(
        "SELECT status, detail, rows_held, rows_loaded FROM audit.ingest_ledger WHERE source_file = ?",
        [source_file],
    )[0]
    assert status == "withdrawn" and "sent in error" in detail and held > 0 and loaded == 0


def test_a_providers_new_rate_card_rows_take_effect_with_a_refresh_of_its_source(
    refreshed: Deployment,
) -> None:
    """The rate cards are reference data the provider's source reads: selecting the source refreshes them too."""
    money = "SELECT sum(billed_cost) FROM core.compute_usage WHERE source_name = 'azure_llm_trace'"
    output_tokens = (
        "SELECT sum(consumed_quantity) FROM core.compute_usage WHERE source_name = 'azure_llm_trace' "
        "AND source_line = 'output_tokens'"
    )
    ((before,),), ((tokens,),) = refreshed.query(money), refreshed.query(output_tokens)
    cards = Path(refreshed.settings.landing_url) / "reference" / "rate_cards.csv"
    text = cards.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if "llm_output_tokens" in line)
    new = old.replace(",8.00,6.40,", ",8.00,4.40,")  # the output-token price cut by 2 CNY per million
    assert new != old
    cards.write_text(text.replace(old, new), encoding="utf-8")
    outcome = refreshed.refresh(selection="key:ingest/azure_llm_trace+", checks=False)
    assert outcome.success, outcome.failures
    ((after,),) = refreshed.query(money)
    assert before - after == pytest.approx(
        Decimal(str(tokens)) * Decimal("2") / Decimal("1e6"), abs=Decimal("0.01")
    )
    assert refreshed.query(
        "SELECT contracted_price FROM ref.rate_cards WHERE service = 'llm_output_tokens'"
    ) == [(4.4,)]


def test_a_catalog_source_and_what_it_feeds_refresh_by_selection(refreshed: Deployment) -> None:
    outcome = refreshed.refresh(selection="key:ingest/opendatalab+", checks=False)
    assert outcome.success, outcome.failures
    ran = {key.to_user_string() for key in materialized(refreshed, outcome.run_id)}
    assert {"ingest/opendatalab", "core/dataset_catalog", "core/dataset_terms"} <= ran
