"""What a refresh has to run, from what Dagster recorded: landing versions, code versions, materializations and
check results.

An asset (partition) is out of date when
- it reads the landing zone and the files of a partition differ from the landing version its last run recorded;
- its code version differs from the one its last materialization recorded (or it was never materialized);
- one of its blocking checks failed last time (it runs again, checks and all, so nothing downstream reads data a
  check refused);
- an upstream asset was materialized after it (a run that stopped half-way), or is itself out of date in this
  plan. A day-partitioned asset then runs the days its upstream changed; an unpartitioned upstream change runs
  every landed day. Assets tagged to refit daily (the capacity forecasts) follow their upstream only once the
  day's tick (06:00 Shanghai) has passed since they were last materialized.

The ingest ledger stays the guard against loading a file twice; the plan only decides what to run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from assets.ingest.engine import landed_listing
from assets.keys import ingest_key
from assets.landing_versions import changed_partitions, file_version, listing_versions, recorded_versions
from assets.partitions import REFIT_TAG, days_between, last_daily_tick
from assets.reference.tables import REF_TABLES
from assets.resources import Lakehouse
from warehouse.settings import Settings

FAILED = "FAILED"


@dataclass
class Plan:
    """The assets a refresh runs, the day partitions its day-partitioned ones run, and why each runs."""

    keys: list[dg.AssetKey] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    reasons: dict[dg.AssetKey, str] = field(default_factory=dict)

    @property
    def span(self) -> tuple[str, str] | None:
        """First and last day partition the run covers."""
        return (self.days[0], self.days[-1]) if self.days else None


class _Recorded:
    """What the instance recorded of the candidate assets, fetched once."""

    def __init__(self, instance: dg.DagsterInstance, graph, keys: list[dg.AssetKey]) -> None:
        self.instance = instance
        self.code = instance.get_latest_materialization_code_versions(keys)
        materialized = [
            (record.asset_entry.asset_key, record.asset_entry.last_materialization_record)
            for record in instance.get_asset_records(keys)
            if record.asset_entry.last_materialization_record
        ]
        self.last = {key: record.storage_id for key, record in materialized}
        self.when = {key: record.timestamp for key, record in materialized}
        blocking = [
            k for k in graph.asset_check_keys if k.asset_key in set(keys) and graph.get_check_spec(k).blocking
        ]
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(blocking)
        self.failed_checks = {k.asset_key for k, record in latest.items() if record.status.value == FAILED}

    def days_since(self, parent: dg.AssetKey, after: int | None) -> set[str]:
        """Partitions of `parent` materialized after storage id `after`."""
        found: set[str] = set()
        cursor = None
        while True:
            page = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=parent, after_storage_id=after), limit=1000, cursor=cursor
            )
            found |= {r.partition_key for r in page.records if r.partition_key}
            if not page.has_more:
                return found
            cursor = page.cursor


def landed_listings(lakehouse: Lakehouse) -> dict[str, dict[str, dict[str, dict]]]:
    """Source name -> its landed files by partition with their listing entries: one listing per source, which
    a refresh plans from."""
    return {spec.name: landed_listing(spec, lakehouse.landing) for spec in lakehouse.specs()}


def landing_changes(
    lakehouse: Lakehouse, instance: dg.DagsterInstance, keys: set[dg.AssetKey], listings: dict
) -> dict:
    """Asset key -> partitions whose landed files changed since its last run (ingest and reference assets)."""
    changes: dict[dg.AssetKey, list[str]] = {}
    for spec in lakehouse.specs():
        key = ingest_key(spec)
        if key in keys:
            current = listing_versions(lakehouse.landing, listings[spec.name])
            changes[key] = changed_partitions(current, recorded_versions(instance, key))
    for table in REF_TABLES.values():
        key = dg.AssetKey(["ref", table.name])
        if table.landing_file and key in keys:
            current = {"all": file_version(lakehouse.landing, table.landing_file)}
            changes[key] = changed_partitions(current, recorded_versions(instance, key))
    return changes


def landed_days(lakehouse: Lakehouse, listings: dict) -> list[str]:
    """Every day partition from the first to the last day that any daily source has landed files for (in
    `landed_listings`).

    A file dated before a configured first partition day (COMPUTEFLOW_PARTITION_START) could never be loaded,
    so it stops the refresh with a clear error instead of being passed over."""
    first = Settings.from_env().partition_start
    days: set[str] = set()
    for spec in lakehouse.specs():
        if spec.landing.partition is None:
            continue
        for day, files in listings[spec.name].items():
            if first and day < first:
                file = lakehouse.landing.relative(next(iter(files)))
                raise ValueError(
                    f"{file} (source {spec.name}) is dated {day}, before the first "
                    f"partition day {first}: set COMPUTEFLOW_PARTITION_START to {day} or earlier"
                )
            days.add(day)
    return days_between(min(days), max(days)) if days else []


def plan_refresh(
    graph,
    lakehouse: Lakehouse,
    instance: dg.DagsterInstance,
    keys: list[dg.AssetKey],
    listings: dict,
    days: list[str],
) -> Plan:
    """The out-of-date assets among `keys` of the asset graph (see the module's docstring), from the landing
    zone as `landed_listings` saw it; `days` are the day partitions from the first to the last landed day,
    those a day-partitioned asset runs when all of it is out of date."""
    candidates = set(keys)
    recorded = _Recorded(instance, graph, keys)
    landing = landing_changes(lakehouse, instance, candidates, listings)
    together: dict[dg.AssetKey, str] = {}  # assets that run because they are made by one step with another
    while True:
        plan = _pass(graph, candidates, recorded, landing, days, together)
        neighbours = dg.AssetSelection.assets(*plan.keys).required_multi_asset_neighbors().resolve(graph)
        added = {
            k: "made in one step with assets that run"
            for k in neighbours - set(plan.keys)
            if k not in together
        }
        if not added:
            return plan
        together.update(added)  # and what depends on them runs too: plan again


def stale_unpartitioned_upstream(
    graph, lakehouse: Lakehouse, instance: dg.DagsterInstance, keys: list[dg.AssetKey], listings: dict
) -> list[dg.AssetKey]:
    """The assets without day partitions upstream of `keys` (reference tables, the sources' register) that are
    out of date (see plan_refresh): what a run of `keys` must make first, such as everything on an empty lake."""
    upstream = dg.AssetSelection.assets(*keys).upstream().resolve(graph) - set(keys)
    unpartitioned = sorted(k for k in upstream if graph.get(k).partitions_def is None)
    return plan_refresh(graph, lakehouse, instance, unpartitioned, listings, []).keys if unpartitioned else []


def _pass(
    graph, candidates: set, recorded: _Recorded, landing: dict, landed: list[str], together: dict
) -> Plan:
    """One pass over the asset graph in dependency order: what runs, which days, and why."""
    plan = Plan()
    run_days: dict[dg.AssetKey, set[str]] = {}
    for key in graph.toposorted_asset_keys:
        if key not in candidates and key not in together:
            continue
        partitioned = graph.get(key).partitions_def is not None
        reason, days = _why(key, graph, recorded, landing, run_days, partitioned)
        if reason is None and key in together:
            reason, days = together[key], None
        if reason is None:
            continue
        days = set(landed) if days is None else days & set(landed)
        if partitioned and not days:
            continue  # no landed day to run: nothing to do
        run_days[key] = days if partitioned else set()
        plan.reasons[key] = reason
    plan.keys = sorted(run_days)
    plan.days = sorted({d for days in run_days.values() for d in days})
    return plan


def _why(
    key, graph, recorded: _Recorded, landing, run_days, partitioned: bool
) -> tuple[str | None, set | None]:
    """Why an asset runs and which days (None: every landed day), or (None, None) when it is up to date."""
    code = graph.get(key).code_version
    if key not in recorded.last:
        return "never materialized", None
    if code and recorded.code.get(key) != code:
        return "code version changed", None
    if key in recorded.failed_checks:
        return "a blocking check failed last time", None
    if landing.get(key):
        return "landed files changed", set(landing[key]) if partitioned else set()
    if graph.get(key).tags.get(REFIT_TAG) == "daily" and recorded.when[key] >= last_daily_tick().timestamp():
        return None, None  # refitted once a day: already done since today's tick
    days: set[str] = set()
    reasons = []
    for parent in graph.get(key).parent_keys:
        parent_partitioned = graph.get(parent).partitions_def is not None
        if parent in run_days:
            reasons.append(f"{parent.to_user_string()} runs")
            if not parent_partitioned:
                return reasons[0], None
            days |= run_days[parent]
        elif recorded.last.get(parent, 0) > recorded.last[key]:
            reasons.append(f"{parent.to_user_string()} was materialized after it")
            if not parent_partitioned:
                return reasons[-1], None
            days |= recorded.days_since(parent, recorded.last[key])
    if not reasons:
        return None, None
    return "; ".join(reasons), days if partitioned else set()
