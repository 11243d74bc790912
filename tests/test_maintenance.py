"""Lake maintenance through the real Dagster job: small files merged, contents, time travel and change feeds kept;
expired snapshots no longer readable."""

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.resources import Lakehouse
from pipelines.defs.automation.maintenance import MAINTENANCE_JOB, lake_maintenance, run_maintenance
from tests.conftest import Deployment, lake_connection, settings_for
from warehouse.introspect import change_feed
from warehouse.maintenance import maintain
from warehouse.transactions import commit

pytestmark = pytest.mark.slow  # compacts lakes after many commits

LIVE_FILES = (
    "SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file f "
    "JOIN __ducklake_metadata_lake.ducklake_table t USING (table_id) "
    "WHERE f.end_snapshot IS NULL AND t.end_snapshot IS NULL AND t.table_name = 'daily'"
)


def _commit_days(con: duckdb.DuckDBPyConnection, days: int) -> list[int]:
    """One small commit per day into lake.core.daily; the snapshot after each."""
    with commit(con, "create"):
        con.execute("CREATE TABLE lake.core.daily (day INTEGER, amount DECIMAL(18,4))")
    snapshots = []
    for day in range(days):
        with commit(con, f"day {day}"):
            con.execute("INSERT INTO lake.core.daily SELECT ?, ? FROM range(1000)", [day, day * 1.5])
        snapshots.append(int(con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]))
    return snapshots


def test_the_maintenance_job_merges_small_files_and_keeps_history(tmp_path: Path, monkeypatch) -> None:
    settings = settings_for(tmp_path / "home")
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(settings.home))
    with lake_connection(settings.lake) as con:
        snapshots = _commit_days(con, 12)
        before = con.execute(LIVE_FILES).fetchone()[0]
    defs = dg.Definitions(jobs=[lake_maintenance], resources={"lakehouse": Lakehouse.from_settings(settings)})
    with dg.DagsterInstance.ephemeral() as instance:
        done = run_maintenance(defs, instance, retain_days=30)
        (run,) = instance.get_runs()
    assert run.job_name == MAINTENANCE_JOB and run.status == dg.DagsterRunStatus.SUCCESS
    with lake_connection(settings.lake) as con:
        after = con.execute(LIVE_FILES).fetchone()[0]
        rows = con.execute("SELECT sum(amount), count(*) FROM lake.core.daily").fetchone()
        at_fifth = con.execute(
            f"SELECT count(*) FROM lake.core.daily AT (VERSION => {snapshots[4]})"
        ).fetchone()
        added = con.execute(
            f"SELECT count(*) FROM {change_feed('core.daily', snapshots[4], snapshots[-1])}"
        ).fetchone()
    assert before == 12 and after == 1 and done.files_merged >= 12 and done.snapshots_expired == 0
    assert (
        rows == (1000 * sum(d * 1.5 for d in range(12)), 12_000) and at_fifth == (5000,) and added == (7000,)
    )


def test_expired_snapshots_can_no_longer_be_read(lake) -> None:
    with lake_connection(lake) as con:
        snapshots = _commit_days(con, 3)
        done = maintain(con, retain_days=0)
        assert done.snapshots_expired > 0
        with pytest.raises(duckdb.Error):
            con.execute(f"SELECT count(*) FROM lake.core.daily AT (VERSION => {snapshots[0]})").fetchall()
        assert con.execute("SELECT count(*) FROM lake.core.daily").fetchone() == (3000,)


def test_maintenance_runs_every_night_before_the_refresh(demo: Deployment) -> None:
    schedule = demo.definitions().resolve_schedule_def("daily_lake_maintenance")
    assert schedule.job_name == MAINTENANCE_JOB and schedule.cron_schedule == "30 5 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
