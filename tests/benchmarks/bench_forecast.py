"""Benchmark: backtest, model choice and 180-day forecast of many synthetic daily GPU-hours series.

Generates `--series` series of `--days` days (a mix of weekly-seasonal with trend, trending without season,
intermittent, short newly started and structural-break series), runs `assets.capacity.forecast.run` on
them and prints one JSON line: wall and CPU seconds, peak RSS and a summary of the choices and scores.
Peak RSS of this process comes from `resource.getrusage`; the workers' is sampled from /proc (their sum
at any moment), because getrusage's figure for children counts the parent's pages they briefly share
between fork and exec. Run: `python tests/benchmarks/bench_forecast.py --series 1000 --days 730 --jobs 2`.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assets.capacity.forecast import REGULAR_CANDIDATES, run

KINDS = ("seasonal", "trending", "intermittent", "short", "break")
SHARES = (0.35, 0.15, 0.2, 0.1, 0.2)
END = np.datetime64("2025-12-31")


def weekly(days: int, rng: np.random.Generator) -> np.ndarray:
    """A weekly pattern with weekend dips, random phase and depth."""
    profile = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.5]) ** rng.uniform(0.5, 2.0)
    return np.roll(profile, rng.integers(7))[np.arange(days) % 7]


def make_series(kind: str, days: int, rng: np.random.Generator) -> np.ndarray:
    """One series of daily demand (>= 0) of the given kind."""
    t = np.arange(days)
    level = rng.uniform(20, 500)
    if kind == "seasonal":
        y = (level + rng.uniform(-0.2, 0.5) * t) * weekly(days, rng) + rng.normal(0, 0.05 * level, days)
    elif kind == "trending":
        y = level + np.cumsum(rng.normal(rng.uniform(0, 0.5), 0.03 * level, days))
    elif kind == "intermittent":
        y = rng.binomial(1, rng.uniform(0.05, 0.4), days) * rng.gamma(2.0, level / 4, days)
    elif kind == "short":
        n = int(rng.integers(3, 60))
        y = level * weekly(n, rng) + rng.normal(0, 0.05 * level, n)
    else:
        shift = np.where(t >= rng.integers(days // 3, days - 60), rng.uniform(0.3, 2.5), 1.0)
        y = level * shift * weekly(days, rng) + rng.normal(0, 0.05 * level, days)
    return np.maximum(y, 0.0)


def synthetic(series: int, days: int, seed: int = 0) -> pd.DataFrame:
    """Long frame of `series` series, all ending on END, short ones starting late."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(KINDS, size=series, p=SHARES)
    frames = []
    for i, kind in enumerate(kinds):
        y = make_series(str(kind), days, rng)
        ds = END - np.arange(y.size)[::-1].astype("timedelta64[D]")
        frames.append(pd.DataFrame({"unique_id": f"{kind}-{i:05d}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


class WorkerMemory(threading.Thread):
    """Samples the summed resident memory of this process's children until stopped."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.peak_kib = max(self.peak_kib, sum(rss_kib(pid) for pid in children()))


def children() -> set[str]:
    return {
        pid for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()
    }


def rss_kib(pid: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--candidates", default=",".join(REGULAR_CANDIDATES), help="comma-separated models")
    args = parser.parse_args()
    df = synthetic(args.series, args.days)
    workers = WorkerMemory()
    workers.start()
    start = time.perf_counter()
    candidates = args.candidates.split(",")
    result = run(df, windows=args.windows, candidates=candidates, n_jobs=args.jobs)
    seconds = time.perf_counter() - start
    workers.done.set()
    usage = [resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)]
    scores = result.backtest.merge(result.choices, on=["unique_id", "model"])
    baseline = result.backtest[result.backtest["model"] == "SeasonalNaive"].set_index("unique_id")["mase"]
    both = scores.set_index("unique_id")["mase"].to_frame("chosen").join(baseline.rename("seasonal_naive"))
    print(
        json.dumps(
            {
                "series": args.series,
                "days": args.days,
                "rows_in": len(df),
                "jobs": args.jobs,
                "windows": args.windows,
                "candidates": candidates,
                "seconds": round(seconds, 2),
                "cpu_seconds_main": round(usage[0].ru_utime + usage[0].ru_stime, 1),
                "cpu_seconds_workers": round(usage[1].ru_utime + usage[1].ru_stime, 1),
                "peak_rss_mib": round(usage[0].ru_maxrss / 1024, 1),
                "peak_workers_rss_mib": round(workers.peak_kib / 1024, 1),
                "forecast_rows": len(result.forecasts),
                "chosen": result.choices["model"].value_counts().to_dict(),
                "median_mase_chosen": round(float(both["chosen"].median()), 3),
                "median_mase_seasonal_naive": round(float(both["seasonal_naive"].median()), 3),
                "mean_coverage_80": round(float(scores["coverage_80"].mean()), 3),
                "mean_coverage_95": round(float(scores["coverage_95"].mean()), 3),
                "series_with_notes": int((result.notes["note"] != "").sum()),
                "negative_values": int((result.forecasts[["mean", "lo_80", "lo_95"]] < 0).to_numpy().sum()),
            }
        )
    )


if __name__ == "__main__":
    main()
