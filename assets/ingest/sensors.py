"""A sensor on the landing zone: new or changed files request exactly the partitions they belong to."""

import hashlib
import json
from itertools import groupby

import dagster as dg

from assets.ingest.definitions import ingest_key
from assets.ingest.engine import UNPARTITIONED
from assets.ingest.spec import SourceSpec
from assets.partitions import day_range
from assets.resources import Lakehouse
from warehouse.lake import Location


def landing_state(spec: SourceSpec, landing: Location) -> dict[str, list[str]]:
    """Partition key -> sorted 'path|size|mtime' entries of the spec's landed files."""
    state: dict[str, list[str]] = {}
    for path in landing.glob(spec.landing.glob):
        relative = landing.relative(path)
        key = spec.landing.partition.day_of(relative) if spec.landing.partition else UNPARTITIONED
        if key is None:
            continue
        info = landing.fs.info(path)
        state.setdefault(key, []).append(
            f"{relative}|{info.get('size')}|{info.get('mtime', info.get('created'))}"
        )
    return {k: sorted(v) for k, v in state.items()}


def _day_ranges(days: list[str]) -> list[tuple[str, str]]:
    """Contiguous runs of ISO days, as (first, last)."""
    from datetime import date

    ordinals = sorted(date.fromisoformat(d).toordinal() for d in days)
    ranges = []
    for _, run in groupby(enumerate(ordinals), key=lambda pair: pair[1] - pair[0]):
        members = [o for _, o in run]
        ranges.append((date.fromordinal(members[0]).isoformat(), date.fromordinal(members[-1]).isoformat()))
    return ranges


def changed_partitions(
    spec: SourceSpec, state: dict[str, list[str]], seen: dict[str, list[str]]
) -> list[str]:
    """Partition keys whose landed files differ from what the sensor saw last time."""
    return sorted(k for k, files in state.items() if seen.get(k) != files)


def _run_key(spec: SourceSpec, state: dict[str, list[str]], keys: list[str]) -> str:
    digest = hashlib.sha1(json.dumps([state.get(k) for k in keys]).encode()).hexdigest()[:12]
    return f"{spec.name}:{keys[0]}:{keys[-1]}:{digest}"


def run_requests(spec: SourceSpec, state: dict[str, list[str]], changed: list[str]) -> list[dg.RunRequest]:
    """One run per contiguous range of changed days (or one unpartitioned run)."""
    key = ingest_key(spec)
    if not changed:
        return []
    if spec.landing.partition is None:
        return [dg.RunRequest(asset_selection=[key], run_key=_run_key(spec, state, changed))]
    requests = []
    for first, last in _day_ranges(changed):
        tags = day_range(first, last)
        days = [d for d in changed if first <= d <= last]
        requests.append(dg.RunRequest(asset_selection=[key], tags=tags, run_key=_run_key(spec, state, days)))
    return requests


def build_landing_sensor(specs: list[SourceSpec]) -> dg.SensorDefinition:
    """The landing sensor over every spec; its cursor remembers each partition's files (path, size, mtime)."""

    @dg.sensor(
        name="landing_files",
        minimum_interval_seconds=60,
        asset_selection=[ingest_key(s) for s in specs],
        description="Requests ingest runs for exactly the partitions whose landed files are new or changed.",
    )
    def landing_files(context: dg.SensorEvaluationContext, lakehouse: Lakehouse) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        landing = lakehouse.landing
        requests: list[dg.RunRequest] = []
        for spec in specs:
            state = landing_state(spec, landing)
            changed = changed_partitions(spec, state, cursor.get(spec.name, {}))
            requests += run_requests(spec, state, changed)
            cursor[spec.name] = state
        if not requests:
            return dg.SensorResult(skip_reason="no new or changed landed files", cursor=json.dumps(cursor))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))

    return landing_files
