"""Compute, model and corpus vouchers: over 100 million yuan, exactly 70 million of it in cash."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from .formats import fixed
from .seeds import rng_for
from .tenants import tenants_frame

CASH_TOTAL_FEN = 70_000_000_00
CITY_FUNDER = "上海市经济和信息化委员会"
DISTRICT_FUNDER = {"徐汇区": "徐汇区科委", "浦东新区": "浦东新区科经委", "闵行区": "闵行区科委"}
# programme, funder, is_cash, coverage, annual cap (CNY), eligible categories, share of tenants, mean raw face
_KINDS = (
    ("compute", "city", True, 0.30, 5_000_000, "gpu_compute", 0.92, 600_000.0),
    ("compute", "district", False, None, 2_000_000, "gpu_compute;network", 0.70, 300_000.0),
    ("model", "city", True, 0.50, 3_000_000, "model_service", 0.40, 350_000.0),
    ("corpus", "city", False, 0.30, 1_000_000, "corpus;network", 0.35, 150_000.0),
)
_DISTRICT_COVERAGE = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)  # city 0.30 + district <= 1.00


def _to_total(raw: np.ndarray, total_fen: int) -> np.ndarray:
    """Scale face values to hundreds of yuan summing exactly to `total_fen` (remainder on the largest)."""
    fen = np.floor(raw / raw.sum() * total_fen / 10_000).astype(np.int64) * 10_000
    fen[np.argmax(fen)] += total_fen - fen.sum()
    return fen


def voucher_ledger(seed: int, start: dt.date) -> pl.DataFrame:
    """voucher_ledger.csv rows (independent of the usage scale)."""
    rng = rng_for(seed, "vouchers")
    tenants = tenants_frame()
    rows: list[dict] = []
    for programme, funder, is_cash, coverage, cap, eligible, share, mean in _KINDS:
        chosen = np.flatnonzero(rng.random(tenants.height) < share)
        for t in chosen:
            district = tenants["district"][int(t)]
            cov = coverage if coverage is not None else float(rng.choice(_DISTRICT_COVERAGE))
            issued = start + dt.timedelta(days=int(rng.integers(-200, 90)))
            valid_from = issued + dt.timedelta(days=int(rng.integers(0, 15)))
            rows.append(
                {
                    "tenant_id": tenants["tenant_id"][int(t)],
                    "programme": programme,
                    "funder": funder,
                    "funder_name": CITY_FUNDER if funder == "city" else DISTRICT_FUNDER[district],
                    "raw": mean * rng.lognormal(0.0, 0.5),
                    "is_cash": is_cash,
                    "coverage_ratio": cov,
                    "issued_date": issued,
                    "valid_from": valid_from,
                    "valid_to": valid_from + dt.timedelta(days=364),
                    "annual_cap_fen": cap * 100,
                    "eligible_categories": eligible,
                }
            )
    frame = pl.DataFrame(rows)
    cash = frame["is_cash"].to_numpy()
    raw = frame["raw"].to_numpy()
    noncash_total = round(rng.uniform(31_000_000, 34_000_000)) * 100
    face = np.zeros(frame.height, dtype=np.int64)
    face[cash] = _to_total(raw[cash], CASH_TOTAL_FEN)
    face[~cash] = _to_total(raw[~cash], noncash_total)
    frame = frame.with_columns(face_fen=pl.Series(face)).sort(
        ["issued_date", "tenant_id", "programme", "funder"]
    )
    return frame.select(
        voucher_id=pl.concat_str([pl.lit("VCH-"), (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(5)]),
        tenant_id="tenant_id",
        programme="programme",
        funder="funder",
        funder_name="funder_name",
        face_value_cny=fixed(pl.col("face_fen"), 2),
        is_cash=pl.col("is_cash"),
        coverage_ratio=fixed((pl.col("coverage_ratio") * 100).round().cast(pl.Int64), 2),
        issued_date="issued_date",
        valid_from="valid_from",
        valid_to="valid_to",
        annual_cap_cny=fixed(pl.col("annual_cap_fen"), 2),
        eligible_categories="eligible_categories",
    )
