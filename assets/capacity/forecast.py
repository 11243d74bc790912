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
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from numpy.typing import ArrayLike
from statsforecast import StatsForecast
from statsforecast.models import (
    ARIMA,
    AutoARIMA,
    AutoETS,
    AutoTheta,
    CrostonOptimized,
    DynamicOptimizedTheta,
    Naive,
    SeasonalNaive,
)
from utilsforecast.evaluation import evaluate
from utilsforecast.losses import coverage, mase, smape

SEASON = 7
LEVELS = (80, 95)
PLANNING_HORIZONS = (30, 90, 180)
MIN_SEASONAL_DAYS = 2 * SEASON  # below this a series gets a Naive forecast
MIN_TRAIN_DAYS = 4 * SEASON  # training days required before the first backtest cutoff
MAX_FIT_DAYS = 26 * SEASON  # models are fitted on (and rolled forward over) at most the last 26 weeks
INTERMITTENT_ZERO_SHARE = 0.5  # a larger share of zero days makes a series intermittent
REGULAR_CANDIDATES = ("SeasonalNaive", "DynamicOptimizedTheta", "AirlineARIMA", "AutoETS")
FULL_CANDIDATES = ("SeasonalNaive", "AutoTheta", "AutoETS", "AutoARIMA")  # AutoARIMA: seconds per series
INTERMITTENT_CANDIDATES = ("SeasonalNaive", "CrostonOptimized")

_KEYS = ("mean", "lo-80", "hi-80", "lo-95", "hi-95")
_BACKTEST_COLUMNS = ["unique_id", "model", "mase", "smape", "coverage_80", "coverage_95", "n_windows", "note"]
_CV_INDEX = ["unique_id", "ds", "cutoff", "y"]
_BATCH = 8  # series per cross_validation call: amortises its fixed cost, still leaves tasks for n_jobs
_SCORED_BATCHES = 32  # batches scored per utilsforecast `evaluate` call
_NO_METRICS = {"mase": np.nan, "smape": np.nan, "coverage_80": np.nan, "coverage_95": np.nan}
_DAY_SECONDS = 86_400
_ERFC = np.frompyfunc(math.erfc, 1, 1)

Frame = pd.DataFrame | pl.DataFrame
_Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]


def _z(level: float) -> float:
    """Standard normal quantile bounding a central interval of `level` percent."""
    return NormalDist().inv_cdf(0.5 + level / 200)


class _NormalCroston(CrostonOptimized):
    """CrostonOptimized with normal intervals of constant width from its in-sample one-step errors.

    Hand-written: statsforecast's Croston gives intervals only as conformal ones, which need extra windows.
    """

    def forecast(
        self,
        y: np.ndarray,
        h: int,
        X: np.ndarray | None = None,
        X_future: np.ndarray | None = None,
        level: list[int] | None = None,
        fitted: bool = False,
    ) -> dict[str, np.ndarray]:
        res = super().forecast(y=y, h=h, fitted=True)
        sigma = np.nanstd(y - res["fitted"], ddof=1)
        out = {"mean": res["mean"]}
        for lv in level or ():
            out[f"lo-{lv}"] = res["mean"] - _z(lv) * sigma
            out[f"hi-{lv}"] = res["mean"] + _z(lv) * sigma
        return out

    forward = forecast  # rolling forward refits on the new history, exactly as forecast does


# Model factories, simplest first: the order breaks MASE ties. Each alias is its key (it names the columns).
_MODELS: dict[str, Callable[[], Any]] = {
    "Naive": Naive,
    "SeasonalNaive": lambda: SeasonalNaive(season_length=SEASON),
    "CrostonOptimized": _NormalCroston,
    "DynamicOptimizedTheta": lambda: DynamicOptimizedTheta(season_length=SEASON),
    "AirlineARIMA": lambda: ARIMA(
        order=(0, 1, 1), seasonal_order=(0, 1, 1), season_length=SEASON, alias="AirlineARIMA"
    ),
    "AutoTheta": lambda: AutoTheta(season_length=SEASON),
    "AutoETS": lambda: AutoETS(season_length=SEASON, model="AZA", damped=True),
    "AutoARIMA": lambda: AutoARIMA(season_length=SEASON),
}
_SIMPLICITY = {name: rank for rank, name in enumerate(_MODELS)}


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


@dataclass(frozen=True)
class _Series:
    uid: str
    y: np.ndarray
    end: np.datetime64
    note: str


@dataclass(frozen=True)
class _Route:
    candidates: tuple[str, ...]
    n_windows: int
    note: str


def backtest(
    df: Frame,
    horizon: int = 30,
    windows: int = 3,
    candidates: Sequence[str] = REGULAR_CANDIDATES,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Score each series' candidate models over `windows` rolling origins of `horizon` days.

    `candidates` are the models of regular (not intermittent) series. One row per series and model: MASE
    (scaled by the in-sample seasonal naive MAE up to each cutoff), sMAPE in percent, the share of actuals
    inside the 80% and 95% intervals, the number of windows and a note. Series that cannot be backtested
    get a single row for their fallback model with NaN scores. With `n_jobs` > 1 series are spread over
    spawned processes, so a calling script needs the `if __name__ == "__main__":` guard.
    """
    _at_least_one(horizon=horizon, windows=windows)
    models = _known(candidates)
    with _mapper(n_jobs) as mapper:
        return _backtest(_prepare(df), horizon, windows, models, mapper)


def choose_models(backtest_df: pd.DataFrame) -> pd.DataFrame:
    """The model with the lowest backtest MASE per series (ties to the simpler one), with the reason."""
    rows = [_choice(str(uid), group) for uid, group in backtest_df.groupby("unique_id", sort=True)]
    return pd.DataFrame(rows, columns=["unique_id", "model", "reason"])


def forecast(df: Frame, choice_df: pd.DataFrame, horizon: int = 180, n_jobs: int = 1) -> pd.DataFrame:
    """Forecast every series `horizon` days past its last day with its chosen model and 80%/95% intervals.

    One row per series and day: `step` (days ahead), `horizon_days` (the smallest planning horizon of
    30/90/180 days that contains the step), the model actually used, mean and bounds clipped at zero, and a
    note saying why the chosen model was replaced, if it was.
    """
    _at_least_one(horizon=horizon)
    with _mapper(n_jobs) as mapper:
        return _forecast(_prepare(df), choice_df, horizon, mapper)


def run(
    df: Frame,
    horizon: int = 180,
    backtest_horizon: int = 30,
    windows: int = 3,
    candidates: Sequence[str] = REGULAR_CANDIDATES,
    n_jobs: int = 1,
) -> ForecastResult:
    """Backtest, choose a model per series and forecast `horizon` days (see `backtest` and `forecast`)."""
    _at_least_one(horizon=horizon, backtest_horizon=backtest_horizon, windows=windows)
    models = _known(candidates)
    series = _prepare(df)
    with _mapper(n_jobs) as mapper:
        scores = _backtest(series, backtest_horizon, windows, models, mapper)
        choices = choose_models(scores)
        forecasts = _forecast(series, choices, horizon, mapper)
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
    sigma = np.maximum(hi - lo, 2 * (hi - mu)) / (2 * _z(95))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma > 0, (limit - mu) / sigma, np.where(limit >= mu, np.inf, -np.inf))
    z = np.where(np.isnan(sigma + limit), np.nan, z)
    return np.asarray(0.5 * _ERFC(z / math.sqrt(2)), dtype=float)


def pai_demand_series(path: str | Path, origin: str | date = "2023-01-01") -> pd.DataFrame:
    """Daily GPU-hours per GPU-spec family from an Alibaba PAI `openb_pod_list` CSV.

    A pod holds num_gpu * gpu_milli / 1000 GPUs over [scheduled_time, deletion_time), in seconds after
    `origin`; its GPU-hours are split over the days that interval overlaps. Pods never scheduled count for
    nothing. The family is the pod's gpu_spec with its alternatives sorted ("V100M16|V100M32"), "any" when
    empty. The trace ends at the last deletion_time; only whole days before it are kept. Each series runs
    from its first busy day to the trace's last whole day, idle days as 0.
    """
    pods = pl.read_csv(path, schema_overrides={"gpu_spec": pl.String})
    last_day = int(pods["deletion_time"].max()) // _DAY_SECONDS - 1
    start, end = pl.col("start"), pl.col("end")
    day_start = pl.col("day") * _DAY_SECONDS
    busy = (
        pods.lazy()
        .filter(pl.col("scheduled_time").is_not_null() & (pl.col("deletion_time") > pl.col("scheduled_time")))
        .select(
            unique_id=_spec_family(pl.col("gpu_spec")),
            gpus=pl.col("num_gpu") * pl.col("gpu_milli") / 1000,
            start=pl.col("scheduled_time"),
            end=pl.col("deletion_time"),
        )
        .filter(pl.col("gpus") > 0)
        .with_columns(day=pl.int_ranges(start // _DAY_SECONDS, (end - 1) // _DAY_SECONDS + 1))
        .explode("day")
        .filter(pl.col("day") <= last_day)
        .with_columns(
            seconds=pl.min_horizontal(end, day_start + _DAY_SECONDS) - pl.max_horizontal(start, day_start)
        )
        .group_by("unique_id", "day")
        .agg(y=(pl.col("gpus") * pl.col("seconds")).sum() / 3600)
        .collect()
    )
    return _daily_frame(busy, last_day, pd.Timestamp(origin))


def _spec_family(spec: pl.Expr) -> pl.Expr:
    """A gpu_spec's alternatives, trimmed, deduplicated and sorted; "any" when there are none."""
    alternatives = (
        spec.str.split("|")
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    family = alternatives.list.unique().list.sort().list.join("|")
    return pl.when(family.is_null() | (family == "")).then(pl.lit("any")).otherwise(family)


def _daily_frame(busy: pl.DataFrame, last_day: int, origin: pd.Timestamp) -> pd.DataFrame:
    """Per-family day totals on a gap-free grid from each family's first day to `last_day`."""
    grid = (
        busy.group_by("unique_id")
        .agg(day=pl.int_ranges(pl.col("day").min(), last_day + 1).first())
        .explode("day")
        .join(busy, on=["unique_id", "day"], how="left")
        .sort("unique_id", "day")
    )
    return pd.DataFrame(
        {
            "unique_id": grid["unique_id"].to_numpy(),
            "ds": origin + pd.to_timedelta(grid["day"].to_numpy(), unit="D"),
            "y": grid["y"].fill_null(0.0).to_numpy(),
        }
    )


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def _describe(error: Exception) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())[:200]


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the optimisers' convergence warnings and numpy's floating-point complaints."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


@contextmanager
def _mapper(n_jobs: int) -> Iterator[_Mapper]:
    """A `map` over a list, in `n_jobs` spawned processes when above 1."""
    if n_jobs <= 1:
        yield lambda func, items: [func(item) for item in items]
        return
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
        yield lambda func, items: list(pool.map(func, items, chunksize=max(1, len(items) // (n_jobs * 64))))


def _prepare(df: Frame) -> list[_Series]:
    """Validated series on a gap-free daily grid (missing days as 0), leading zero days dropped."""
    frame = _validated(df)
    bounds = frame.groupby("unique_id", sort=True)["ds"].agg(["min", "max"])
    lengths = ((bounds["max"] - bounds["min"]).dt.days + 1).to_numpy()
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    grid = pd.DataFrame(
        {
            "unique_id": np.repeat(bounds.index.to_numpy(), lengths),
            "ds": np.repeat(bounds["min"].to_numpy(), lengths) + offsets.astype("timedelta64[D]"),
        }
    ).merge(frame, on=["unique_id", "ds"], how="left")
    values = grid["y"].to_numpy()
    edges = np.concatenate(([0], np.cumsum(lengths)))
    return [
        _series(str(uid), values[a:b], end)
        for uid, a, b, end in zip(bounds.index, edges[:-1], edges[1:], bounds["max"].to_numpy(), strict=True)
    ]


def _validated(df: Frame) -> pd.DataFrame:
    """`unique_id` (str), `ds` (day), `y` (float) of a pandas or polars frame; rejects bad input."""
    source = df.to_pandas() if isinstance(df, pl.DataFrame) else df
    missing = {"unique_id", "ds", "y"} - set(source.columns)
    if missing:
        raise ValueError(f"missing column(s): {sorted(missing)}")
    if source.empty:
        raise ValueError("no rows to forecast")
    frame = pd.DataFrame(
        {
            "unique_id": source["unique_id"].astype(str).to_numpy(),
            "ds": pd.to_datetime(source["ds"]).dt.normalize().to_numpy(dtype="datetime64[ns]"),
            "y": pd.to_numeric(source["y"]).astype(float).to_numpy(),
        }
    )
    negative = frame.loc[frame["y"] < 0, "unique_id"].unique()
    if negative.size:
        raise ValueError(f"negative demand in series {sorted(negative)[:5]}")
    duplicated = frame.loc[frame.duplicated(["unique_id", "ds"]), "unique_id"].unique()
    if duplicated.size:
        raise ValueError(f"repeated days in series {sorted(duplicated)[:5]}")
    return frame


def _series(uid: str, values: np.ndarray, end: np.datetime64) -> _Series:
    notes = []
    missing = int(np.isnan(values).sum())
    if missing:
        notes.append(f"{missing} missing day(s) filled with 0")
    y = np.nan_to_num(values, nan=0.0)
    nonzero = np.flatnonzero(y)
    if nonzero.size and nonzero[0]:
        notes.append(f"{nonzero[0]} leading zero day(s) dropped")
        y = y[nonzero[0] :]
    return _Series(uid, y, end, _join(*notes))


def _known(candidates: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(candidates) - set(_MODELS))
    if unknown or not candidates:
        raise ValueError(f"unknown or no candidate models {unknown}; known: {list(_MODELS)}")
    return tuple(candidates)


def _at_least_one(**counts: int) -> None:
    small = {name: value for name, value in counts.items() if value < 1}
    if small:
        raise ValueError(f"must be at least 1: {small}")


def _route(y: np.ndarray, horizon: int, windows: int, candidates: tuple[str, ...]) -> _Route:
    """Which models a series' history allows, over how many backtest windows, and why."""
    if not y.any():
        return _Route(("Naive",), 0, "all-zero history: Naive fallback (forecast 0), no backtest")
    if y.size < MIN_SEASONAL_DAYS:
        note = f"short history ({y.size} of {MIN_SEASONAL_DAYS} days needed): Naive fallback, no backtest"
        return _Route(("Naive",), 0, note)
    n_windows = min(windows, (y.size - MIN_TRAIN_DAYS) // horizon)
    if n_windows < 1:
        note = f"history of {y.size} days too short for a {horizon}-day backtest: SeasonalNaive fallback"
        return _Route(("SeasonalNaive",), 0, note)
    partial = f"history allows {n_windows} of {windows} backtest windows" if n_windows < windows else ""
    zero_share = float(np.mean(y == 0))
    if zero_share > INTERMITTENT_ZERO_SHARE:
        note = f"intermittent ({zero_share:.0%} zero days): Croston candidate set"
        return _Route(INTERMITTENT_CANDIDATES, n_windows, _join(partial, note))
    return _Route(candidates, n_windows, partial)


def _backtest(
    series: list[_Series], horizon: int, windows: int, candidates: tuple[str, ...], mapper: _Mapper
) -> pd.DataFrame:
    routes = [_route(s.y, horizon, windows, candidates) for s in series]
    groups: dict[tuple[tuple[str, ...], int], list[_Series]] = {}
    for s, route in zip(series, routes, strict=True):
        if route.n_windows:
            groups.setdefault((route.candidates, route.n_windows), []).append(s)
    tasks = [
        (members[i : i + _BATCH], names, n_windows, horizon)
        for (names, n_windows), members in groups.items()
        for i in range(0, len(members), _BATCH)
    ]
    runs = mapper(_cross_validate, tasks)
    failures = {key: note for _, failed in runs for key, note in failed.items()}
    scores: dict[tuple[str, str], dict[str, float]] = {}
    for i in range(0, len(tasks), _SCORED_BATCHES):  # bounds the memory of evaluate's per-cutoff histories
        forecasts = [cv for cv, _ in runs[i : i + _SCORED_BATCHES] if cv is not None]
        scores |= _scores(forecasts, [s for batch, *_ in tasks[i : i + _SCORED_BATCHES] for s in batch])
    rows = []
    for s, route in zip(series, routes, strict=True):
        note = _join(s.note, route.note)
        for name in route.candidates:  # a single fallback model when there are no windows
            failure = failures.get((s.uid, name), "")
            metrics = _NO_METRICS if failure else scores.get((s.uid, name), _NO_METRICS)
            row = {"unique_id": s.uid, "model": name, **metrics, "n_windows": route.n_windows}
            rows.append({**row, "note": _join(note, failure)})
    return pd.DataFrame(rows, columns=_BACKTEST_COLUMNS)


def _frame(series: list[_Series]) -> pd.DataFrame:
    """Long frame of prepared series, `ds` counting days from each series' first."""
    return pd.DataFrame(
        {
            "unique_id": np.repeat([s.uid for s in series], [s.y.size for s in series]),
            "ds": np.concatenate([np.arange(s.y.size) for s in series]),
            "y": np.concatenate([s.y for s in series]),
        }
    )


def _cross_validate(
    task: tuple[list[_Series], tuple[str, ...], int, int],
) -> tuple[pd.DataFrame | None, dict[tuple[str, str], str]]:
    """Backtest forecasts, clipped at zero, of series sharing candidates and windows, and the failures.

    A model fails for a series if it raises or forecasts a non-finite value; its forecasts are then NaN and
    the failure note is keyed by series and model.
    """
    batch, names, n_windows, horizon = task
    cv, failures = _isolated(_frame(batch), names, n_windows, horizon)
    if cv is None:
        return None, failures
    rows = n_windows * horizon  # per series: cross_validation sorts by series, cutoff and day
    uids = cv["unique_id"].to_numpy()[::rows]
    for name in names:
        columns = [_column(name, key) for key in _KEYS]
        if columns[0] not in cv.columns:
            continue
        values = cv[columns].to_numpy().reshape(uids.size, rows, len(_KEYS))
        for i, uid in enumerate(uids):
            try:
                values[i] = _checked(values[i])
            except ValueError as error:
                failures.setdefault((uid, name), f"{name} failed in backtest: {_describe(error)}")
                values[i] = np.nan
        cv[columns] = values.reshape(-1, len(_KEYS))
    return cv, failures


def _isolated(
    frame: pd.DataFrame, names: Sequence[str], n_windows: int, horizon: int
) -> tuple[pd.DataFrame | None, dict[tuple[str, str], str]]:
    """`cross_validation` of all series and models in one call; if it raises, per series, then per model.

    StatsForecast's `fallback_model` would score the fallback under the failed model's name; this pins
    the error on its series and model instead.
    """
    try:
        return _cross_validation(frame, names, n_windows, horizon), {}
    except Exception as error:
        uids = frame["unique_id"].unique()
        if uids.size > 1:
            parts = [_isolated(frame[frame["unique_id"] == uid], names, n_windows, horizon) for uid in uids]
            axis = 0
        elif len(names) > 1:
            parts = [_isolated(frame, (name,), n_windows, horizon) for name in names]
            axis = 1
        else:
            return None, {(uids[0], names[0]): f"{names[0]} failed in backtest: {_describe(error)}"}
    failures = {key: note for _, failed in parts for key, note in failed.items()}
    done = [cv.set_index(_CV_INDEX) for cv, _ in parts if cv is not None]
    return (pd.concat(done, axis=axis).reset_index() if done else None), failures


def _cross_validation(
    frame: pd.DataFrame, names: Sequence[str], n_windows: int, horizon: int
) -> pd.DataFrame:
    """Forecasts of windows that do not overlap, each model fitted at the first cutoff and rolled forward."""
    with _quiet():
        return StatsForecast([_MODELS[name]() for name in names], freq=1).cross_validation(
            h=horizon,
            df=frame,
            n_windows=n_windows,
            step_size=horizon,
            input_size=MAX_FIT_DAYS,
            level=list(LEVELS),
            refit=False,
        )


def _column(name: str, key: str) -> str:
    return name if key == "mean" else f"{name}-{key}"


def _scores(forecasts: list[pd.DataFrame], series: list[_Series]) -> dict[tuple[str, str], dict[str, float]]:
    """Metrics per series and model: utilsforecast's per window, averaged over the windows.

    MASE is scaled by the seasonal naive MAE of the whole history up to each cutoff, sMAPE is in percent,
    coverage is the share of actuals inside each interval.
    """
    cv = pd.concat(forecasts, ignore_index=True) if forecasts else pd.DataFrame()
    models = [name for name in _MODELS if name in cv.columns]  # a series' other candidates' columns are NaN
    if not models:
        return {}
    per_window = evaluate(
        cv,
        metrics=[partial(mase, seasonality=SEASON), smape, coverage],
        models=models,
        train_df=_frame(series),
        level=list(LEVELS),
    )
    scores = (
        per_window.melt(id_vars=["unique_id", "cutoff", "metric"], var_name="model")
        .groupby(["unique_id", "model", "metric"])["value"]
        .mean()
        .unstack("metric")
        .rename(columns={f"coverage_level{lv}": f"coverage_{lv}" for lv in LEVELS})
    )
    scores["smape"] *= 200  # utilsforecast's sMAPE is |error| / (|actual| + |forecast|), at most 1
    scores["mase"] = scores["mase"].fillna(0.0)  # 0/0: a perfect forecast where seasonal naive never erred
    return scores[list(_NO_METRICS)].to_dict("index")


def _choice(uid: str, group: pd.DataFrame) -> dict:
    scored = group[group["mase"].notna()]
    if scored.empty:
        if (group["n_windows"] == 0).all():
            return {"unique_id": uid, "model": group["model"].iloc[0], "reason": group["note"].iloc[0]}
        return {"unique_id": uid, "model": "SeasonalNaive", "reason": "every candidate failed in backtest"}
    ranked = scored.assign(
        _mase=scored["mase"].round(9), _rank=scored["model"].map(_SIMPLICITY).fillna(len(_SIMPLICITY))
    ).sort_values(["_mase", "_rank"])
    best = ranked.iloc[0]
    reason = f"lowest MASE {best['mase']:.3f} of {len(scored)} model(s) over {best['n_windows']} window(s)"
    baseline = scored.loc[scored["model"] == "SeasonalNaive", "mase"]
    if best["model"] != "SeasonalNaive" and not baseline.empty:
        reason += f"; SeasonalNaive {baseline.iloc[0]:.3f}"
    return {"unique_id": uid, "model": best["model"], "reason": reason}


def _forecast(series: list[_Series], choice_df: pd.DataFrame, horizon: int, mapper: _Mapper) -> pd.DataFrame:
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
            with _quiet():
                raw = _MODELS[name]().forecast(y=y[-MAX_FIT_DAYS:], h=horizon, level=list(LEVELS))
            result = dict(zip(_KEYS, _checked([raw[key] for key in _KEYS]), strict=True))
        except Exception as error:
            failures.append(f"{name} failed at forecast ({_describe(error)})")
            continue
        used = f"used {name}" if failures else ""
        if y.size < 2:
            result = {key: (v if key == "mean" else np.full(horizon, np.nan)) for key, v in result.items()}
            return name, result, _join(*failures, used, "one observation: no prediction interval")
        return name, result, _join(*failures, used)
    return "none", {key: np.full(horizon, np.nan) for key in _KEYS}, _join(*failures)


def _checked(values: ArrayLike) -> np.ndarray:
    """Forecasts clipped at zero; any non-finite value counts as a failure of the model."""
    array = np.asarray(values, dtype=float)
    if not np.isfinite(array).all():
        raise ValueError("non-finite forecast")
    return np.maximum(array, 0.0)


def _fallback_chain(chosen: str, n: int) -> list[str]:
    """The chosen model, then SeasonalNaive (when the history allows it), then Naive.

    Hand-written because StatsForecast's `fallback_model` is a single model, ignores non-finite forecasts
    and does not report which series fell back, which the notes must say.
    """
    fallbacks = ("SeasonalNaive", "Naive") if n >= MIN_SEASONAL_DAYS else ("Naive",)
    return [chosen, *(name for name in fallbacks if name != chosen)]


def _forecast_frame(
    series: list[_Series], results: list[tuple[str, dict[str, np.ndarray], str]], horizon: int
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
    for key in _KEYS:
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
    return _join(*dict.fromkeys(piece for note in notes for piece in note.split("; ")))
