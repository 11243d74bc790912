"""Orchestration: reference tables, vouchers, catalogue, transfers and usage feeds, day by day."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .behaviour import NOMINAL_DAYS, Behaviour
from .capacity import capacity_plan_frame
from .catalog import SNAPSHOT_EVERY_DAYS, build_catalog
from .croissant import CROISSANT_DATASETS, croissant_document
from .ecosystem import providers_frame, sites_frame
from .jobs import JobGenerator, UsageContext
from .pricing import fx_rates_frame, rate_cards_frame
from .profiles import FEED_PROFILES, FeedProfile
from .samples import all_samples, write_real_samples
from .tenants import tenants_frame
from .transfers import plan_transfers
from .usage import FEEDS, FeedFile, render_feed
from .vouchers import voucher_ledger
from .writers import Landing

DEFAULT_START = dt.date(2025, 8, 1)
_REFERENCE_FILES = 6
_WORKERS = max(1, min(4, os.cpu_count() or 1))


def count_demo_files(days: int, providers: tuple[str, ...] | None = None) -> int:
    """Number of data files `generate_demo` writes for `days` days (the manifest not included)."""
    feeds = days * (1 + len(_profiles(providers)))
    snapshots = math.ceil(days / SNAPSHOT_EVERY_DAYS) * (1 + CROISSANT_DATASETS)
    return _REFERENCE_FILES + 1 + len(all_samples()) + snapshots + feeds


def _profiles(providers: tuple[str, ...] | None) -> tuple[FeedProfile, ...]:
    """The usage feeds to write: all of them, or those of the named providers."""
    if providers is None:
        return FEED_PROFILES
    unknown = set(providers) - {p.provider_id for p in FEED_PROFILES}
    if unknown:
        raise ValueError(f"no demo feed for provider(s) {', '.join(sorted(unknown))}")
    return tuple(p for p in FEED_PROFILES if p.provider_id in providers)


def _write_reference(landing: Landing, start: dt.date, days: int, scale: float) -> None:
    landing.write_csv("reference/tenants.csv", tenants_frame(), "tenants")
    landing.write_csv("reference/sites.csv", sites_frame(), "sites", float_precision=4)
    landing.write_csv("reference/providers.csv", providers_frame(), "providers")
    landing.write_csv("reference/rate_cards.csv", rate_cards_frame(), "rate_cards", float_precision=2)
    landing.write_csv("reference/fx_rates.csv", fx_rates_frame(start, days), "fx_rates", float_precision=4)
    landing.write_csv("reference/capacity_plan.csv", capacity_plan_frame(scale), "capacity_plan")


def _feed_day(
    landing: Landing,
    profile: FeedProfile,
    generator: JobGenerator,
    day: int,
    date: dt.date,
    seed: int,
    dataset_ids: list[str],
) -> FeedFile:
    """Render and store one provider-day file (runs in a worker thread)."""
    feed_file = render_feed(
        FEEDS[profile.provider_id], profile, generator.lines(day), seed, day, date, dataset_ids
    )
    landing.put(feed_file.path, feed_file.data)
    return feed_file


def generate_demo(
    landing_url: str,
    *,
    days: int = 120,
    scale: float = 1.0,
    seed: int = 42,
    start: dt.date = DEFAULT_START,
    on_file: Callable[[str, int], None] | None = None,
    providers: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Write a deterministic demo landing zone under `landing_url` and return its manifest.

    Same arguments give byte-identical files. `on_file(relative_path, rows)` is called after each file
    (the manifest last, with its number of listed files).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if not scale > 0:
        raise ValueError("scale must be positive")
    landing = Landing(landing_url, on_file)
    _write_reference(landing, start, days, scale)
    landing.write_csv("vouchers/voucher_ledger.csv", voucher_ledger(seed, start), "vouchers")
    write_real_samples(landing)

    # The catalogue (and so the datasets tenants pick) is built for at least the nominal period, so a
    # shorter run reproduces the first days of a longer one.
    snapshots = build_catalog(seed, start, max(days, NOMINAL_DAYS))
    dataset_ids = sorted({ds for snap in snapshots for ds in snap.ids})
    behaviour = Behaviour(seed, start)
    plan = plan_transfers(seed, scale, start, days, behaviour, snapshots, dataset_ids)
    ctx = UsageContext(seed, scale, start, days, behaviour, plan.placements)
    generators = [(profile, JobGenerator(ctx, profile)) for profile in _profiles(providers)]
    snapshot_on = {snap.day: snap for snap in snapshots if snap.day < days}

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for day in range(days):
            date = start + dt.timedelta(days=day)
            # One task per provider and day: a generator is never used by two tasks at once, and files
            # are recorded in a fixed order, so the output does not depend on thread scheduling.
            futures = [
                pool.submit(_feed_day, landing, profile, generator, day, date, seed, dataset_ids)
                for profile, generator in generators
            ]
            if day in snapshot_on:
                snap = snapshot_on[day]
                landing.write(
                    f"catalog/opendatalab/snapshot_{date:%Y-%m-%d}.json",
                    snap.to_json_bytes(),
                    "opendatalab",
                    len(snap.datasets),
                )
                for dataset in snap.datasets[:CROISSANT_DATASETS]:
                    landing.write(
                        f"catalog/croissant/snapshot_{date:%Y-%m-%d}/{dataset['id']}.json",
                        croissant_document(dataset),
                        "croissant",
                        1,
                    )
            landing.write_csv(
                f"transfers/elastic_net/transfers_{date:%Y-%m-%d}.csv", plan.for_day(day), "elastic_net"
            )
            for (profile, _), future in zip(generators, futures, strict=True):
                feed_file = future.result()
                landing.record(feed_file.path, profile.provider_id, feed_file.rows, feed_file.bad_rows)

    header = {"seed": seed, "days": days, "scale": scale, "start": start.isoformat()}
    return landing.write_manifest(header)
