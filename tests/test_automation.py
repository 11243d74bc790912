"""Schedules, sensors and freshness checks, evaluated with Dagster's testing APIs on a real demo instance."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from assets.partitions import RANGE_END_TAG, RANGE_START_TAG, day_range
from assets.resources import Lakehouse
from pipelines.automation import MART_MAX_AGE, daily_refresh
from tests.conftest import Deployment


def test_the_daily_schedule_refreshes_yesterday_and_today_in_shanghai(demo: Deployment) -> None:
    defs = demo.definitions()
    schedule = defs.resolve_schedule_def("daily_refresh")
    assert schedule.job_name == "refresh_all" and schedule.execution_timezone == "Asia/Shanghai"
    # 06:00 in Shanghai on 3 August is 22:00 UTC on 2 August.
    tick = datetime(2025, 8, 2, 22, 0, tzinfo=UTC)
    with dg.build_schedule_context(instance=demo.instance, scheduled_execution_time=tick) as context:
        request = daily_refresh(context)
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2025-08-02"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2025-08-03"
    assert request.run_key == "daily:2025-08-03"


def test_the_range_tags_are_the_ones_dagster_reads() -> None:
    assert (RANGE_START_TAG, RANGE_END_TAG) == (
        ASSET_PARTITION_RANGE_START_TAG,
        ASSET_PARTITION_RANGE_END_TAG,
    )


def test_a_day_range_must_not_run_backwards() -> None:
    with pytest.raises(ValueError, match="after the last day"):
        day_range("2025-08-05", "2025-08-01")


def test_the_landing_sensor_sees_the_demo_files_then_nothing_new(demo: Deployment) -> None:
    defs = demo.definitions()
    sensor = defs.resolve_sensor_def("landing_files")
    lakehouse = Lakehouse.from_settings(demo.settings)
    with dg.build_sensor_context(instance=demo.instance, resources={"lakehouse": lakehouse}) as context:
        first = sensor(context)
        landed = {r.tags.get(ASSET_PARTITION_RANGE_START_TAG) for r in first.run_requests}
        assert "2025-08-01" in landed
        cursor = first.cursor
    with dg.build_sensor_context(
        instance=demo.instance, resources={"lakehouse": lakehouse}, cursor=cursor
    ) as context:
        again = sensor(context)
    assert not again.run_requests and "no new or changed" in again.skip_reason.skip_message


def test_the_freshness_sensor_and_every_mart_check_are_defined(demo: Deployment) -> None:
    defs = demo.definitions()
    assert defs.resolve_sensor_def("mart_freshness")
    graph = defs.resolve_asset_graph()
    marts = {k for k in graph.materializable_asset_keys if k.path[0] == "marts"}
    fresh = {k.asset_key for k in graph.asset_check_keys if "freshness" in k.name}
    assert marts and marts <= fresh


def _freshness(demo: Deployment) -> dict[str, bool]:
    """Run every freshness check on the demo instance; asset -> passed."""
    defs = demo.definitions()
    graph = defs.resolve_asset_graph()
    keys = [k for k in graph.asset_check_keys if "freshness" in k.name]
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        instance=demo.instance,
        resources=defs.resources,
        selection=dg.AssetSelection.checks(*keys),
        raise_on_error=False,
    )
    evaluations = result.get_asset_check_evaluations()
    return {e.asset_key.to_user_string(): e.passed for e in evaluations}


def test_marts_just_refreshed_are_fresh(demo: Deployment) -> None:
    verdicts = _freshness(demo)
    assert verdicts and all(verdicts.values()), verdicts


def test_marts_older_than_a_day_are_overdue(demo: Deployment) -> None:
    from dagster._core.test_utils import freeze_time

    with freeze_time(datetime.now(UTC) + MART_MAX_AGE + timedelta(hours=1)):
        verdicts = _freshness(demo)
    assert verdicts and not any(verdicts.values()), verdicts


def test_day_partitions_start_at_the_first_landed_day(demo: Deployment) -> None:
    graph = demo.definitions().resolve_asset_graph()
    firsts = {
        graph.get(key).partitions_def.get_first_partition_key()
        for key in graph.materializable_asset_keys
        if graph.get(key).partitions_def is not None
    }
    assert firsts == {demo.manifest["start"]}  # the demo's first day, not a fixed start years before
