"""Materialize the lakehouse through Dagster on the local instance, with progress shown as steps finish."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
from filelock import FileLock

from assets.marts.factory import REBUILD_TAG
from assets.partitions import day_range
from assets.resources import Lakehouse
from pipelines.defs.automation.definitions import REFRESH_JOB, run_checks
from pipelines.plan import Plan, landed_days, landed_listings, plan_refresh
from warehouse.lake import process_alive
from warehouse.settings import Settings

REFRESH_TAG = "computeflow/refresh"
PID_TAG = "computeflow/pid"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
REFRESH_LOCK = "refresh.lock"


@dataclass
class RefreshOutcome:
    """What a refresh did."""

    success: bool
    run_id: str | None  # None when nothing was out of date and no run was launched
    partition_range: tuple[str, str] | None
    steps: int
    failures: list[str]
    plan: Plan | None = None  # what an incremental refresh found out of date, and why


def recover_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark refresh runs whose process died (kill -9, power loss) as failed and free their pool slots."""
    recovered = []
    records = instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    )
    for record in records:
        run = record.dagster_run
        pid = run.tags.get(PID_TAG)
        if pid and pid.isdigit() and not process_alive(int(pid)):
            instance.report_run_failed(run, f"the refresh process {pid} died before the run finished")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            recovered.append(run.run_id)
    return recovered


def _selected_keys(defs: dg.Definitions, selection: str | None) -> list[dg.AssetKey]:
    """The assets a selection names, with the assets made in one step with them (a multi-asset that cannot
    run in part, such as a catalog's history and terms tables)."""
    graph = defs.resolve_asset_graph()
    if not selection:
        return sorted(graph.materializable_asset_keys)
    return sorted(dg.AssetSelection.from_string(selection).required_multi_asset_neighbors().resolve(graph))


def _with_changed_reference(
    graph, lakehouse: Lakehouse, instance: dg.DagsterInstance, keys: list[dg.AssetKey], listings: dict
) -> list[dg.AssetKey]:
    """`keys` and the reference tables they read whose landed rows changed since they were last loaded: a
    provider's new rate-card, exchange-rate or chip-alias rows take effect with a refresh of its source."""
    parents = dg.AssetSelection.assets(*keys).upstream(depth=1).resolve(graph) - set(keys)
    reference = [k for k in parents if k.path[0] == "ref"]
    if not reference:
        return keys
    changed = plan_refresh(graph, lakehouse, instance, reference, listings, []).keys
    return sorted({*keys, *(k for k in changed if k in reference)})


def refresh_job(defs: dg.Definitions, selection: dg.AssetSelection) -> dg.JobDefinition:
    """The `refresh_all` job of the code location, narrowed to `selection` (a run of it shows in the UI under
    that job's name with the assets it materialized)."""
    narrowed = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        resources=defs.resources,
        jobs=[dg.define_asset_job(REFRESH_JOB, selection=selection)],
    )
    return narrowed.resolve_job_def(REFRESH_JOB)


def refresh(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    selection: str | None = None,
    partition: str | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
    checks: bool = True,
    days: tuple[str, str] | None = None,
    full: bool = False,
) -> RefreshOutcome:
    """Run one Dagster run of the `refresh_all` job, with the contract checks of its assets unless `checks` is
    false.

    By default the run covers only what is out of date (see pipelines.plan): with nothing new, no run at all.
    A selection, a partition, a day range or `full` runs exactly what they name instead (every landed day by
    default). Refreshes of one deployment take turns (a lock file under COMPUTEFLOW_HOME): a second one waits,
    then plans from what the first left, instead of racing it step by step for the tables' write pools."""
    with deployment_turn():
        return _refresh(defs, instance, selection, partition, on_step, checks, days, full)


def deployment_turn() -> FileLock:
    """The lock under COMPUTEFLOW_HOME with which refreshes and maintenance runs of one deployment take turns."""
    home = Settings.from_env().home
    home.mkdir(parents=True, exist_ok=True)
    return FileLock(str(home / REFRESH_LOCK), thread_local=False)


def _refresh(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    selection: str | None,
    partition: str | None,
    on_step: Callable[[str, int, int], None] | None,
    checks: bool,
    days: tuple[str, str] | None,
    full: bool,
) -> RefreshOutcome:
    recover_dead_runs(instance)
    keys = _selected_keys(defs, selection)
    graph = defs.resolve_asset_graph()
    partitioned = any(graph.get(k).partitions_def is not None for k in keys)
    lakehouse: Lakehouse = defs.resources["lakehouse"]
    span = days or ((partition, partition) if partition else None)
    listings = landed_listings(lakehouse)
    landed = landed_days(lakehouse, listings) if span is None and partitioned else []
    if landed:
        span = (landed[0], landed[-1])
    plan = None
    if selection:
        keys = _with_changed_reference(graph, lakehouse, instance, keys, listings)
    if not (selection or partition or days or full):
        plan = plan_refresh(graph, lakehouse, instance, keys, listings, landed)
        if not plan.keys:
            return RefreshOutcome(True, None, None, 0, [], plan)
        keys, span = plan.keys, plan.span
    elif partitioned and span is None:
        # no dated file has landed: the day-partitioned assets have nothing to do
        keys = [k for k in keys if graph.get(k).partitions_def is None]
    tags = {REFRESH_TAG: uuid.uuid4().hex, PID_TAG: str(os.getpid())}
    if full:
        tags[REBUILD_TAG] = "true"
    if span:
        tags.update(day_range(*span))
    done = threading.Event()
    watcher = None
    if on_step:
        watcher = threading.Thread(
            target=_watch, args=(instance, tags[REFRESH_TAG], len(keys), on_step, done), daemon=True
        )
        watcher.start()
    try:
        selection = dg.AssetSelection.assets(*keys).without_checks()
        job = refresh_job(defs, selection | dg.AssetSelection.checks(*run_checks(graph, keys, checks)))
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False, run_config=QUIET)
    finally:
        done.set()
        if watcher:
            watcher.join()
    failures = [
        f"{event.step_key}: {event.step_failure_data.error.message.strip() if event.step_failure_data.error else ''}"
        for event in result.get_step_failure_events()
    ]
    failures += [
        f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}: {evaluation.description or 'failed'}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    ]
    return RefreshOutcome(result.success and not failures, result.run_id, span, len(keys), failures, plan)


def _watch(
    instance: dg.DagsterInstance,
    refresh_id: str,
    total: int,
    on_step: Callable[[str, int, int], None],
    done: threading.Event,
) -> None:
    """Report finished steps of the refresh run as they land in the instance's event log."""
    seen: set[str] = set()
    run_id = None
    while True:
        finished = done.wait(0.5)
        if run_id is None:
            runs = instance.get_run_records(dg.RunsFilter(tags={REFRESH_TAG: refresh_id}), limit=1)
            run_id = runs[0].dagster_run.run_id if runs else None
        if run_id is not None:
            for kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                for record in instance.get_records_for_run(run_id, of_type=kind).records:
                    step = record.event_log_entry.step_key or "?"
                    if step not in seen:
                        seen.add(step)
                        on_step(step, len(seen), total)
        if finished:
            return
