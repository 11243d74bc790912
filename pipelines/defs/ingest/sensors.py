"""A sensor on the landing zone: new or changed files request one run over the days they belong to, with everything
downstream of their sources."""

import hashlib
import json
from collections.abc import Callable, Iterable

import dagster as dg

from assets.ingest.engine import UNPARTITIONED, landed_listing
from assets.ingest.spec import SourceSpec
from assets.keys import ingest_key
from assets.landing_versions import changed_partitions, listing_versions
from assets.partitions import day_range
from assets.resources import Lakehouse
from pipelines.plan import stale_unpartitioned_upstream


def tick_request(
    changes: dict[str, tuple[SourceSpec, dict[str, str], list[str]]],
    graph: object | None,  # an AssetGraph
    stale_upstream: Callable[[list[dg.AssetKey]], Iterable[dg.AssetKey]],
) -> dg.RunRequest | None:
    """One run for everything that changed since the last tick: the ingest assets of the changed sources over
    the span of their changed days (the ledger skips files already loaded), and, when the asset graph is known,
    every asset downstream of them (day-partitioned ones over the same span) and what `stale_upstream` says
    they read that is out of date."""
    if not changes:
        return None
    keys = [ingest_key(spec) for spec, _state, _changed in changes.values()]
    days = sorted(k for _spec, _state, changed in changes.values() for k in changed if k != UNPARTITIONED)
    selection = set(keys)
    if graph is not None:
        for key in _downstream_with_step_neighbours(keys, graph):
            if days or graph.get(key).partitions_def is None:
                selection.add(key)
        selection.update(stale_upstream(sorted(selection)))
    digest = hashlib.sha1(
        json.dumps(
            {n: [state.get(k) for k in changed] for n, (_s, state, changed) in sorted(changes.items())}
        ).encode()
    ).hexdigest()[:12]
    span = f"{days[0]}:{days[-1]}" if days else UNPARTITIONED
    return dg.RunRequest(
        asset_selection=sorted(selection),
        tags=day_range(days[0], days[-1]) if days else {},
        run_key=f"landing:{span}:{digest}",
    )


def _downstream_with_step_neighbours(keys: list[dg.AssetKey], graph: object) -> set[dg.AssetKey]:
    """`keys`, everything downstream of them, and the assets made in one step with any of those (a multi-asset
    that cannot run in part, such as a catalog's history and terms tables) with everything downstream of them."""
    selection = dg.AssetSelection.assets(*keys)
    resolved: set[dg.AssetKey] = set()
    while True:
        selection = selection.downstream().required_multi_asset_neighbors()
        found = selection.resolve(graph)
        if found == resolved:
            return found
        resolved = found


def build_landing_sensor(specs: list[SourceSpec], job_name: str) -> dg.SensorDefinition:
    """The landing sensor over every spec (running by default); its cursor remembers each partition's landing
    version (a digest of its files' paths, sizes and modification times), and each tick with changes requests
    one run of `job_name`."""

    @dg.sensor(
        name="landing_files",
        minimum_interval_seconds=60,
        job_name=job_name,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests one run over the partitions whose landed files are new or changed, and "
        "everything downstream of their sources: core tables, marts, the warehouse snapshot, dashboards.",
    )
    def landing_files(context: dg.SensorEvaluationContext, lakehouse: Lakehouse) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        landing = lakehouse.landing
        listings = {spec.name: landed_listing(spec, landing) for spec in specs}  # one listing per source
        changes = {}
        for spec in specs:
            state = listing_versions(landing, listings[spec.name])
            changed = changed_partitions(state, cursor.get(spec.name, {}))
            if changed:
                changes[spec.name] = (spec, state, changed)
            cursor[spec.name] = state
        graph = context.repository_def.asset_graph if context.repository_def else None

        def stale(keys: list[dg.AssetKey]) -> list[dg.AssetKey]:  # every reference table on an empty lake
            return stale_unpartitioned_upstream(graph, lakehouse, context.instance, keys, listings)

        request = tick_request(changes, graph, stale)
        if request is None:
            return dg.SensorResult(skip_reason="no new or changed landed files", cursor=json.dumps(cursor))
        return dg.SensorResult(run_requests=[request], cursor=json.dumps(cursor))

    return landing_files
