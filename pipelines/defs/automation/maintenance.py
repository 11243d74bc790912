"""Lake maintenance: a Dagster job (scheduled daily, before the refresh) that compacts the DuckLake lake, expires
old snapshots and deletes the files nothing needs any more, so that reads and refreshes stay fast as commits
accumulate."""

from dataclasses import asdict

import dagster as dg

from assets.partitions import DAILY_HOUR
from assets.resources import Lakehouse
from pipelines.refresh import QUIET, deployment_turn
from warehouse.maintenance import Maintenance, maintain

MAINTENANCE_JOB = "lake_maintenance"


class MaintenanceConfig(dg.Config):
    """How long past snapshots stay readable (AT (VERSION => n), computeflow sql --snapshot n)."""

    retain_days: int = 30


@dg.op(
    description="Merge small data files, rewrite mostly-deleted ones, expire old snapshots, delete unused files."
)
def compact_lake(context: dg.OpExecutionContext, config: MaintenanceConfig, lakehouse: Lakehouse) -> dict:
    """One maintenance pass; its figures are the op's output (and its metadata in the UI)."""
    with lakehouse.connect() as con:
        figures = asdict(maintain(con, config.retain_days))
    context.add_output_metadata(figures)
    return figures


@dg.job(name=MAINTENANCE_JOB, description="Keep the lake fast: DuckLake compaction and clean-up.")
def lake_maintenance() -> None:
    """The maintenance job."""
    compact_lake()


lake_maintenance_schedule = dg.ScheduleDefinition(
    name="daily_lake_maintenance",
    job=lake_maintenance,
    cron_schedule=f"30 {DAILY_HOUR - 1} * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night, half an hour before the daily refresh: compaction and clean-up of the lake.",
)


def run_maintenance(defs: dg.Definitions, instance: dg.DagsterInstance, retain_days: int) -> Maintenance:
    """Run the maintenance job now, in this process, taking turns with refreshes of the deployment."""
    job = defs.resolve_job_def(MAINTENANCE_JOB)
    config = {**QUIET, "ops": {"compact_lake": {"config": {"retain_days": retain_days}}}}
    with deployment_turn():
        result = job.execute_in_process(instance=instance, run_config=config)
    return Maintenance(**result.output_for_node("compact_lake"))
