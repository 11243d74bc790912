"""Capacity forecaster: accuracy and calibration on synthetic demand, fallbacks, and the PAI trace series."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsforecast.models import AutoETS

from assets.capacity import forecast as fc
from assets.capacity.models import MODELS

PAI_PODS = (
    Path(__file__).resolve().parents[1]
    / "data_contracts/samples/alibaba_pai_gpu_2023/openb_pod_list_default.csv"
)
START = pd.Timestamp("2024-01-01")
WEEK = np.array([1.0, 1.1, 1.15, 1.1, 1.0, 0.55, 0.45])


def frame(uid: str, y: np.ndarray, start: pd.Timestamp = START) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(y)), "y": y})


def weekly_trend(uid: str, days: int, seed: int) -> pd.DataFrame:
    """Strong weekly season on a rising level, with noise."""
    t = np.arange(days)
    noise = np.random.default_rng(seed).normal(0, 4, days)
    return frame(uid, np.maximum((80 + 0.15 * t) * WEEK[t % 7] + noise, 0))


def intermittent(uid: str, days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame(uid, rng.binomial(1, 0.15, days) * rng.gamma(2.0, 20.0, days))


@pytest.fixture(scope="module")
def seasonal_holdout() -> tuple[fc.ForecastResult, pd.DataFrame, pd.DataFrame]:
    """Four weekly-seasonal trending series: `run` on 400 days, the next 60 days held out."""
    full = pd.concat([weekly_trend(f"s{i}", 460, seed=i) for i in range(4)], ignore_index=True)
    cutoff = START + pd.Timedelta(days=400)
    train, holdout = full[full["ds"] < cutoff], full[full["ds"] >= cutoff]
    return fc.run(train), train, holdout


@pytest.fixture(scope="module")
def awkward() -> fc.ForecastResult:
    """Series the backtest cannot handle normally, plus one declining towards zero."""
    t = np.arange(250)
    declining = np.maximum(60 - 0.3 * t + np.random.default_rng(3).normal(0, 3, 250), 0)
    return fc.run(
        pd.concat(
            [
                frame("five_days", np.array([3.0, 4.0, 2.0, 5.0, 4.0])),
                frame("single_day", np.array([7.0])),
                frame("all_zero", np.zeros(120)),
                frame("forty_days", np.random.default_rng(1).gamma(5.0, 2.0, 40)),
                intermittent("intermittent", 300, seed=2),
                frame("declining", declining),
            ],
            ignore_index=True,
        )
    )


def test_seasonal_trend_beats_seasonal_naive_on_held_out_days(seasonal_holdout) -> None:
    result, train, holdout = seasonal_holdout
    chosen = result.backtest.merge(result.choices, on=["unique_id", "model"]).set_index("unique_id")
    naive = result.backtest[result.backtest["model"] == "SeasonalNaive"].set_index("unique_id")
    assert (chosen["model"] != "SeasonalNaive").all()
    assert (chosen["mase"] < naive["mase"]).all()
    model_mase, naive_mase = [], []
    for uid, actual in holdout.groupby("unique_id"):
        history = train.loc[train["unique_id"] == uid, "y"].to_numpy()
        scale = np.mean(np.abs(history[7:] - history[:-7]))
        future = result.forecasts[result.forecasts["unique_id"] == uid].iloc[: len(actual)]
        model_mase.append(np.mean(np.abs(actual["y"].to_numpy() - future["mean"].to_numpy())) / scale)
        last_week = np.resize(history[-7:], len(actual))
        naive_mase.append(np.mean(np.abs(actual["y"].to_numpy() - last_week)) / scale)
    assert np.mean(model_mase) < 0.8 * np.mean(naive_mase)


def test_seasonal_intervals_cover_near_their_level(seasonal_holdout) -> None:
    result, _, holdout = seasonal_holdout
    chosen = result.backtest.merge(result.choices, on=["unique_id", "model"])
    assert 0.65 <= chosen["coverage_80"].mean() <= 0.97
    assert 0.85 <= chosen["coverage_95"].mean() <= 1.0
    joined = holdout.merge(result.forecasts, on=["unique_id", "ds"])
    assert len(joined) == len(holdout)
    inside_95 = (joined["lo_95"] <= joined["y"]) & (joined["y"] <= joined["hi_95"])
    assert inside_95.mean() >= 0.8


def test_forecast_spans_the_three_planning_horizons(seasonal_holdout) -> None:
    result, train, _ = seasonal_holdout
    forecasts = result.forecasts
    assert forecasts.groupby("unique_id").size().eq(180).all()
    bands = forecasts.groupby("horizon_days")["step"].agg(["min", "max"])
    assert bands.to_dict("index") == {
        30: {"min": 1, "max": 30},
        90: {"min": 31, "max": 90},
        180: {"min": 91, "max": 180},
    }
    last = train.groupby("unique_id")["ds"].max()
    first = forecasts[forecasts["step"] == 1].set_index("unique_id")["ds"]
    assert (first - last == pd.Timedelta(days=1)).all()
    assert (forecasts["lo_95"] <= forecasts["lo_80"]).all()
    assert (forecasts["lo_80"] <= forecasts["mean"]).all() and (forecasts["mean"] <= forecasts["hi_80"]).all()
    assert (forecasts["hi_80"] <= forecasts["hi_95"]).all()


def test_awkward_series_fall_back_with_a_note(awkward) -> None:
    notes = awkward.notes.set_index("unique_id")
    assert notes.loc["five_days", "model"] == "Naive"
    assert "short history (5 of 14 days" in notes.loc["five_days", "note"]
    assert notes.loc["single_day", "model"] == "Naive"
    assert "no prediction interval" in notes.loc["single_day", "note"]
    assert notes.loc["all_zero", "model"] == "Naive"
    assert "all-zero history" in notes.loc["all_zero", "note"]
    assert notes.loc["forty_days", "model"] == "SeasonalNaive"
    assert "too short for a 30-day backtest" in notes.loc["forty_days", "note"]
    assert "intermittent" in notes.loc["intermittent", "note"]
    assert set(awkward.backtest.loc[awkward.backtest["unique_id"] == "intermittent", "model"]) == {
        "SeasonalNaive",
        "CrostonOptimized",
    }
    assert awkward.forecasts.groupby("unique_id").size().eq(180).all()
    zero = awkward.forecasts[awkward.forecasts["unique_id"] == "all_zero"]
    assert (zero[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]] == 0).all().all()


def test_no_negative_values_anywhere(awkward, seasonal_holdout) -> None:
    for result in (awkward, seasonal_holdout[0]):
        values = result.forecasts[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy()
        assert not (values < 0).any()
        assert np.isfinite(result.forecasts["mean"]).all()
    declining = awkward.forecasts[awkward.forecasts["unique_id"] == "declining"]
    assert (declining["lo_95"] == 0).any()


def test_a_failing_model_is_recorded_and_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(AutoETS):
        def fit(self, y, X=None):
            raise RuntimeError("optimiser exploded")

        def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):
            raise RuntimeError("optimiser exploded")

    monkeypatch.setitem(MODELS, "AutoETS", Broken)
    df = weekly_trend("w", 200, seed=5)
    scores = fc.backtest(df)
    broken = scores[scores["model"] == "AutoETS"].iloc[0]
    assert np.isnan(broken["mase"])
    assert "AutoETS failed in backtest: RuntimeError: optimiser exploded" in broken["note"]
    assert fc.choose_models(scores)["model"].iloc[0] != "AutoETS"
    forced = pd.DataFrame({"unique_id": ["w"], "model": ["AutoETS"], "reason": ["forced"]})
    out = fc.forecast(df, forced)
    assert set(out["model"]) == {"SeasonalNaive"}
    assert "AutoETS failed at forecast (RuntimeError: optimiser exploded)" in out["note"].iloc[0]
    assert "used SeasonalNaive" in out["note"].iloc[0]


def test_ties_go_to_the_simpler_model_and_failures_to_seasonal_naive() -> None:
    scores = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "b", "b"],
            "model": ["AutoETS", "SeasonalNaive", "DynamicOptimizedTheta", "AutoETS", "AirlineARIMA"],
            "mase": [0.5, 0.5, 0.7, np.nan, np.nan],
            "n_windows": [3, 3, 3, 3, 3],
            "note": ["", "", "", "AutoETS failed", "AirlineARIMA failed"],
        }
    )
    choices = fc.choose_models(scores).set_index("unique_id")
    assert choices.loc["a", "model"] == "SeasonalNaive"
    assert choices.loc["b", "model"] == "SeasonalNaive"
    assert choices.loc["b", "reason"] == "every candidate failed in backtest"


@pytest.mark.slow  # seconds: out of the edit loop
def test_polars_input_with_gaps_and_the_full_candidate_set() -> None:
    df = weekly_trend("gappy", 300, seed=7)
    df = df.drop(index=[50, 51, 52])
    result = fc.run(pl.from_pandas(df), candidates=fc.FULL_CANDIDATES)
    assert set(result.backtest["model"]) == set(fc.FULL_CANDIDATES)
    assert result.backtest["mase"].notna().all()
    assert "3 missing day(s) filled with 0" in result.notes["note"].iloc[0]
    assert len(result.forecasts) == 180


@pytest.mark.slow  # seconds: out of the edit loop
def test_parallel_run_matches_serial() -> None:
    df = pd.concat([weekly_trend("a", 200, 1), intermittent("b", 200, 2), frame("c", np.ones(5))])
    serial, parallel = fc.run(df), fc.run(df, n_jobs=2)
    pd.testing.assert_frame_equal(serial.forecasts, parallel.forecasts)
    pd.testing.assert_frame_equal(serial.backtest, parallel.backtest)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (frame("x", np.array([1.0, -2.0])), "negative demand"),
        (pd.concat([frame("x", np.ones(3)), frame("x", np.ones(1))]), "repeated days"),
        (pd.DataFrame({"unique_id": ["x"], "y": [1.0]}), "missing column"),
    ],
)
def test_bad_input_is_refused(rows: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fc.backtest(rows)


def test_bad_settings_are_refused() -> None:
    df = weekly_trend("w", 100, seed=1)
    with pytest.raises(ValueError, match="unknown or no candidate models"):
        fc.backtest(df, candidates=["Prophet"])
    with pytest.raises(ValueError, match="at least 1"):
        fc.run(df, windows=0)
    with pytest.raises(ValueError, match="no model chosen"):
        fc.forecast(df, pd.DataFrame({"unique_id": ["other"], "model": ["Naive"]}))


def test_exceedance_probability_is_monotone_and_half_at_the_mean() -> None:
    mean, lo, hi = 100.0, 60.0, 140.0
    thresholds = np.linspace(0, 250, 101)
    p = fc.exceedance_probability(mean, lo, hi, thresholds)
    assert p.shape == thresholds.shape
    assert (np.diff(p) <= 0).all() and p[0] > 0.99 and p[-1] < 1e-6
    assert fc.exceedance_probability(mean, lo, hi, mean) == pytest.approx(0.5)
    assert fc.exceedance_probability(mean, lo, hi, hi) == pytest.approx(0.025, abs=1e-4)
    vector = fc.exceedance_probability(
        np.array([10.0, 0.0, np.nan]), np.zeros(3), np.array([30.0, 0.0, 5.0]), 5.0
    )
    assert vector[0] == pytest.approx(
        fc.exceedance_probability(10.0, -10.0, 30.0, 5.0)
    )  # clipped lower bound
    assert vector[1] == 0.0 and np.isnan(vector[2])


@given(
    mean=st.floats(0, 1e6),
    half_width=st.floats(1e-3, 1e6),
    thresholds=st.lists(st.floats(0, 2e6), min_size=2, max_size=20),
)
def test_exceedance_probability_is_a_survival_function(
    mean: float, half_width: float, thresholds: list
) -> None:
    lo, hi = max(mean - half_width, 0.0), mean + half_width
    p = fc.exceedance_probability(mean, lo, hi, np.sort(thresholds))
    assert ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p) <= 1e-12).all()


def test_exceedance_probability_on_forecasts(seasonal_holdout) -> None:
    forecasts = seasonal_holdout[0].forecasts
    p = fc.exceedance_probability(
        forecasts["mean"], forecasts["lo_95"], forecasts["hi_95"], forecasts["mean"]
    )
    assert p == pytest.approx(np.full(len(forecasts), 0.5))


def test_pai_demand_series_matches_an_independent_sql_count() -> None:
    series = fc.pai_demand_series(PAI_PODS)
    assert not series.empty
    assert set(series["unique_id"]) == {"any"}
    assert (series["ds"].diff().dropna() == pd.Timedelta(days=1)).all()
    assert series["ds"].iloc[0] == pd.Timestamp("2023-01-01")
    assert (series["y"] >= 0).all() and series["y"].sum() > 0
    csv = f"read_csv('{PAI_PODS}')"
    expected = duckdb.sql(
        f"""
        WITH pods AS (
            SELECT scheduled_time AS s, deletion_time AS d, num_gpu * gpu_milli / 1000.0 AS gpus
            FROM {csv} WHERE scheduled_time IS NOT NULL
        ), days AS (SELECT range AS day FROM range(0, (SELECT max(deletion_time) FROM {csv}) // 86400))
        SELECT day, sum(gpus * greatest(0, least(d, (day + 1) * 86400) - greatest(s, day * 86400))) / 3600 AS y
        FROM days, pods GROUP BY day ORDER BY day
        """
    ).df()
    assert np.allclose(series["y"].to_numpy(), expected["y"].to_numpy(), rtol=1e-9)
    total = duckdb.sql(
        f"""
        WITH trace AS (SELECT max(deletion_time) // 86400 * 86400 AS whole_days_end FROM {csv})
        SELECT sum(num_gpu * gpu_milli / 1000.0 * greatest(0, least(deletion_time, whole_days_end) - scheduled_time))
            / 3600
        FROM {csv}, trace WHERE scheduled_time IS NOT NULL
        """
    ).fetchall()[0][0]
    assert series["y"].sum() == pytest.approx(total, rel=1e-9)


def test_pai_demand_series_groups_by_normalised_gpu_spec(tmp_path: Path) -> None:
    pods = tmp_path / "pods.csv"
    pods.write_text(
        "name,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time,scheduled_time\n"
        "a,2,1000,V100M32|V100M16,0,86400,0\n"
        "b,1,500,V100M16|V100M32,43200,172800,43200\n"
        "c,1,1000,,0,3600,\n"
        "d,1,1000,,86400,90000,86400\n"
    )
    series = fc.pai_demand_series(pods, origin="2024-03-01")
    got = {(r.unique_id, str(r.ds.date())): r.y for r in series.itertuples()}
    assert got == {
        ("V100M16|V100M32", "2024-03-01"): pytest.approx(48 + 6),
        ("V100M16|V100M32", "2024-03-02"): pytest.approx(12),
        ("any", "2024-03-02"): pytest.approx(1),
    }
