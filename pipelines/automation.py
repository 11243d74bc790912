"""Automation of the lakehouse: the daily refresh schedule and the freshness policy of the marts."""

from datetime import timedelta

import dagster as dg

from assets.capacity.definitions import CAPACITY_ASSETS
from assets.ingest.definitions import FILES_CHECK
from assets.ingest.engine import first_partition_day
from assets.ingest.spec import SourceSpec
from assets.marts.definitions import MART_ASSETS
from assets.marts.subsidy import subsidy_marts
from assets.partitions import DAILY_CRON, SHANGHAI, daily_partitions, day_range
from assets.resources import Lakehouse
from pipelines.plan import landed_days, landed_listings, plan_refresh
from warehouse.lake import Location
from warehouse.settings import Settings

REFRESH_JOB = "refresh_all"
# A mart older than a day and a bit has missed a daily refresh: Dagster's freshness daemon marks it failing.
MART_MAX_AGE = timedelta(hours=26)
MART_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=MART_MAX_AGE)


@dg.schedule(
    name="daily_refresh",
    job_name=REFRESH_JOB,
    cron_schedule=DAILY_CRON,
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning, the refresh `computeflow refresh` would run: whatever landed or changed since the "
    "last run and everything downstream (marts, warehouse snapshot, dashboards), with the daily refit of the "
    "capacity forecasts; skipped when everything is up to date.",
)
def daily_refresh(
    context: dg.ScheduleEvaluationContext, lakehouse: Lakehouse
) -> dg.RunRequest | dg.SkipReason:
    """The daily refresh tick: one run of what is out of date."""
    graph = context.repository_def.asset_graph
    keys = sorted(graph.materializable_asset_keys)
    listings = landed_listings(lakehouse)
    plan = plan_refresh(graph, lakehouse, context.instance, keys, listings, landed_days(lakehouse, listings))
    if not plan.keys:
        return dg.SkipReason("up to date: nothing landed or changed since the last refresh")
    day = context.scheduled_execution_time.astimezone(SHANGHAI).date().isoformat()
    return dg.RunRequest(
        run_key=f"daily:{day}",
        asset_selection=plan.keys,
        asset_check_keys=run_checks(graph, plan.keys),
        tags=day_range(*plan.span) if plan.span else {},
    )


def run_checks(graph, keys: list[dg.AssetKey], checks: bool = True) -> list[dg.AssetCheckKey]:
    """The checks a run of `keys` evaluates: theirs, without the contract checks when `checks` is false (an
    ingest asset's own `files_accepted` check is part of its step and always runs)."""
    selected = set(keys)
    return [
        k for k in graph.asset_check_keys if k.asset_key in selected and (checks or k.name == FILES_CHECK)
    ]


def deployment_days(settings: Settings, specs: list[SourceSpec]) -> dg.DailyPartitionsDefinition:
    """The day partitions of a deployment: from COMPUTEFLOW_PARTITION_START, or else from the first landed day,
    to today."""
    return daily_partitions(
        first_partition_day(specs, Location(settings.landing_url), settings.partition_start)
    )


def mart_keys() -> list[dg.AssetKey]:
    """Keys of every mart (the tables analysts and dashboards read)."""
    return [
        key
        for a in [*MART_ASSETS, subsidy_marts, *CAPACITY_ASSETS]
        for key in a.keys
        if key.path[0] == "marts"
    ]


def with_mart_freshness(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The assets, each mart with the marts' freshness policy."""
    marts = set(mart_keys())
    return list(
        dg.map_asset_specs(
            lambda spec: dg.apply_freshness_policy(spec, MART_FRESHNESS) if spec.key in marts else spec,
            assets,
        )
    )
