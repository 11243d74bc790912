"""Capacity-planning forecasts of daily GPU-hours demand, one model per series chosen by rolling-origin backtest.

Input is a long frame (`unique_id`, `ds`, `y`) in pandas or polars; every output is a pandas DataFrame with
`unique_id` as str. Each series is routed by its history: all-zero and very short series get a Naive
forecast, series too short for one backtest window get SeasonalNaive, intermittent series (more than half of
the days zero) choose between SeasonalNaive and CrostonOptimized, and the rest between the regular
candidates. By default those are SeasonalNaive, DynamicOptimizedTheta, the airline model
ARIMA(0,1,1)(0,1,1)7 and AutoETS restricted to additive error and season with no or damped trend. On the
synthetic benchmark's regular series they take about a quarter of the fitting time of AutoTheta + AutoETS +
a restricted AutoARIMA for the same median backtest MASE (0.747 against 0.741). `FULL_CANDIDATES` (AutoTheta,
AutoETS, unrestricted AutoARIMA, which alone takes seconds per two-year series) suits a few series.

Candidates are scored by MASE over non-overlapping backtest windows, from statsforecast's `cross_validation`
(each model fitted once at the first cutoff and rolled forward to the later ones) and utilsforecast's losses;
the lowest wins, ties going to the simpler model. A model that raises or forecasts a non-finite value fails
for that series alone: calls that raise are repeated per series, then per model, to tell which. The chosen
model is refitted on the latest history for the forecast. Models only ever see the last 26 weeks before a
cutoff (MASE scales use all of it): on 150 of the benchmark's two-year series that takes 18 CPU-seconds
against 26 with 53 weeks and 44 with full histories, for a median backtest MASE of 0.795 against 0.779
and 0.769. Means and interval bounds, in the backtest as in the
forecast, are clipped at zero. Whatever departs from that plan is written to the series' note.

This module holds the entry points `run`, `forecast` and `exceedance_probability` and re-exports the rest:
validation, preparation and routing live in `series`, the models in `models`, the process pool in `pool`,
the backtest in `backtest`, the choice in `choice` and the Alibaba PAI demand series in `pai_series`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from assets.capacity.backtest import backtest, backtest_series
from assets.capacity.choice import choose_models
from assets.capacity.models import KEYS, MODELS, checked, describe, known, quiet, z
from assets.capacity.pai_series import pai_demand_series
from assets.capacity.pool import Mapper, mapper
from assets.capacity.series import (
    FULL_CANDIDATES,
    LEVELS,
    MAX_FIT_DAYS,
    MIN_SEASONAL_DAYS,
    PLANNING_HORIZONS,
    REGULAR_CANDIDATES,
    Frame,
    Series,
    at_least_one,
    join,
    prepare,
)

__all__ = [
    "FULL_CANDIDATES",
    "MIN_SEASONAL_DAYS",
    "REGULAR_CANDIDATES",
    "ForecastResult",
    "Frame",
    "backtest",
    "choose_models",
    "exceedance_probability",
    "forecast",
    "pai_demand_series",
    "run",
]

_ERFC = np.frompyfunc(math.erfc, 1, 1)


@dataclass(frozen=True)
class ForecastResult:
    """Everything `run` produced.

    `forecasts` as from `forecast`, `backtest` as from `backtest`, `choices` as from `choose_models`, and
    `notes`: one row per series with the model finally used and every distinct note from all stages.
    """

    forecasts: pd.DataFrame
    backtest: pd.DataFrame
    choices: pd.DataFrame
    notes: pd.DataFrame


def forecast(df: Frame, choice_df: pd.DataFrame, horizon: int = 180, n_jobs: int = 1) -> pd.DataFrame:
    """Forecast every series `horizon` days past its last day with its chosen model and 80%/95% intervals.

    One row per series and day: `step` (days ahead), `horizon_days` (the smallest planning horizon of
    30/90/180 days that contains the step), the model actually used, mean and bounds clipped at zero, and a
    note saying why the chosen model was replaced, if it was.
    """
    at_least_one(horizon=horizon)
    with mapper(n_jobs) as map_tasks:
        return _forecast(prepare(df), choice_df, horizon, map_tasks)


def run(
    df: Frame,
    horizon: int = 180,
    backtest_horizon: int = 30,
    windows: int = 3,
    candidates: Sequence[str] = REGULAR_CANDIDATES,
    n_jobs: int = 1,
) -> ForecastResult:
    """Backtest, choose a model per series and forecast `horizon` days (see `backtest` and `forecast`)."""
    at_least_one(horizon=horizon, backtest_horizon=backtest_horizon, windows=windows)
    models = known(candidates)
    series = prepare(df)
    with mapper(n_jobs) as map_tasks:
        scores = backtest_series(series, backtest_horizon, windows, models, map_tasks)
        choices = choose_models(scores)
        forecasts = _forecast(series, choices, horizon, map_tasks)
    return ForecastResult(forecasts, scores, choices, _notes(scores, forecasts))


def exceedance_probability(
    mean: ArrayLike, lo_95: ArrayLike, hi_95: ArrayLike, threshold: ArrayLike
) -> np.ndarray:
    """P(demand > threshold) under a normal fitted to the forecast's mean and 95% interval, elementwise.

    sigma = (hi_95 - lo_95) / (2 * 1.96), widened to (hi_95 - mean) / 1.96 where clipping at zero has
    shortened the lower half. A zero-width interval gives 0 or 1; any NaN input gives NaN.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (mean, lo_95, hi_95, threshold)))
    mu, lo, hi, limit = arrays
    sigma = np.maximum(hi - lo, 2 * (hi - mu)) / (2 * z(95))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_score = np.where(sigma > 0, (limit - mu) / sigma, np.where(limit >= mu, np.inf, -np.inf))
    z_score = np.where(np.isnan(sigma + limit), np.nan, z_score)
    return np.asarray(0.5 * _ERFC(z_score / math.sqrt(2)), dtype=float)


def _forecast(series: list[Series], choice_df: pd.DataFrame, horizon: int, mapper: Mapper) -> pd.DataFrame:
    chosen = dict(zip(choice_df["unique_id"].astype(str), choice_df["model"], strict=True))
    unchosen = [s.uid for s in series if s.uid not in chosen]
    if unchosen:
        raise ValueError(f"no model chosen for series {unchosen[:5]}")
    results = mapper(_forecast_series, [(s.y, chosen[s.uid], horizon) for s in series])
    return _forecast_frame(series, results, horizon)


def _forecast_series(task: tuple[np.ndarray, str, int]) -> tuple[str, dict[str, np.ndarray], str]:
    """(model used, clipped forecast, note) of one series: the chosen model, else the next fallback."""
    y, chosen, horizon = task
    failures: list[str] = []
    for name in _fallback_chain(chosen, y.size):
        try:
            with quiet():
                raw = MODELS[name]().forecast(y=y[-MAX_FIT_DAYS:], h=horizon, level=list(LEVELS))
            result = dict(zip(KEYS, checked([raw[key] for key in KEYS]), strict=True))
        except Exception as error:
            failures.append(f"{name} failed at forecast ({describe(error)})")
            continue
        used = f"used {name}" if failures else ""
        if y.size < 2:
            result = {key: (v if key == "mean" else np.full(horizon, np.nan)) for key, v in result.items()}
            return name, result, join(*failures, used, "one observation: no prediction interval")
        return name, result, join(*failures, used)
    return "none", {key: np.full(horizon, np.nan) for key in KEYS}, join(*failures)


def _fallback_chain(chosen: str, n: int) -> list[str]:
    """The chosen model, then SeasonalNaive (when the history allows it), then Naive.

    Hand-written because StatsForecast's `fallback_model` is a single model, ignores non-finite forecasts
    and does not report which series fell back, which the notes must say.
    """
    fallbacks = ("SeasonalNaive", "Naive") if n >= MIN_SEASONAL_DAYS else ("Naive",)
    return [chosen, *(name for name in fallbacks if name != chosen)]


def _forecast_frame(
    series: list[Series], results: list[tuple[str, dict[str, np.ndarray], str]], horizon: int
) -> pd.DataFrame:
    steps = np.arange(1, horizon + 1)
    bands = np.array(sorted({h for h in PLANNING_HORIZONS if h < horizon} | {horizon}))
    count = len(series)
    ends = np.array([s.end for s in series], dtype="datetime64[ns]")
    frame = {
        "unique_id": np.repeat([s.uid for s in series], horizon),
        "ds": np.repeat(ends, horizon) + np.tile(steps, count).astype("timedelta64[D]"),
        "step": np.tile(steps, count),
        "horizon_days": np.tile(bands[np.searchsorted(bands, steps)], count),
        "model": np.repeat([r[0] for r in results], horizon),
    }
    for key in KEYS:
        frame[key.replace("-", "_")] = np.concatenate([r[1][key] for r in results])
    frame["note"] = np.repeat([r[2] for r in results], horizon)
    return pd.DataFrame(frame)


def _notes(scores: pd.DataFrame, forecasts: pd.DataFrame) -> pd.DataFrame:
    """One row per series: the model finally used and every distinct note from backtest and forecast."""
    first = forecasts.loc[forecasts["step"] == 1, ["unique_id", "model", "note"]]
    pieces = pd.concat([scores[["unique_id", "note"]], first[["unique_id", "note"]]])
    joined = pieces.groupby("unique_id", sort=True)["note"].agg(_distinct_notes).rename("note")
    return first[["unique_id", "model"]].merge(joined, on="unique_id").reset_index(drop=True)


def _distinct_notes(notes: Iterable[str]) -> str:
    return join(*dict.fromkeys(piece for note in notes for piece in note.split("; ")))
