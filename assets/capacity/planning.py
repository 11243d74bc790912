"""Capacity plans: demand series forecast against the supply of their site's pool, alerts and model checks.

Input is marts.capacity_demand_daily (one row per series and day, with the series' level: 'provider',
'site' or 'city') and marts.capacity_supply_daily (pool supply per day, site and chip family, site_id 'all'
for the city). Every series is forecast for each metric (GPU-hours and PFLOP-hours) by `forecast.run`; a
forecast day carries the supply of its site and chip family on that day, installed or planned, and the
projected utilization mean / supply. Provider series share their site's pool, so their projected
utilization is the provider's part of it; alerts are raised for the pools themselves: the site and city
series (provider_id 'all').
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from assets.capacity import forecast as fc

METRICS = ("gpu_hours", "pflop_hours")
SUPPLY_COLUMNS = {"gpu_hours": "available_gpu_hours", "pflop_hours": "available_pflop_hours"}
THRESHOLDS = (0.8, 1.0)
SERIES_KEYS = ("series_id", "level", "site_id", "chip_family", "provider_id")
POOL_LEVELS = ("site", "city")
COVERAGE_BANDS = {"coverage_80": (0.6, 0.97), "coverage_95": (0.8, 1.0)}
_SEP = "|"
_SCORES = ("mase", "smape", "coverage_80", "coverage_95")


@dataclass(frozen=True)
class CapacityPlan:
    """The published tables of one planning run, and one row of notes per series and metric."""

    forecast: pl.DataFrame
    alerts: pl.DataFrame
    backtest: pl.DataFrame
    notes: pl.DataFrame


def model_input(demand: pl.DataFrame) -> pl.DataFrame:
    """Long (unique_id, ds, y) frame: one series per demand series and metric, unique_id 'series_id|metric'."""
    return demand.unpivot(
        index=["series_id", "usage_date"], on=list(METRICS), variable_name="metric", value_name="y"
    ).select(
        unique_id=pl.concat_str("series_id", pl.lit(_SEP), "metric"),
        ds=pl.col("usage_date"),
        y=pl.col("y").cast(pl.Float64),
    )


def plan_capacity(
    demand: pl.DataFrame,
    supply: pl.DataFrame,
    horizon: int = 180,
    backtest_horizon: int = 30,
    windows: int = 3,
    candidates: Sequence[str] = fc.REGULAR_CANDIDATES,
    n_jobs: int = 1,
) -> CapacityPlan:
    """Backtest, choose, forecast every demand series and metric; attach supply; raise the alerts."""
    result = fc.run(model_input(demand), horizon, backtest_horizon, windows, candidates, n_jobs)
    series = demand.select(SERIES_KEYS).unique()
    chosen = _split(pl.from_pandas(result.choices)).select(
        "series_id", "metric", "model", chosen=pl.lit(True)
    )
    backtest = (
        _split(pl.from_pandas(result.backtest))
        .join(chosen, on=["series_id", "metric", "model"], how="left")
        .with_columns(pl.col("chosen").fill_null(False), *(pl.col(c).fill_nan(None) for c in _SCORES))
        .select("series_id", "metric", "model", *_SCORES, "n_windows", "chosen", "note")
        .sort("series_id", "metric", "model")
    )
    forecast = _with_supply(_split(pl.from_pandas(result.forecasts)).join(series, on="series_id"), supply)
    notes = _split(pl.from_pandas(result.notes)).sort("series_id", "metric")
    return CapacityPlan(forecast, alerts(forecast), backtest, notes)


def _split(frame: pl.DataFrame) -> pl.DataFrame:
    """series_id and metric from a forecaster frame's unique_id."""
    return frame.with_columns(
        series_id=pl.col("unique_id").str.replace(r"\|[^|]*$", ""),
        metric=pl.col("unique_id").str.extract(r"\|([^|]*)$"),
    ).drop("unique_id")


def _with_supply(forecast: pl.DataFrame, supply: pl.DataFrame) -> pl.DataFrame:
    """Forecast rows with their pool's supply on the forecast day and the projected utilization."""
    pools = supply.select(
        "site_id",
        "chip_family",
        forecast_date=pl.col("supply_date"),
        supply_gpu_hours=pl.col("available_gpu_hours"),
        supply_pflop_hours=pl.col("available_pflop_hours"),
        supply_status=pl.col("status"),
    )
    bounds = [pl.col(c).fill_nan(None) for c in ("mean", "lo_80", "hi_80", "lo_95", "hi_95")]
    joined = (
        forecast.with_columns(pl.col("ds").cast(pl.Date).alias("forecast_date"), *bounds)
        .drop("ds")
        .join(pools, on=["site_id", "chip_family", "forecast_date"], how="left")
        .with_columns(
            supply=pl.when(pl.col("metric") == "gpu_hours")
            .then(pl.col("supply_gpu_hours"))
            .otherwise(pl.col("supply_pflop_hours"))
        )
    )
    return joined.select(
        *SERIES_KEYS,
        "metric",
        "forecast_date",
        pl.col("step").cast(pl.Int32),
        pl.col("horizon_days").cast(pl.Int32),
        "model",
        "mean",
        "lo_80",
        "hi_80",
        "lo_95",
        "hi_95",
        "supply",
        "supply_status",
        projected_utilization=pl.when(pl.col("supply") > 0).then(pl.col("mean") / pl.col("supply")),
        note=pl.col("note"),
    ).sort("series_id", "metric", "forecast_date")


def alerts(forecast: pl.DataFrame) -> pl.DataFrame:
    """Per pool series, metric and threshold: the first day the mean forecast passes threshold x supply.

    `probability` is P(demand > threshold x supply) on that day (normal fitted to the mean and the 95%
    interval, see `forecast.exceedance_probability`); when the mean never passes within the horizon,
    `first_date` is NULL and `probability` is the largest daily probability, on `peak_date`.
    """
    pools = forecast.filter(pl.col("level").is_in(POOL_LEVELS))
    frames = []
    for threshold in THRESHOLDS:
        limit = pl.col("supply") * threshold
        scored = pools.with_columns(
            threshold=pl.lit(threshold),
            passed=pl.col("mean") > limit,
            day_probability=pl.Series(
                fc.exceedance_probability(
                    pools["mean"].to_numpy(),
                    pools["lo_95"].to_numpy(),
                    pools["hi_95"].to_numpy(),
                    pools["supply"].to_numpy() * threshold,
                )
            ).fill_nan(None),
        )
        frames.append(scored)
    scored = pl.concat(frames)
    keys = [*SERIES_KEYS, "metric", "threshold"]
    first = (
        scored.filter(pl.col("passed"))
        .sort("forecast_date")
        .group_by(keys)
        .agg(
            first_date=pl.col("forecast_date").first(),
            first_step=pl.col("step").first(),
            first_probability=pl.col("day_probability").first(),
            supply_on_first_date=pl.col("supply").first(),
            mean_on_first_date=pl.col("mean").first(),
        )
    )
    peak = (
        scored.sort(pl.col("day_probability").fill_null(-1.0), "forecast_date", descending=[True, False])
        .group_by(keys)
        .agg(
            peak_probability=pl.col("day_probability").first(),
            peak_date=pl.col("forecast_date").first(),
            model=pl.col("model").first(),
            horizon_end=pl.col("forecast_date").max(),
            has_supply=pl.col("supply").is_not_null().all(),
        )
    )
    joined = peak.join(first, on=keys, how="left")
    return joined.select(
        *keys,
        "first_date",
        days_ahead=pl.col("first_step"),
        probability=pl.coalesce("first_probability", "peak_probability"),
        peak_probability=pl.col("peak_probability"),
        peak_date=pl.when(pl.col("peak_probability").is_not_null()).then(pl.col("peak_date")),
        supply_on_first_date=pl.col("supply_on_first_date"),
        mean_on_first_date=pl.col("mean_on_first_date"),
        model=pl.col("model"),
        horizon_end=pl.col("horizon_end"),
        note=pl.when(pl.col("has_supply"))
        .then(pl.lit(""))
        .otherwise(pl.lit("no supply in ref.capacity_plan for part of the horizon")),
    ).sort("series_id", "metric", "threshold")


def naive_comparison(backtest: pl.DataFrame) -> dict[str, float | int]:
    """Mean backtest MASE of the chosen models against SeasonalNaive over the series where both are finite."""
    chosen = backtest.filter(pl.col("chosen")).select("series_id", "metric", chosen=pl.col("mase"))
    naive = backtest.filter(pl.col("model") == "SeasonalNaive").select(
        "series_id", "metric", naive=pl.col("mase")
    )
    both = chosen.join(naive, on=["series_id", "metric"]).filter(
        pl.col("chosen").is_finite() & pl.col("naive").is_finite()
    )
    if both.is_empty():
        return {"series_compared": 0, "mase_chosen": float("nan"), "mase_seasonal_naive": float("nan")}
    return {
        "series_compared": both.height,
        "mase_chosen": float(both["chosen"].mean()),
        "mase_seasonal_naive": float(both["naive"].mean()),
        "series_not_seasonal_naive": int((both["chosen"] < both["naive"]).sum()),
    }


def coverage_summary(backtest: pl.DataFrame) -> dict[str, float | int]:
    """Mean 80% and 95% interval coverage of the chosen models over the backtested series."""
    scored = backtest.filter(pl.col("chosen") & pl.col("coverage_80").is_not_null())
    summary: dict[str, float | int] = {"series": scored.height}
    for column in COVERAGE_BANDS:
        summary[column] = float(scored[column].mean()) if scored.height else float("nan")
    return summary


def coverage_in_band(summary: dict[str, float | int]) -> bool:
    """Whether each mean coverage lies in its band (true when nothing was backtested)."""
    if not summary["series"]:
        return True
    return all(lo <= float(summary[c]) <= hi for c, (lo, hi) in COVERAGE_BANDS.items())
