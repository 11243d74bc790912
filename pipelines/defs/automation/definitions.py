"""Automation of the lakehouse: the refresh job over every asset and its daily schedule (the nightly lake
maintenance is in maintenance.py beside this file)."""

import dagster as dg

from assets.keys import FILES_CHECK
from assets.partitions import DAILY_CRON, SHANGHAI, day_range
from assets.resources import Lakehouse
from pipelines.plan import landed_days, landed_listings, plan_refresh

REFRESH_JOB = "refresh_all"


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


@dg.definitions
def defs() -> dg.Definitions:
    """The refresh job (every asset: `computeflow refresh` and the sensor run what changed of it), its daily
    schedule, and the code location's executor: every run (the landing sensor's, the schedule's, one launched
    from the UI) executes its steps one after another in its own process, as `computeflow refresh` does. Dagster's
    default would start a process per step, each loading the code location again."""
    return dg.Definitions(
        executor=dg.in_process_executor,
        jobs=[
            dg.define_asset_job(
                REFRESH_JOB,
                selection=dg.AssetSelection.all(),
                description="Ingest new files, rebuild core tables and marts, publish the warehouse.",
            )
        ],
        schedules=[daily_refresh],
    )
