"""Which tenant buys from which provider, how much, and the migration of ten firms to operator compute."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .profiles import FEED_IDS
from .seeds import rng_for
from .tenants import N_TENANTS, tenants_frame

MIGRANTS = np.arange(10)  # T001..T010
MIGRATION_DAY = 45  # first demo day on which the migrants run on telecom_sh instead of volcano_engine
MIGRANT_FROM, MIGRANT_TO = "volcano_engine", "telecom_sh"
MIGRANT_VOLCANO_DISCOUNT = 0.05
# The story tenant (T014) rents on Volcano Engine for its first three months, then moves to operator compute.
STORY_TENANT = 13
STORY_MIGRATION_DAY = 92  # 2025-11-01 for the default start: after August, September and October
STORY_ACTIVITY = 6.0  # a large training customer, so that its months are not a handful of jobs
NOMINAL_DAYS = 120  # the story's time axis: growth and chip shares are expressed over 120 days
_PRIMARY_P = (0.28, 0.18, 0.22, 0.16, 0.16)  # in FEED_IDS order
_DISCOUNTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


@dataclass(frozen=True)
class Behaviour:
    """Seeded tenant behaviour shared by every generator."""

    seed: int
    start: dt.date

    @cached_property
    def _base(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        rng = rng_for(self.seed, "behaviour")
        n_p = len(FEED_IDS)
        activity = rng.lognormal(0.0, 0.8, N_TENANTS)
        activity[MIGRANTS] *= 2.5
        activity[STORY_TENANT] = STORY_ACTIVITY
        primary = rng.choice(n_p, N_TENANTS, p=_PRIMARY_P)
        secondary = (primary + rng.integers(1, n_p, N_TENANTS)) % n_p
        has_second = rng.random(N_TENANTS) < 0.45
        membership = np.zeros((N_TENANTS, n_p))
        membership[np.arange(N_TENANTS), primary] = np.where(has_second, 0.7, 1.0)
        membership[np.arange(N_TENANTS), secondary] += np.where(has_second, 0.3, 0.0)
        membership[MIGRANTS] = 0.0
        membership[STORY_TENANT] = 0.0
        discount = rng.choice(_DISCOUNTS, N_TENANTS)
        discount[MIGRANTS] = MIGRANT_VOLCANO_DISCOUNT
        discount[STORY_TENANT] = MIGRANT_VOLCANO_DISCOUNT
        joined = tenants_frame()["joined_date"].to_list()
        joined_day = np.array([(d - self.start).days for d in joined])
        return activity, membership, discount, joined_day

    @property
    def activity(self) -> np.ndarray:
        """Relative size of each tenant's demand."""
        return self._base[0]

    def ever_uses(self) -> np.ndarray:
        """Tenant x provider mask of the providers a tenant buys from at the start of the period."""
        uses = self._base[1] > 0
        uses[MIGRANTS, FEED_IDS.index(MIGRANT_FROM)] = True
        uses[STORY_TENANT, FEED_IDS.index(MIGRANT_FROM)] = True
        return uses

    @property
    def volcano_discount(self) -> np.ndarray:
        """Per-tenant discount rate on Volcano Engine list prices."""
        return self._base[2]

    def membership(self, day: int) -> np.ndarray:
        """Tenant x provider share of demand on `day` (rows sum to 1 for active tenants)."""
        _, membership, _, joined_day = self._base
        m = membership.copy()
        m[MIGRANTS, FEED_IDS.index(MIGRANT_FROM if day < MIGRATION_DAY else MIGRANT_TO)] = 1.0
        m[STORY_TENANT, FEED_IDS.index(MIGRANT_FROM if day < STORY_MIGRATION_DAY else MIGRANT_TO)] = 1.0
        m[joined_day > day] = 0.0
        return m

    def weights(self, provider_id: str, day: int) -> np.ndarray:
        """Relative demand of each tenant on `provider_id` on `day`."""
        return self._base[0] * self.membership(day)[:, FEED_IDS.index(provider_id)]

    @cached_property
    def mean_weight(self) -> dict[str, float]:
        """Average total demand per provider over the nominal 120 days (normalises volumes)."""
        totals = np.mean([self._base[0] @ self.membership(d) for d in range(NOMINAL_DAYS)], axis=0)
        return dict(zip(FEED_IDS, totals.tolist(), strict=True))

    def is_migrant(self) -> np.ndarray:
        """Boolean mask of the migrating tenants (the story tenant included)."""
        mask = np.zeros(N_TENANTS, dtype=bool)
        mask[MIGRANTS] = True
        mask[STORY_TENANT] = True
        return mask


def season(start: dt.date, day: int) -> float:
    """Demand multiplier: steady growth over the period and quieter weekends."""
    weekday = (start + dt.timedelta(days=day)).weekday()
    return (0.8 + 0.4 * day / NOMINAL_DAYS) * (0.8 if weekday >= 5 else 1.08)
