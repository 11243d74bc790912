"""Capacity planning marts: supply, demand, utilization, queue wait, forecasts, alerts and backtests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from assets.capacity import forecast as fc
from assets.capacity.planning import naive_comparison, plan_capacity
from assets.contracts.checks import failures_markdown
from assets.contracts.suites import suite_paths
from assets.contracts.validation import load_suite, validate
from assets.resources import Lakehouse
from tests.conftest import Deployment

PAI = Path(__file__).resolve().parents[1] / "data_contracts/samples/alibaba_pai_gpu_2023"
AGREED = {
    "marts.capacity_demand_daily": "series_id site_id chip_family provider_id usage_date gpu_hours pflop_hours "
    "available_gpu_hours available_pflop_hours",
    "marts.capacity_forecast": "series_id site_id chip_family provider_id metric forecast_date step horizon_days "
    "model mean lo_80 hi_80 lo_95 hi_95 supply projected_utilization",
    "marts.capacity_alerts": "series_id site_id chip_family provider_id metric threshold first_date probability",
    "marts.forecast_backtest": "series_id metric model mase smape coverage_80 coverage_95 n_windows chosen note",
    "marts.utilization_daily": "usage_date site_id chip_family used_gpu_hours available_gpu_hours "
    "idle_gpu_hours utilization",
    "marts.queue_wait": "submit_date site_id provider_id jobs mean_wait_hours p50_wait_hours p90_wait_hours",
}


def _frame(demo: Deployment, sql: str) -> pl.DataFrame:
    from warehouse.ducklake import connect_reader

    with connect_reader(demo.settings.lake) as con:
        return con.sql(sql).pl()


def _family(domestic: pl.Expr, vendor: pl.Expr) -> pl.Expr:
    return (
        pl.when(domestic)
        .then(pl.lit("domestic"))
        .when(vendor == "NVIDIA")
        .then(pl.lit("nvidia"))
        .otherwise(pl.lit("other"))
    )


def test_published_tables_carry_the_agreed_columns(demo: Deployment) -> None:
    for table, columns in AGREED.items():
        present = {r[0] for r in demo.query(f"DESCRIBE {table}")}
        assert set(columns.split()) <= present, (table, set(columns.split()) - present)
        assert demo.query(f"SELECT count(*) FROM {table}")[0][0] > 0, table


def test_the_demo_keeps_the_capacity_contracts_warnings_included(demo: Deployment) -> None:
    with demo.environment():
        lakehouse = Lakehouse.from_settings(demo.settings)
        for table in [*AGREED, "marts.capacity_supply_daily", "ref.capacity_plan"]:
            with lakehouse.connect() as con:
                outcome = validate(con, load_suite(suite_paths()[table]))
            assert outcome.failed == [], (table, failures_markdown(outcome))
            assert all(o.error is None for o in outcome.outcomes), table


def test_utilization_equals_core_usage_over_the_planned_pool(demo: Deployment) -> None:
    usage = _frame(
        demo,
        "SELECT charge_date, site_id, is_domestic_chip, chip_vendor, gpu_hours FROM core.compute_usage "
        "WHERE charge_category = 'Usage' AND site_id IS NOT NULL AND chip_vendor IS NOT NULL",
    )
    plan = _frame(demo, "SELECT * FROM ref.capacity_plan JOIN ref.chips USING (chip_model)")
    mart = _frame(demo, "SELECT * FROM marts.utilization_daily")
    first, last = mart["usage_date"].min(), mart["usage_date"].max()
    used = (
        usage.filter(pl.col("charge_date").is_between(first, last))
        .group_by(
            usage_date="charge_date",
            site_id="site_id",
            chip_family=_family(pl.col("is_domestic_chip"), pl.col("chip_vendor")),
        )
        .agg(expected_used=pl.col("gpu_hours").sum())
    )
    # Available: for each site, chip and day, the latest plan row in effect; 24 hours per pool card.
    days = pl.DataFrame({"usage_date": pl.date_range(first, last, eager=True)})
    in_effect = (
        days.join(plan, how="cross")
        .filter(pl.col("effective_date") <= pl.col("usage_date"))
        .sort("effective_date")
        .group_by("usage_date", "site_id", "chip_model")
        .last()
    )
    available = in_effect.group_by(
        "usage_date", "site_id", chip_family=_family(pl.col("domestic"), pl.col("vendor"))
    ).agg(expected_available=(pl.col("cards") * pl.col("pool_share")).sum() * 24)
    compared = mart.join(used, on=["usage_date", "site_id", "chip_family"], how="full", coalesce=True).join(
        available, on=["usage_date", "site_id", "chip_family"], how="left"
    )
    assert compared.height == mart.height > 0
    assert np.allclose(compared["used_gpu_hours"], compared["expected_used"].fill_null(0.0), atol=1e-3)
    assert np.allclose(compared["available_gpu_hours"], compared["expected_available"], rtol=1e-9)
    assert np.allclose(
        compared["utilization"], compared["used_gpu_hours"] / compared["available_gpu_hours"], atol=1e-6
    )
    assert np.allclose(
        compared["idle_gpu_hours"], compared["available_gpu_hours"] - compared["used_gpu_hours"], atol=1e-5
    )


def test_demand_series_sum_up_and_provider_series_share_their_site_pool(demo: Deployment) -> None:
    demand = _frame(demo, "SELECT * FROM marts.capacity_demand_daily")
    by_level = demand.group_by("level").agg(pl.col("gpu_hours").sum())
    totals = dict(by_level.iter_rows())
    assert (
        totals["provider"]
        == pytest.approx(totals["site"], rel=1e-9)
        == pytest.approx(totals["city"], rel=1e-9)
    )
    site = demand.filter(pl.col("level") == "site").select(
        "site_id", "chip_family", "usage_date", "available_gpu_hours"
    )
    providers = demand.filter(pl.col("level") == "provider").join(
        site, on=["site_id", "chip_family", "usage_date"], suffix="_site"
    )
    assert (
        providers.height and (providers["available_gpu_hours"] == providers["available_gpu_hours_site"]).all()
    )
    assert demand.group_by("series_id").agg(pl.col("usage_date").max())["usage_date"].n_unique() == 1


def test_forecasts_cover_every_series_and_fall_back_on_short_history(demo: Deployment) -> None:
    demand = _frame(demo, "SELECT series_id, count(*) AS days FROM marts.capacity_demand_daily GROUP BY ALL")
    forecast = _frame(demo, "SELECT * FROM marts.capacity_forecast")
    backtest = _frame(demo, "SELECT * FROM marts.forecast_backtest")
    counts = forecast.group_by("series_id", "metric").len()
    assert set(counts["series_id"]) == set(demand["series_id"]) and (counts["len"] == 180).all()
    assert forecast.select(pl.min_horizontal("mean", "lo_80", "lo_95").min()).item() >= 0
    assert set(forecast["horizon_days"]) == {30, 90, 180}
    # The demo fixture holds 12 days: too short for a seasonal model, so every series says why it fell back.
    assert demand["days"].max() < fc.MIN_SEASONAL_DAYS
    assert (backtest["n_windows"] == 0).all() and backtest["chosen"].all()
    assert backtest["note"].str.contains("short history").all()
    assert set(forecast["model"]) == {"Naive"}


def test_alerts_match_an_independent_scan_of_the_forecast(demo: Deployment) -> None:
    forecast = _frame(demo, "SELECT * FROM marts.capacity_forecast WHERE level IN ('site', 'city')")
    alerts = _frame(demo, "SELECT * FROM marts.capacity_alerts")
    assert alerts.height == 2 * forecast.select("series_id", "metric").n_unique()
    for row in alerts.iter_rows(named=True):
        days = forecast.filter(
            (pl.col("series_id") == row["series_id"]) & (pl.col("metric") == row["metric"])
        ).sort("forecast_date")
        passed = days.filter(pl.col("mean") > row["threshold"] * pl.col("supply"))
        assert row["first_date"] == (passed["forecast_date"][0] if passed.height else None), row
        if row["first_date"] is not None:
            day = passed.row(0, named=True)
            expected = fc.exceedance_probability(
                day["mean"], day["lo_95"], day["hi_95"], row["threshold"] * day["supply"]
            )
            assert row["probability"] == pytest.approx(float(expected))


def test_queue_wait_counts_every_job_with_a_submit_time(demo: Deployment) -> None:
    jobs = _frame(
        demo,
        "SELECT provider_id, job_id, min(job_submit_time) AS submitted, min(charge_period_start) AS started "
        "FROM core.compute_usage WHERE job_submit_time IS NOT NULL GROUP BY ALL",
    )
    mart = _frame(demo, "SELECT * FROM marts.queue_wait")
    assert jobs.height > 0 and mart["jobs"].sum() == jobs.height
    waits = (jobs["started"] - jobs["submitted"]).dt.total_seconds() / 3600
    assert mart["max_wait_hours"].max() == pytest.approx(waits.max(), abs=1e-5)


def test_model_checks_ran_and_passed(demo: Deployment) -> None:
    key = dg.AssetKey(["marts", "forecast_backtest"])
    for name in ("chosen_models_beat_seasonal_naive", "interval_coverage", "contract"):
        record = demo.instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(key, name)]
        )[dg.AssetCheckKey(key, name)]
        assert record is not None and record.evaluation is not None and record.evaluation.passed, name


def _synthetic_demand() -> tuple[pl.DataFrame, pl.DataFrame, dt.date]:
    """Series of every awkward kind at one site, and a pool that doubles 40 days into the horizon."""
    rng = np.random.default_rng(3)
    end = dt.date(2025, 6, 30)
    weekly = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.5])

    def days(n: int) -> list[dt.date]:
        return [end - dt.timedelta(days=n - 1 - i) for i in range(n)]

    t = np.arange(200)
    shapes = {
        "regular": (200, (500 + 2 * t) * weekly[t % 7] + rng.normal(0, 20, 200)),
        "short": (9, np.full(9, 100.0)),
        "new": (40, 300 * weekly[np.arange(40) % 7]),
        "intermittent": (200, rng.binomial(1, 0.2, 200) * rng.gamma(2.0, 50.0, 200)),
        "break": (200, np.where(t >= 150, 2.2, 1.0) * 400 * weekly[t % 7] + rng.normal(0, 10, 200)),
        "idle": (60, np.zeros(60)),
    }
    frames = [
        pl.DataFrame(
            {
                "series_id": f"s1|nvidia|{name}",
                "level": "provider",
                "site_id": "s1",
                "chip_family": "nvidia",
                "provider_id": name,
                "usage_date": days(n),
                "gpu_hours": np.maximum(y, 0.0),
                "pflop_hours": np.maximum(y, 0.0) * 0.3,
            }
        )
        for name, (n, y) in shapes.items()
    ]
    provider = pl.concat(frames)
    site = (
        provider.group_by("usage_date")
        .agg(pl.col("gpu_hours").sum(), pl.col("pflop_hours").sum())
        .with_columns(
            series_id=pl.lit("s1|nvidia|all"),
            level=pl.lit("site"),
            site_id=pl.lit("s1"),
            chip_family=pl.lit("nvidia"),
            provider_id=pl.lit("all"),
        )
    )
    demand = pl.concat([provider, site.select(provider.columns)])
    online = end + dt.timedelta(days=40)
    supply_days = pl.date_range(end - dt.timedelta(days=300), end + dt.timedelta(days=400), eager=True)
    cards = pl.when(pl.col("supply_date") >= online).then(200.0).otherwise(100.0)
    supply = pl.DataFrame({"supply_date": supply_days}).with_columns(
        site_id=pl.lit("s1"),
        chip_family=pl.lit("nvidia"),
        available_gpu_hours=cards * 24,
        available_pflop_hours=cards * 24 * 0.3,
        status=pl.when(pl.col("supply_date") >= online)
        .then(pl.lit("planned"))
        .otherwise(pl.lit("installed")),
    )
    return demand, supply, online


def test_awkward_series_and_new_capacity_do_not_break_the_plan() -> None:
    demand, supply, online = _synthetic_demand()
    plan = plan_capacity(demand, supply, windows=2)
    notes = dict(plan.notes.filter(pl.col("metric") == "gpu_hours").select("series_id", "note").iter_rows())
    assert "short history" in notes["s1|nvidia|short"]
    assert "too short for a 30-day backtest" in notes["s1|nvidia|new"]
    assert "intermittent" in notes["s1|nvidia|intermittent"]
    assert "all-zero history" in notes["s1|nvidia|idle"]
    assert plan.forecast.group_by("series_id", "metric").len()["len"].to_list() == [180] * 14
    assert plan.forecast.select(pl.min_horizontal("mean", "lo_80", "lo_95").min()).item() >= 0
    # The pool's supply steps up on the day the new cards come online, and projected utilization follows.
    site = plan.forecast.filter((pl.col("series_id") == "s1|nvidia|all") & (pl.col("metric") == "gpu_hours"))
    before = site.filter(pl.col("forecast_date") < online)
    after = site.filter(pl.col("forecast_date") >= online)
    assert set(before["supply"]) == {2400.0} and set(after["supply"]) == {4800.0}
    assert set(after["supply_status"]) == {"planned"}
    assert np.allclose(site["projected_utilization"], site["mean"] / site["supply"])
    # Alerts only for the pool, one per metric and threshold.
    assert plan.alerts["series_id"].unique().to_list() == ["s1|nvidia|all"] and plan.alerts.height == 4
    comparison = naive_comparison(plan.backtest)
    assert (
        comparison["series_compared"] >= 3 and comparison["mase_chosen"] <= comparison["mase_seasonal_naive"]
    )


def test_pai_trace_demand_is_forecast_against_the_trace_cluster() -> None:
    """Real job arrivals: daily GPU-hours per GPU family from the PAI trace, forecast against its GPU nodes."""
    series = pl.from_pandas(fc.pai_demand_series(PAI / "openb_pod_list_default.csv"))
    nodes = pl.read_csv(PAI / "openb_node_list_gpu_node.csv")
    gpus = float(nodes["gpu"].sum())
    demand = series.select(
        series_id=pl.lit("pai|nvidia|") + pl.col("unique_id"),
        level=pl.when(pl.col("unique_id") == "any").then(pl.lit("site")).otherwise(pl.lit("provider")),
        site_id=pl.lit("pai"),
        chip_family=pl.lit("nvidia"),
        provider_id=pl.col("unique_id"),
        usage_date=pl.col("ds").cast(pl.Date),
        gpu_hours=pl.col("y"),
        pflop_hours=pl.col("y") * 0.125,
    )
    days = pl.date_range(
        demand["usage_date"].min(), demand["usage_date"].max() + dt.timedelta(days=200), eager=True
    )
    supply = pl.DataFrame({"supply_date": days}).with_columns(
        site_id=pl.lit("pai"),
        chip_family=pl.lit("nvidia"),
        available_gpu_hours=pl.lit(gpus * 24),
        available_pflop_hours=pl.lit(gpus * 24 * 0.125),
        status=pl.lit("installed"),
    )
    plan = plan_capacity(demand, supply, windows=2)
    assert set(plan.forecast["series_id"]) == set(demand["series_id"])
    assert plan.forecast.select(pl.min_horizontal("mean", "lo_80", "lo_95").min()).item() >= 0
    assert plan.forecast.filter(pl.col("projected_utilization").is_not_null()).height == plan.forecast.height
    comparison = naive_comparison(plan.backtest)
    assert (
        comparison["series_compared"] > 0 and comparison["mase_chosen"] <= comparison["mase_seasonal_naive"]
    )
    assert plan.alerts.height == 4  # the 'any' family stands for the cluster's pool
