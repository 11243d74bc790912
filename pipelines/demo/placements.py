"""Which datasets each tenant holds at each site from which day (fed by transfers)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ecosystem import SITE_IDS

_STRIDE = 1 << 20  # ready-day slots per (tenant, site)
_DAY_OFFSET = 1 << 10  # keeps ready days of carried-over jobs (negative days) positive


@dataclass(frozen=True)
class Placements:
    """Sorted index of (tenant, site, ready day) -> dataset, queried in bulk by the job generator."""

    keys: np.ndarray
    datasets: np.ndarray

    @classmethod
    def build(
        cls, tenant: np.ndarray, site: np.ndarray, ready_day: np.ndarray, dataset: np.ndarray
    ) -> Placements:
        """Index placements; `site` indexes SITE_IDS, `dataset` indexes the global dataset id list."""
        keys = _key(tenant, site) + ready_day.astype(np.int64) + _DAY_OFFSET
        order = np.lexsort((dataset, keys))
        return cls(keys[order], dataset[order].astype(np.int32))

    def pick(
        self, rng: np.random.Generator, tenant: np.ndarray, site: np.ndarray, day: int, share: float = 0.7
    ) -> np.ndarray:
        """For each job, a dataset ready at its site on `day` with probability `share`, else -1."""
        base = _key(tenant, site)
        lo = np.searchsorted(self.keys, base, side="left")
        hi = np.searchsorted(self.keys, base + day + _DAY_OFFSET, side="right")
        want = rng.random(tenant.size) < share
        offset = (rng.random(tenant.size) * (hi - lo)).astype(np.int64)
        found = want & (hi > lo)
        out = np.full(tenant.size, -1, dtype=np.int32)
        out[found] = self.datasets[(lo + offset)[found]]
        return out


def _key(tenant: np.ndarray, site: np.ndarray) -> np.ndarray:
    return (tenant.astype(np.int64) * len(SITE_IDS) + site.astype(np.int64)) * _STRIDE
