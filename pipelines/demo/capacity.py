"""The demo's capacity plan: cumulative cards per site and chip at each effective date, and the share of each
site that serves the demo's tenants."""

from __future__ import annotations

import datetime as dt

import polars as pl

# (site, effective_date, status, note, {chip_model: cumulative cards})
_CAPACITY: tuple[tuple[str, str, str, str, dict[str, int]], ...] = (
    ("lingang", "2025-01-15", "installed", "phase 1.1", {"A100": 8000, "H800": 12000, "Ascend910B": 10000}),
    (
        "lingang",
        "2025-06-30",
        "installed",
        "phase 1.2: 60,000 cards",
        {"A100": 12000, "H800": 20000, "H20": 6000, "L40S": 2000, "Ascend910B": 20000},
    ),
    (
        "lingang",
        "2026-06-30",
        "planned",
        "phase 2: 100,000 cards",
        {
            "A100": 12000,
            "H800": 20000,
            "H20": 8000,
            "L40S": 2000,
            "Ascend910B": 50000,
            "MLU370-X8": 4000,
            "BR104": 4000,
        },
    ),
    (
        "lingang",
        "2027-12-31",
        "planned",
        "phase 3",
        {
            "A100": 12000,
            "H800": 20000,
            "H20": 8000,
            "L40S": 2000,
            "Ascend910B": 100000,
            "MLU370-X8": 12000,
            "BR104": 10000,
            "MTT-S4000": 6000,
        },
    ),
    (
        "lingang",
        "2028-12-31",
        "planned",
        "final layout: 300,000 cards with Qingpu and Songjiang",
        {
            "A100": 12000,
            "H800": 20000,
            "H20": 8000,
            "L40S": 2000,
            "Ascend910B": 110000,
            "MLU370-X8": 14000,
            "BR104": 12000,
            "MTT-S4000": 8000,
        },
    ),
    (
        "qingpu",
        "2025-03-31",
        "installed",
        "heterogeneous cluster 1",
        {
            "A100": 2000,
            "H20": 2000,
            "L40S": 1000,
            "Ascend910B": 4000,
            "MLU370-X8": 2000,
            "BR104": 1000,
            "MTT-S4000": 1000,
        },
    ),
    (
        "qingpu",
        "2027-12-31",
        "planned",
        "west wing expansion",
        {
            "A100": 2000,
            "H20": 2000,
            "L40S": 1000,
            "Ascend910B": 30000,
            "MLU370-X8": 8000,
            "BR104": 5000,
            "MTT-S4000": 5000,
        },
    ),
    (
        "qingpu",
        "2028-12-31",
        "planned",
        "final layout",
        {
            "A100": 2000,
            "H20": 2000,
            "L40S": 1000,
            "Ascend910B": 40000,
            "MLU370-X8": 10000,
            "BR104": 7000,
            "MTT-S4000": 6000,
        },
    ),
    (
        "songjiang",
        "2025-05-31",
        "installed",
        "operator cluster",
        {"A100": 3000, "H800": 2000, "H20": 2000, "Ascend910B": 5000},
    ),
    (
        "songjiang",
        "2027-12-31",
        "planned",
        "west wing expansion",
        {"A100": 3000, "H800": 2000, "H20": 2000, "Ascend910B": 25000, "MLU370-X8": 4000},
    ),
    (
        "songjiang",
        "2028-12-31",
        "planned",
        "final layout",
        {"A100": 3000, "H800": 2000, "H20": 2000, "Ascend910B": 30000, "MLU370-X8": 5000, "MTT-S4000": 4000},
    ),
    ("xuhui", "2024-03-31", "installed", "community edge node", {"L40S": 256, "RTX4090": 512}),
)


# Share of each site's cards in the pool that serves the demo's tenants at scale 1 (the tenants' usage is
# what ComputeFlow receives; the rest of a site serves other customers). Chosen so that the pools run at
# about half to four fifths of their hours at the end of the nominal 120 days, domestic pools fuller.
_POOL_SHARE = {"lingang": 0.015, "qingpu": 0.02, "songjiang": 0.05, "xuhui": 0.1}


def capacity_plan_frame(scale: float = 1.0) -> pl.DataFrame:
    """capacity_plan.csv: cumulative cards per (site, chip_model) at each effective date.

    `pool_share` scales with the demo's volume (up to 1), so the pools' utilization does not depend on `scale`.
    """
    rows = [
        {
            "site_id": site,
            "chip_model": chip,
            "effective_date": dt.date.fromisoformat(date),
            "cards": cards,
            "status": status,
            "note": note,
            "pool_share": round(min(1.0, _POOL_SHARE[site] * scale), 8),
        }
        for site, date, status, note, chips in _CAPACITY
        for chip, cards in chips.items()
    ]
    return pl.DataFrame(rows)
