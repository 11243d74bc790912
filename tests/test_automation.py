"""Schedules, sensors and freshness checks, evaluated with Dagster's testing APIs on a real demo instance."""

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.partitions import RANGE_END_TAG, RANGE_START_TAG, day_range
from assets.reference.tables import REF_TABLES
from assets.resources import Lakehouse
from pipelines.definitions import build_definitions
from pipelines.defs.automation.definitions import REFRESH_JOB
from pipelines.domains import MART_MAX_AGE
from pipelines.instance import instance_directory, local_instance
from tests.conftest import Deployment, make_deployment, settings_for


def _tick(demo: Deployment, defs: dg.Definitions) -> dg.RunRequest | dg.SkipReason:
    """Evaluate the daily schedule at 06:00 Shanghai on 3 August (22:00 UTC on 2 August)."""
    tick = datetime(2025, 8, 2, 22, 0, tzinfo=UTC)
    with dg.build_schedule_context(
        instance=demo.instance,
        scheduled_execution_time=tick,
        resources={"lakehouse": defs.resources["lakehouse"]},
        repository_def=defs.get_repository_def(),
    ) as context:
        return defs.resolve_schedule_def("daily_refresh")(context)


def test_the_daily_schedule_runs_only_what_is_out_of_date(demo: Deployment, tmp_path: Path) -> None:
    defs = demo.definitions()
    schedule = defs.resolve_schedule_def("daily_refresh")
    assert schedule.job_name == "refresh_all" and schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    skipped = _tick(demo, defs)  # the demo is refreshed and nothing landed since
    assert isinstance(skipped, dg.SkipReason) and "up to date" in skipped.skip_message

    # a copy of the demo's instance and lake with one new file: the tick asks for that day and what follows
    home = tmp_path / "home"
    shutil.copytree(demo.settings.home, home, ignore=shutil.ignore_patterns("*.lock"))
    copy = Deployment(
        settings_for(home),
        dg.DagsterInstance.from_config(instance_directory(settings_for(home))),
        demo.manifest,
    )
    landing = home / "landing" / "providers" / "telecom_sh"
    newest = max(landing.glob("bill_*.csv"))
    shutil.copy(newest, landing / "bill_20251231.csv")
    with copy.environment():
        request = _tick(copy, copy.definitions())
    copy.instance.dispose()
    assert isinstance(request, dg.RunRequest) and request.run_key == "daily:2025-08-03"
    assert request.tags[RANGE_START_TAG] == request.tags[RANGE_END_TAG] == "2025-12-31"
    selected = set(request.asset_selection)
    assert {dg.AssetKey(["ingest", "telecom_sh"]), dg.AssetKey(["core", "compute_usage"])} <= selected
    # a job the daemon can build
    assert (
        defs.resolve_job_def(REFRESH_JOB).get_subset(asset_selection=selected).asset_layer.selected_asset_keys
    )
    assert not {k for k in selected if k.path[0] == "ingest"} - {dg.AssetKey(["ingest", "telecom_sh"])}
    assert (
        dg.AssetCheckKey(dg.AssetKey(["ingest", "telecom_sh"]), "files_accepted") in request.asset_check_keys
    )
    assert not [k for k in request.asset_check_keys if "freshness" in k.name]


def test_a_day_range_must_not_run_backwards() -> None:
    with pytest.raises(ValueError, match="after the last day"):
        day_range("2025-08-05", "2025-08-01")


def test_the_landing_sensor_sees_the_demo_files_then_nothing_new(demo: Deployment) -> None:
    defs = demo.definitions()
    sensor = defs.resolve_sensor_def("landing_files")
    lakehouse = Lakehouse.from_settings(demo.settings)
    with dg.build_sensor_context(
        instance=demo.instance, resources={"lakehouse": lakehouse}, repository_def=defs.get_repository_def()
    ) as context:
        first = sensor(context)
        [request] = first.run_requests
        assert request.tags[RANGE_START_TAG] == "2025-08-01"
        cursor = first.cursor
    # the run the daemon launches for it: everything downstream of the landed sources, with what is made in one
    # step with any of it (a job of part of such a step cannot be built)
    selected = set(request.asset_selection)
    assert {dg.AssetKey(["core", "compute_usage"]), dg.AssetKey(["core", "dataset_catalog"])} <= selected
    assert dg.AssetKey(["core", "dataset_terms"]) in selected
    assert (
        defs.resolve_job_def(REFRESH_JOB).get_subset(asset_selection=selected).asset_layer.selected_asset_keys
    )
    with dg.build_sensor_context(
        instance=demo.instance, resources={"lakehouse": lakehouse}, cursor=cursor
    ) as context:
        again = sensor(context)
    assert not again.run_requests and "no new or changed" in again.skip_reason.skip_message


def test_every_mart_and_only_the_marts_carry_the_freshness_policy(demo: Deployment) -> None:
    graph = demo.definitions().resolve_asset_graph()
    policies = {key: graph.get(key).freshness_policy for key in graph.materializable_asset_keys}
    marts = {key for key in policies if key.path[0] == "marts"}
    assert marts and {key for key, policy in policies.items() if policy is not None} == marts
    assert {policies[key] for key in marts} == {dg.FreshnessPolicy.time_window(fail_window=MART_MAX_AGE)}


def test_day_partitions_start_at_the_first_landed_day(demo: Deployment) -> None:
    graph = demo.definitions().resolve_asset_graph()
    firsts = {
        graph.get(key).partitions_def.get_first_partition_key()
        for key in graph.materializable_asset_keys
        if graph.get(key).partitions_def is not None
    }
    assert firsts == {demo.manifest["start"]}  # the demo's first day, not a fixed start years before


def test_the_instance_runs_one_queued_refresh_and_one_writer_per_table_at_a_time(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.from_config(instance_directory(settings_for(tmp_path / "home")))
    concurrency = instance.get_concurrency_config()
    assert concurrency.run_queue_config.max_concurrent_runs == 1  # the schedule's and the sensor's runs queue
    assert concurrency.pool_config.default_pool_limit == 1
    instance.dispose()


def test_each_deployment_opens_its_own_instance_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    first, second = settings_for(tmp_path / "a"), settings_for(tmp_path / "b")
    for settings in (first, second):
        instance = local_instance(settings)
        assert Path(instance.root_directory) == settings.dagster_home
        instance.dispose()
    # Opening an instance leaves the environment alone: a later command's Settings.from_env finds its own home.
    assert "DAGSTER_HOME" not in os.environ


def refresh_all_job() -> dg.JobDefinition:
    """The code location's refresh job, as the run worker of a launched run loads it."""
    return build_definitions().resolve_job_def(REFRESH_JOB)


def test_a_launched_run_executes_its_steps_in_its_own_process(tmp_path: Path) -> None:
    # What the daemon's run worker does for the landing sensor's, the schedule's or the UI's run: load the job
    # from the code location and execute it with the job's executor.
    deployment = make_deployment(tmp_path / "home", days=1, scale=0.1)
    with deployment.environment():
        graph = build_definitions().resolve_asset_graph()
        reference = [k for k in graph.materializable_asset_keys if k.path[0] == "ref"]
        job = dg.build_reconstructable_job(__name__, refresh_all_job.__name__)
        with dg.execute_job(
            job, deployment.instance, asset_selection=reference, raise_on_error=False
        ) as result:
            assert result.success
            written = {e.asset_key for e in result.get_asset_materialization_events()}
            engine = [
                e.message for e in result.all_events if e.event_type == dg.DagsterEventType.ENGINE_EVENT
            ]
    deployment.instance.dispose()
    assert written == set(reference)
    assert f"Executing steps in process (pid: {os.getpid()})" in engine  # not a process started per step


def test_the_landing_sensors_first_run_on_an_empty_lake_loads_what_it_reads_first(tmp_path: Path) -> None:
    # A deployment started with the UI before any refresh: the sensor's first tick sees every landed file.
    deployment = make_deployment(tmp_path / "home", days=2, scale=0.1)
    with deployment.environment():
        defs = build_definitions()
        with dg.build_sensor_context(
            instance=deployment.instance,
            resources={"lakehouse": defs.resources["lakehouse"]},
            repository_def=defs.get_repository_def(),
        ) as context:
            [request] = defs.resolve_sensor_def("landing_files")(context).run_requests
        selected = set(request.asset_selection)
        reference = {k for k in selected if k.path[0] == "ref"}
        assert len(reference) == len(REF_TABLES) and dg.AssetKey(["meta", "sources"]) in selected
        # the run the daemon launches for it succeeds, its contract checks included
        job = defs.resolve_job_def(REFRESH_JOB).get_subset(asset_selection=selected)
        result = job.execute_in_process(instance=deployment.instance, tags=request.tags, raise_on_error=False)
        failed = [e.step_key for e in result.get_step_failure_events()]
        failed += [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    deployment.instance.dispose()
    assert result.success and not failed
