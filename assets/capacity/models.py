"""The candidate models by name, and the helpers that run them: quiet fitting and checked, clipped output."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
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

from assets.capacity.series import SEASON

KEYS = ("mean", "lo-80", "hi-80", "lo-95", "hi-95")


def z(level: float) -> float:
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
            out[f"lo-{lv}"] = res["mean"] - z(lv) * sigma
            out[f"hi-{lv}"] = res["mean"] + z(lv) * sigma
        return out

    forward = forecast  # rolling forward refits on the new history, exactly as forecast does


# Model factories, simplest first: the order breaks MASE ties. Each alias is its key (it names the columns).
MODELS: dict[str, Callable[[], Any]] = {
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
SIMPLICITY = {name: rank for rank, name in enumerate(MODELS)}


def known(candidates: Sequence[str]) -> tuple[str, ...]:
    """The candidate names as a tuple; rejects unknown names and an empty list."""
    unknown = sorted(set(candidates) - set(MODELS))
    if unknown or not candidates:
        raise ValueError(f"unknown or no candidate models {unknown}; known: {list(MODELS)}")
    return tuple(candidates)


def describe(error: Exception) -> str:
    """A model's error on one line of at most 200 characters."""
    return " ".join(f"{type(error).__name__}: {error}".split())[:200]


@contextmanager
def quiet() -> Iterator[None]:
    """Silence the optimisers' convergence warnings and numpy's floating-point complaints."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def checked(values: ArrayLike) -> np.ndarray:
    """Forecasts clipped at zero; any non-finite value counts as a failure of the model."""
    array = np.asarray(values, dtype=float)
    if not np.isfinite(array).all():
        raise ValueError("non-finite forecast")
    return np.maximum(array, 0.0)
