"""Dataset transfers over the elastic compute network, and the dataset placements they create."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from .behaviour import Behaviour
from .catalog import FACTS_DATASET_ID, SNAPSHOT_EVERY_DAYS, Snapshot, usable_ids
from .ecosystem import SITE_IDS, day_start_epoch
from .formats import fixed, iso_utc, lookup
from .placements import Placements
from .pricing import service_price
from .profiles import FEED_IDS, FEED_PROFILES
from .seeds import rng_for
from .tenants import N_TENANTS, TENANT_IDS

BASE_MBPS = 100
BOOST_MBPS = 10_000
TRANSFERS_PER_DAY = 11.0
FAILED_SHARE = 0.03
FACTS_DAY = 9  # 2025-08-10 with the default start: "day 10" of the period
FACTS_BYTES = 10_000_000_000_000
FACTS_BOOST_MBPS = 12_000
_ERRORS = ("E_LINK_RESET", "E_TIMEOUT", "E_CHECKSUM_MISMATCH", "E_QUOTA_EXCEEDED")
_PREPLACED_PER_SITE = 3
_LOOKAHEAD_DAYS = 3  # data is moved to where a tenant's jobs will run a few days later


@dataclass(frozen=True)
class TransferPlan:
    """All transfer rows of the period (with their UTC file day) and the resulting placements."""

    rows: pl.DataFrame
    placements: Placements

    def for_day(self, day: int) -> pl.DataFrame:
        """Rows of transfers requested on UTC day `day`, in file column order."""
        return self.rows.filter(pl.col("day") == day).drop("day")


def _site_choice(rng: np.random.Generator, behaviour: Behaviour, tenant: np.ndarray, day: int) -> np.ndarray:
    """A site where each tenant will run jobs soon (through one of its providers)."""
    membership = behaviour.membership(day)[tenant]
    cum = np.cumsum(membership, axis=1)
    cum /= np.maximum(cum[:, -1:], 1e-12)
    provider = np.minimum((rng.random(tenant.size)[:, None] >= cum).sum(axis=1), len(FEED_IDS) - 1)
    u = rng.random(tenant.size)
    site = np.zeros(tenant.size, dtype=np.int64)
    for p, prof in enumerate(FEED_PROFILES):
        sel = provider == p
        cum_site = np.cumsum(prof.site_weights) / sum(prof.site_weights)
        local = np.minimum(np.searchsorted(cum_site, u[sel], side="right"), len(prof.sites) - 1)
        site[sel] = np.array([SITE_IDS.index(s) for s in prof.sites])[local]
    return site


def plan_transfers(
    seed: int,
    scale: float,
    start: dt.date,
    days: int,
    behaviour: Behaviour,
    snapshots: list[Snapshot],
    dataset_ids: list[str],
) -> TransferPlan:
    """Generate every transfer of the period and index where datasets are ready for jobs."""
    ds_index = {d: i for i, d in enumerate(dataset_ids)}
    usable = usable_ids(snapshots)
    pre = _preplaced(seed, behaviour, snapshots[0], usable[0], ds_index)
    frames = []
    for day in range(days):
        snap_k = min(day // SNAPSHOT_EVERY_DAYS, len(snapshots) - 1)
        frames.append(_day_transfers(seed, scale, start, day, behaviour, snapshots[snap_k], usable[snap_k]))
    rows = pl.concat(frames, how="vertical_relaxed")
    rows = _finish(rows, start, days)
    local_day0 = day_start_epoch(start, 0)
    done = rows.filter(pl.col("status") == "completed")
    ready = ((done["end_s"].to_numpy() - local_day0) // 86400 + 1).astype(np.int64)
    placements = Placements.build(
        np.concatenate([pre[0], done["tenant_idx"].to_numpy()]),
        np.concatenate([pre[1], done["dst_idx"].to_numpy()]),
        np.concatenate([pre[2], ready]),
        np.concatenate(
            [pre[3], done["dataset_id"].replace_strict(ds_index, return_dtype=pl.Int64).to_numpy()]
        ),
    )
    return TransferPlan(rows.drop(["end_s", "tenant_idx", "dst_idx"]), placements)


def _preplaced(
    seed: int, behaviour: Behaviour, snap: Snapshot, usable: set[str], ds_index: dict[str, int]
) -> tuple[np.ndarray, ...]:
    """Datasets tenants already hold at their sites before the period starts."""
    rng = rng_for(seed, "elastic_net:preplaced")
    candidates = [d for d in snap.datasets if d["id"] in usable]
    popularity = np.sqrt([d["downloads"] for d in candidates])
    ever = behaviour.ever_uses()
    tenants, sites = [], []
    for t in range(N_TENANTS):
        tenant_sites = sorted(
            {SITE_IDS.index(s) for p, prof in enumerate(FEED_PROFILES) if ever[t, p] for s in prof.sites}
        )
        for s in tenant_sites:
            tenants += [t] * _PREPLACED_PER_SITE
            sites += [s] * _PREPLACED_PER_SITE
    picks = rng.choice(len(candidates), len(tenants), p=popularity / popularity.sum())
    datasets = np.array([ds_index[candidates[i]["id"]] for i in picks], dtype=np.int64)
    ready = np.full(len(tenants), -30, dtype=np.int64)
    return np.array(tenants), np.array(sites), ready, datasets


def _day_transfers(
    seed: int, scale: float, start: dt.date, day: int, behaviour: Behaviour, snap: Snapshot, usable: set[str]
) -> pl.DataFrame:
    """Transfers requested on UTC day `day`; a failed transfer is retried later and then completes."""
    rng = rng_for(seed, "elastic_net", day)
    weights = behaviour.activity * (behaviour.membership(day + _LOOKAHEAD_DAYS).sum(axis=1) > 0)
    n = int(rng.poisson(TRANSFERS_PER_DAY * scale)) if weights.sum() > 0 else 0
    tenant = np.minimum(
        np.searchsorted(np.cumsum(weights) / weights.sum(), rng.random(n), side="right"), N_TENANTS - 1
    )
    dst = _site_choice(rng, behaviour, tenant, day + _LOOKAHEAD_DAYS)
    others = np.array(
        [[o for o in range(3) if o != d][:2] if d < 3 else [0, 1] for d in range(len(SITE_IDS))]
    )
    src = np.where(rng.random(n) < 0.85, SITE_IDS.index("xuhui"), others[dst, rng.integers(0, 2, n)])
    candidates = [d for d in snap.datasets if d["id"] in usable]
    popularity = np.sqrt(np.array([d["downloads"] for d in candidates], dtype=np.float64))
    pick = rng.choice(len(candidates), n, p=popularity / popularity.sum())
    full = np.array([d["file_bytes"] for d in candidates], dtype=np.int64)[pick]
    subset = rng.random(n) < 0.3
    size = np.where(subset, (full * rng.uniform(0.05, 0.5, n)).astype(np.int64), full)
    requested = day_start_epoch(start, day, utc_days=True) + rng.integers(0, 86400, n)
    begin = requested + rng.integers(20, 900, n)
    base_seconds = size * 8 / (BASE_MBPS * 1e6)
    boosted = rng.random(n) < np.where(base_seconds > 4 * 3600, 0.9, 0.05)
    rate = np.where(
        boosted, BOOST_MBPS * 1e6 * rng.uniform(0.85, 0.98, n), BASE_MBPS * 1e6 * rng.uniform(0.9, 0.98, n)
    )
    duration = np.ceil(size * 8 / rate).astype(np.int64) + 1
    failed = rng.random(n) < FAILED_SHARE
    failed_after = np.maximum(60, (duration * rng.uniform(0.1, 0.9, n)).astype(np.int64))
    failed_end = begin + failed_after
    moved = np.minimum(
        size, (size * failed_after / duration).astype(np.int64)
    )  # bytes moved before the failure
    retry_requested = failed_end + rng.integers(60, 1800, n)
    retry_begin = retry_requested + rng.integers(20, 900, n)
    errors = np.array(_ERRORS)[rng.integers(0, len(_ERRORS), n)]
    dataset = pl.Series([d["id"] for d in candidates], dtype=pl.String).gather(pick)
    common = {
        "tenant_idx": tenant,
        "dataset_id": dataset,
        "src_idx": src,
        "dst_idx": dst,
        "boosted": boosted,
        "boost_mbps": np.full(n, BOOST_MBPS),
    }
    first = pl.DataFrame(
        {
            **common,
            "bytes": np.where(failed, moved, size),
            "req_s": requested,
            "start_s": begin,
            "end_s": np.where(failed, failed_end, begin + duration),
            "status": np.where(failed, "failed", "completed"),
            "result_code": np.where(failed, errors, "OK"),
        }
    )
    retry = pl.DataFrame(
        {
            **common,
            "bytes": size,
            "req_s": retry_requested,
            "start_s": retry_begin,
            "end_s": retry_begin + duration,
            "status": "completed",
            "result_code": "OK",
        }
    ).filter(pl.Series(failed))
    frames = [first, retry]
    if day == FACTS_DAY:
        frames.append(_facts_transfer(start).select(first.columns))
    return pl.concat(frames, how="vertical_relaxed")


def _facts_transfer(start: dt.date) -> pl.DataFrame:
    """T001 moves 10 TB from Xuhui to Lingang in 2 boosted hours instead of 800,000 s at 100 Mbps.

    Two hours for 10 TB take about 11.1 Gbps, so this boost window runs at FACTS_BOOST_MBPS.
    """
    begin = day_start_epoch(start, FACTS_DAY, utc_days=True) + 2 * 3600
    return pl.DataFrame(
        {
            "tenant_idx": [0],
            "dataset_id": [FACTS_DATASET_ID],
            "src_idx": [SITE_IDS.index("xuhui")],
            "dst_idx": [SITE_IDS.index("lingang")],
            "bytes": [FACTS_BYTES],
            "boosted": [True],
            "boost_mbps": [FACTS_BOOST_MBPS],
            "req_s": [begin - 300],
            "start_s": [begin],
            "end_s": [begin + 2 * 3600],
            "status": ["completed"],
            "result_code": ["OK"],
        }
    )


def _finish(rows: pl.DataFrame, start: dt.date, days: int) -> pl.DataFrame:
    """Assign file days and ids, and format the columns of transfers_YYYY-MM-DD.csv."""
    utc0 = day_start_epoch(start, 0, utc_days=True)
    base_rate = int(service_price("elastic_net", "network_base", start))
    boost_rate = int(service_price("elastic_net", "network_boost", start))
    rows = (
        rows.with_columns(day=((pl.col("req_s") - utc0) // 86400).cast(pl.Int32))
        .filter(pl.col("day") < days)
        .sort(["req_s", "tenant_idx", "dataset_id", "start_s"])
    )
    yyyymmdd = pl.from_epoch(pl.col("req_s"), time_unit="s").dt.strftime("%Y%m%d")
    hundredths = ((pl.col("end_s") - pl.col("start_s") + 35) // 36).cast(pl.Int64)
    boost = pl.col("boosted")
    return rows.select(
        "day",
        "end_s",
        "tenant_idx",
        "dst_idx",
        transfer_id=pl.concat_str(
            [
                pl.lit("EN-"),
                yyyymmdd,
                pl.lit("-"),
                (pl.int_range(pl.len()).over("day") + 1).cast(pl.String).str.zfill(5),
            ]
        ),
        tenant_id=lookup(TENANT_IDS, pl.col("tenant_idx")),
        dataset_id=pl.col("dataset_id"),
        source_site=lookup(SITE_IDS, pl.col("src_idx")),
        destination_site=lookup(SITE_IDS, pl.col("dst_idx")),
        bytes=pl.col("bytes"),
        requested_at=iso_utc(pl.col("req_s")),
        start_time=iso_utc(pl.col("start_s")),
        end_time=iso_utc(pl.col("end_s")),
        base_bandwidth_mbps=pl.lit(BASE_MBPS),
        boost_bandwidth_mbps=pl.when(boost).then(pl.col("boost_mbps")).otherwise(None),
        boost_start=pl.when(boost).then(iso_utc(pl.col("start_s"))).otherwise(None),
        boost_end=pl.when(boost).then(iso_utc(pl.col("end_s"))).otherwise(None),
        billed_hours=fixed(hundredths, 2),
        cost_cny=fixed(hundredths * pl.when(boost).then(boost_rate).otherwise(base_rate), 2),
        status=pl.col("status"),
        result_code=pl.col("result_code"),
    )
