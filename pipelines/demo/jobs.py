"""The shared, vectorised core: GPU jobs per (provider, start day) and their charge lines per day."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from .behaviour import NOMINAL_DAYS, Behaviour, season
from .ecosystem import SITE_IDS, day_start_epoch
from .placements import Placements
from .pricing import price_vectors
from .profiles import FeedProfile
from .seeds import rng_for

MIN_DURATION_S = 300
MAX_DURATION_S = 60 * 3600
MEDIAN_DURATION_S = 2.5 * 3600
DURATION_SIGMA = 1.0
FAILED_SHARE = 0.05
DAYS_BACK = math.ceil(MAX_DURATION_S / 86400)  # start days whose jobs can still run on a given day
# Relative job starts per Shanghai local hour 00..23: quiet nights, busy office hours, evening batch runs.
_LOCAL_HOUR_WEIGHTS = np.array(
    [2, 1.5, 1, 1, 1, 1, 1.5, 2, 4, 7, 9, 9, 6, 7, 9, 9, 8, 7, 5, 5, 6, 6, 4, 3], dtype=np.float64
)
# Expected job duration (failed jobs stop early), used to turn a row budget into a job count.
_MEAN_DURATION_S = MEDIAN_DURATION_S * math.exp(DURATION_SIGMA**2 / 2) * (1 - FAILED_SHARE * (1 - 0.375))

STATUS_DONE, STATUS_FAILED, STATUS_RUNNING = 0, 1, 2


@dataclass(frozen=True)
class UsageContext:
    """Everything the job generator needs besides the provider profile."""

    seed: int
    scale: float
    start: dt.date
    days: int
    behaviour: Behaviour
    placements: Placements


def _cumulative(weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, dtype=np.float64)
    return cum / cum[-1]


def _pick(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cum, u, side="right"), cum.size - 1)


class JobGenerator:
    """Jobs and charge lines of one provider; each start day depends only on (seed, provider, day)."""

    def __init__(self, ctx: UsageContext, profile: FeedProfile) -> None:
        self.ctx = ctx
        self.profile = profile
        self._cache: dict[int, dict[str, np.ndarray]] = {}
        shift = 8 if profile.utc_days else 0  # provider-day hour h is Shanghai hour h + shift
        self._hour_cum = _cumulative(np.roll(_LOCAL_HOUR_WEIGHTS, -shift))
        self._card_cum = _cumulative(np.array(profile.card_weights))
        self._site_cum = _cumulative(np.array(profile.site_weights))
        self._site_global = np.array([SITE_IDS.index(s) for s in profile.sites])
        chips = profile.chips
        self._nvidia = np.array([i for i, c in enumerate(chips) if not c.domestic])
        self._domestic = np.array([i for i, c in enumerate(chips) if c.domestic], dtype=np.int64)
        self._nvidia_cum = _cumulative(np.array([chips[i].weight for i in self._nvidia]))
        self._domestic_cum = (
            _cumulative(np.array([chips[i].weight for i in self._domestic]))
            if self._domestic.size
            else np.ones(1)
        )
        aliases = [c.alias for c in chips]
        self._migrant_chip = np.array([aliases.index(a) for a in profile.migrant_chips], dtype=np.int64)
        per_job = _MEAN_DURATION_S / 3600 + 1 if profile.hourly else 1 + _MEAN_DURATION_S / 86400
        self._jobs_per_weight = (
            profile.rows_per_day / per_job / ctx.behaviour.mean_weight[profile.provider_id]
        )

    def day_start(self, day: int) -> int:
        """Epoch second at which provider day `day` starts."""
        return day_start_epoch(self.ctx.start, day, self.profile.utc_days)

    def jobs(self, day: int) -> dict[str, np.ndarray]:
        """All jobs that start on provider day `day` (cached for the following days)."""
        if day not in self._cache:
            self._cache[day] = self._generate(day)
            for old in [d for d in self._cache if d < day - DAYS_BACK]:
                del self._cache[old]
        return self._cache[day]

    def _generate(self, day: int) -> dict[str, np.ndarray]:
        ctx, prof = self.ctx, self.profile
        rng = rng_for(ctx.seed, prof.provider_id, day)
        weights = ctx.behaviour.weights(prof.provider_id, day)
        total = float(weights.sum())
        mean = ctx.scale * self._jobs_per_weight * total * season(ctx.start, day)
        n = int(rng.poisson(mean)) if total > 0 else 0
        tenant = _pick(np.cumsum(weights) / max(total, 1e-12), rng.random(n))
        hour = _pick(self._hour_cum, rng.random(n))
        start = self.day_start(day) + hour * 3600 + rng.integers(0, 3600, n)
        duration = np.clip(
            rng.lognormal(math.log(MEDIAN_DURATION_S), DURATION_SIGMA, n), MIN_DURATION_S, MAX_DURATION_S
        )
        failed = rng.random(n) < FAILED_SHARE
        cut = rng.uniform(0.05, 0.7, n)
        duration = np.where(failed, np.maximum(MIN_DURATION_S, duration * cut), duration).astype(np.int64)
        cards = np.array(prof.cards)[_pick(self._card_cum, rng.random(n))]
        site = self._site_global[_pick(self._site_cum, rng.random(n))]
        chip = self._chips(rng, n, day, tenant)
        dataset = ctx.placements.pick(rng, tenant, site, day)
        list_prices, contracted = price_vectors(
            prof.provider_id, prof.chip_models, ctx.start + dt.timedelta(days=day)
        )
        list_price = list_prices[chip]
        if prof.provider_id == "volcano_engine":
            discount = ctx.behaviour.volcano_discount[tenant]
            unit_price = list_price * (1.0 - discount)
        else:
            unit_price = contracted[chip]
            discount = 1.0 - unit_price / list_price
        yyyymmdd = int((ctx.start + dt.timedelta(days=day)).strftime("%Y%m%d"))
        return {
            "job_key": yyyymmdd * 1_000_000 + np.arange(n, dtype=np.int64),
            "tenant": tenant.astype(np.int16),
            "site": site.astype(np.int8),
            "chip": chip.astype(np.int8),
            "cards": cards.astype(np.int32),
            "start": start.astype(np.int64),
            "end": start + duration,
            "failed": failed,
            "dataset": dataset,
            "list_price": list_price,
            "unit_price": unit_price,
            "discount": discount,
            "node": rng.integers(1, 4000, n).astype(np.int32),
        }

    def _chips(self, rng: np.random.Generator, n: int, day: int, tenant: np.ndarray) -> np.ndarray:
        lo, hi = self.profile.domestic_share
        share = lo + (hi - lo) * min(max(day, 0), NOMINAL_DAYS) / NOMINAL_DAYS
        domestic = (rng.random(n) < share) & (self._domestic.size > 0)
        u = rng.random(n)
        chip = np.where(
            domestic,
            self._domestic[_pick(self._domestic_cum, u)] if self._domestic.size else 0,
            self._nvidia[_pick(self._nvidia_cum, u)],
        )
        if self._migrant_chip.size:
            migrant = self.ctx.behaviour.is_migrant()[tenant]
            mix = np.where(rng.random(n) < 0.6, self._migrant_chip[0], self._migrant_chip[-1])
            chip = np.where(migrant, mix, chip)
        return chip

    def lines(self, day: int) -> pl.DataFrame:
        """Charge lines of provider day `day`: one per job and local day, or per job and clock hour."""
        batches = [self.jobs(d) for d in range(day - DAYS_BACK, day + 1)]
        jobs = {k: np.concatenate([b[k] for b in batches]) for k in batches[-1]}
        window_start = self.day_start(day)
        window_end = window_start + 86400
        horizon = self.day_start(self.ctx.days)
        running = jobs["end"] > horizon
        seg_from = np.maximum(jobs["start"], window_start)
        seg_to = np.minimum(np.minimum(jobs["end"], horizon), window_end)
        keep = np.flatnonzero(seg_from < seg_to)
        seg_from, seg_to = seg_from[keep], seg_to[keep]
        split = 3600 if self.profile.hourly else 86400
        first = (seg_from - window_start) // split
        count = (seg_to - window_start - 1) // split - first + 1
        row = np.repeat(keep, count)
        step = np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)
        bucket = window_start + (np.repeat(first, count) + step) * split
        seg_start = np.maximum(np.repeat(seg_from, count), bucket)
        seg_end = np.minimum(np.repeat(seg_to, count), bucket + split)
        status = np.where(
            running[row], STATUS_RUNNING, np.where(jobs["failed"][row], STATUS_FAILED, STATUS_DONE)
        )
        frame = pl.DataFrame(
            {
                **{k: v[row] for k, v in jobs.items() if k not in ("start", "end", "failed")},
                "seg_start": seg_start,
                "seg_end": seg_end,
                "status": status.astype(np.int8),
            }
        )
        return frame.sort(["seg_start", "job_key"])
