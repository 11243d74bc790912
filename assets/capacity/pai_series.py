"""Daily GPU-hours demand series from the Alibaba PAI trace, as input to the capacity forecasts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import polars as pl

_DAY_SECONDS = 86_400


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
