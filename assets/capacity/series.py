"""Forecast input: shared constants, validation and preparation of series, and routing to candidate models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

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

Frame = pd.DataFrame | pl.DataFrame


@dataclass(frozen=True)
class Series:
    uid: str
    y: np.ndarray
    end: np.datetime64
    note: str


@dataclass(frozen=True)
class Route:
    candidates: tuple[str, ...]
    n_windows: int
    note: str


def join(*notes: str) -> str:
    """The non-empty notes joined with "; "."""
    return "; ".join(note for note in notes if note)


def at_least_one(**counts: int) -> None:
    """Reject any count below 1."""
    small = {name: value for name, value in counts.items() if value < 1}
    if small:
        raise ValueError(f"must be at least 1: {small}")


def prepare(df: Frame) -> list[Series]:
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


def _series(uid: str, values: np.ndarray, end: np.datetime64) -> Series:
    notes = []
    missing = int(np.isnan(values).sum())
    if missing:
        notes.append(f"{missing} missing day(s) filled with 0")
    y = np.nan_to_num(values, nan=0.0)
    nonzero = np.flatnonzero(y)
    if nonzero.size and nonzero[0]:
        notes.append(f"{nonzero[0]} leading zero day(s) dropped")
        y = y[nonzero[0] :]
    return Series(uid, y, end, join(*notes))


def route(y: np.ndarray, horizon: int, windows: int, candidates: tuple[str, ...]) -> Route:
    """Which models a series' history allows, over how many backtest windows, and why."""
    if not y.any():
        return Route(("Naive",), 0, "all-zero history: Naive fallback (forecast 0), no backtest")
    if y.size < MIN_SEASONAL_DAYS:
        note = f"short history ({y.size} of {MIN_SEASONAL_DAYS} days needed): Naive fallback, no backtest"
        return Route(("Naive",), 0, note)
    n_windows = min(windows, (y.size - MIN_TRAIN_DAYS) // horizon)
    if n_windows < 1:
        note = f"history of {y.size} days too short for a {horizon}-day backtest: SeasonalNaive fallback"
        return Route(("SeasonalNaive",), 0, note)
    partial = f"history allows {n_windows} of {windows} backtest windows" if n_windows < windows else ""
    zero_share = float(np.mean(y == 0))
    if zero_share > INTERMITTENT_ZERO_SHARE:
        note = f"intermittent ({zero_share:.0%} zero days): Croston candidate set"
        return Route(INTERMITTENT_CANDIDATES, n_windows, join(partial, note))
    return Route(candidates, n_windows, partial)
