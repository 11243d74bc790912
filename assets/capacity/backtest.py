"""Rolling-origin backtest of each series' candidate models: statsforecast's `cross_validation`, scored
with utilsforecast's losses, a failing model pinned on its series and model.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from utilsforecast.evaluation import evaluate
from utilsforecast.losses import coverage, mase, smape

from assets.capacity.models import KEYS, MODELS, checked, describe, known, quiet
from assets.capacity.pool import Mapper, mapper
from assets.capacity.series import (
    LEVELS,
    MAX_FIT_DAYS,
    REGULAR_CANDIDATES,
    SEASON,
    Frame,
    Series,
    at_least_one,
    join,
    prepare,
    route,
)

_BACKTEST_COLUMNS = ["unique_id", "model", "mase", "smape", "coverage_80", "coverage_95", "n_windows", "note"]
_CV_INDEX = ["unique_id", "ds", "cutoff", "y"]
_BATCH = 8  # series per cross_validation call: amortises its fixed cost, still leaves tasks for n_jobs
_SCORED_BATCHES = 32  # batches scored per utilsforecast `evaluate` call
_NO_METRICS = {"mase": np.nan, "smape": np.nan, "coverage_80": np.nan, "coverage_95": np.nan}


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
    at_least_one(horizon=horizon, windows=windows)
    models = known(candidates)
    with mapper(n_jobs) as map_tasks:
        return backtest_series(prepare(df), horizon, windows, models, map_tasks)


def backtest_series(
    series: list[Series], horizon: int, windows: int, candidates: tuple[str, ...], mapper: Mapper
) -> pd.DataFrame:
    """`backtest` of prepared series, mapping the cross-validation batches with `mapper`."""
    routes = [route(s.y, horizon, windows, candidates) for s in series]
    groups: dict[tuple[tuple[str, ...], int], list[Series]] = {}
    for s, plan in zip(series, routes, strict=True):
        if plan.n_windows:
            groups.setdefault((plan.candidates, plan.n_windows), []).append(s)
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
    for s, plan in zip(series, routes, strict=True):
        note = join(s.note, plan.note)
        for name in plan.candidates:  # a single fallback model when there are no windows
            failure = failures.get((s.uid, name), "")
            metrics = _NO_METRICS if failure else scores.get((s.uid, name), _NO_METRICS)
            row = {"unique_id": s.uid, "model": name, **metrics, "n_windows": plan.n_windows}
            rows.append({**row, "note": join(note, failure)})
    return pd.DataFrame(rows, columns=_BACKTEST_COLUMNS)


def _frame(series: list[Series]) -> pd.DataFrame:
    """Long frame of prepared series, `ds` counting days from each series' first."""
    return pd.DataFrame(
        {
            "unique_id": np.repeat([s.uid for s in series], [s.y.size for s in series]),
            "ds": np.concatenate([np.arange(s.y.size) for s in series]),
            "y": np.concatenate([s.y for s in series]),
        }
    )


def _cross_validate(
    task: tuple[list[Series], tuple[str, ...], int, int],
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
        columns = [_column(name, key) for key in KEYS]
        if columns[0] not in cv.columns:
            continue
        values = cv[columns].to_numpy().reshape(uids.size, rows, len(KEYS))
        for i, uid in enumerate(uids):
            try:
                values[i] = checked(values[i])
            except ValueError as error:
                failures.setdefault((uid, name), f"{name} failed in backtest: {describe(error)}")
                values[i] = np.nan
        cv[columns] = values.reshape(-1, len(KEYS))
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
            return None, {(uids[0], names[0]): f"{names[0]} failed in backtest: {describe(error)}"}
    failures = {key: note for _, failed in parts for key, note in failed.items()}
    done = [cv.set_index(_CV_INDEX) for cv, _ in parts if cv is not None]
    return (pd.concat(done, axis=axis).reset_index() if done else None), failures


def _cross_validation(
    frame: pd.DataFrame, names: Sequence[str], n_windows: int, horizon: int
) -> pd.DataFrame:
    """Forecasts of windows that do not overlap, each model fitted at the first cutoff and rolled forward."""
    with quiet():
        return StatsForecast([MODELS[name]() for name in names], freq=1).cross_validation(
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


def _scores(forecasts: list[pd.DataFrame], series: list[Series]) -> dict[tuple[str, str], dict[str, float]]:
    """Metrics per series and model: utilsforecast's per window, averaged over the windows.

    MASE is scaled by the seasonal naive MAE of the whole history up to each cutoff, sMAPE is in percent,
    coverage is the share of actuals inside each interval.
    """
    cv = pd.concat(forecasts, ignore_index=True) if forecasts else pd.DataFrame()
    models = [name for name in MODELS if name in cv.columns]  # a series' other candidates' columns are NaN
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
