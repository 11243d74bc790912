"""Vectorised text formatting shared by every feed: fixed decimals, timestamps, id lookups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

SHANGHAI_OFFSET_S = 8 * 3600


def fixed(units: pl.Expr, decimals: int) -> pl.Expr:
    """Format an integer count of 10**-decimals units as a fixed-point decimal ("-12.3400")."""
    scale = 10**decimals
    magnitude = units.abs()
    sign = pl.when(units < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(
        [
            sign,
            (magnitude // scale).cast(pl.String),
            pl.lit("."),
            (magnitude % scale).cast(pl.String).str.zfill(decimals),
        ]
    )


def scaled(values: np.ndarray, decimals: int) -> np.ndarray:
    """Round to `decimals` places and return the integer count of 10**-decimals units."""
    return np.rint(values * 10**decimals).astype(np.int64)


def iso_utc(epoch_s: pl.Expr) -> pl.Expr:
    """Epoch seconds as ISO-8601 UTC with a Z suffix."""
    return pl.from_epoch(epoch_s, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def local_time(epoch_s: pl.Expr, fmt: str = "%Y-%m-%d %H:%M:%S") -> pl.Expr:
    """Epoch seconds as Asia/Shanghai wall-clock text (fixed +08:00, no daylight saving)."""
    return pl.from_epoch(epoch_s + SHANGHAI_OFFSET_S, time_unit="s").dt.strftime(fmt)


def lookup(values: Sequence[str], index: pl.Expr) -> pl.Expr:
    """Map integer codes to strings; negative codes become null."""
    table = pl.Series(list(values), dtype=pl.String)
    safe = pl.when(index >= 0).then(index).otherwise(0).cast(pl.UInt32)
    return pl.when(index >= 0).then(pl.lit(table).gather(safe)).otherwise(None)
