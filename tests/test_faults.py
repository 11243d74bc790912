"""Crashes and concurrent runs: a refresh killed at any point leaves everything readable, and the rerun gives
exactly the result of an uninterrupted run; two refreshes at once corrupt nothing."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assets.tables import ingest_table
from tests.conftest import FRESH_DAYS, FRESH_SCALE, Deployment, make_deployment, settings_for
from tests.test_end_to_end import snapshot
from warehouse.ducklake import connect_reader, qualified
from warehouse.introspect import lake_tables

pytestmark = pytest.mark.slow  # kills and reruns refreshes of small demo lakehouses

DAYS, SCALE = FRESH_DAYS, FRESH_SCALE  # the demo of the refreshed template


def spawn_refresh(deployment: Deployment) -> subprocess.Popen:
    env = {
        **os.environ,
        "COMPUTEFLOW_HOME": str(deployment.settings.home),
        "COMPUTEFLOW_SOURCES_DIR": str(deployment.settings.sources_dir),
        "DAGSTER_HOME": str(deployment.settings.dagster_home),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "refresh", "--skip-checks"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(
    process: subprocess.Popen, happened: Callable[[], bool], limit: float = 300, point: str = ""
) -> None:
    """SIGKILL the refresh (and its children) as soon as `happened()` holds; fail if it finished first."""
    deadline = time.monotonic() + limit
    while not happened():
        assert process.poll() is None, f"the refresh finished before the crash point {point} was reached"
        assert time.monotonic() < deadline, f"the crash point {point} was never reached"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL


def lake_is_readable(deployment: Deployment) -> None:
    """Every table of the last committed snapshot reads whole."""
    if not deployment.settings.lake.exists():
        return
    with connect_reader(deployment.settings.lake) as con:
        for name in lake_tables(con):
            con.execute(f"SELECT count(*) FROM {qualified(name)}").fetchall()


def commits_are_whole(deployment: Deployment) -> None:
    """Every committed file's ledger row matches the rows committed with it (one transaction per file)."""
    if not deployment.settings.lake.exists():
        return
    with connect_reader(deployment.settings.lake) as con:
        ledger = con.execute(
            "SELECT source_name, coalesce(sum(rows_loaded), 0) FROM audit.ingest_ledger "
            "WHERE kind NOT IN ('reference') GROUP BY 1"
        ).fetchall()
        tables = lake_tables(con)
        for source, loaded in ledger:
            table = ingest_table(source)
            rows = 0
            if table in tables:  # lines: a usage line split by day is one line, a record's lines are several
                columns = {r[0] for r in con.execute(f"DESCRIBE {qualified(table)}").fetchall()}
                line = ", source_line" if "source_line" in columns else ""
                rows = con.execute(
                    f"SELECT count(*) FROM (SELECT DISTINCT source_file, source_row{line} FROM {qualified(table)})"
                ).fetchone()[0]
            assert rows == loaded, (source, rows, loaded)


def comparable(deployment: Deployment) -> dict:
    return snapshot(deployment.settings.lake, exclude=("run_id",))


@pytest.fixture(scope="module")
def reference(refreshed_template: Path) -> dict:
    """The lake of an uninterrupted refresh of the same demo."""
    return snapshot(settings_for(refreshed_template).lake, exclude=("run_id",))


def first(pattern: str, root: Path) -> Callable[[], bool]:
    return lambda: any(root.glob(pattern))


# The crash points in the order a refresh reaches them: a glob under the home that matches once the stage has
# written its first file.
CRASH_POINTS = [
    ("while ingesting", "lake/ingest/*/*.parquet"),
    ("while building core tables", "lake/core/*/*.parquet"),
    ("while building marts", "lake/marts/*/*.parquet"),
]


def test_kill_9_then_rerun_equals_an_uninterrupted_run(tmp_path: Path, reference: dict) -> None:
    """One deployment killed at each crash point in turn (each rerun is killed at the next stage), its lake
    readable and its commits whole after every kill; the rerun after the last kill equals an uninterrupted run."""
    deployment = make_deployment(tmp_path / "home", days=DAYS, scale=SCALE)
    home = deployment.settings.home
    for point, pattern in CRASH_POINTS:
        # the stage has written nothing yet, so this run is killed as it writes its own first file there
        assert not first(pattern, home)(), f"{pattern} matched before the run to kill {point}"
        kill_when(spawn_refresh(deployment), first(pattern, home), point=point)
        lake_is_readable(deployment)
        commits_are_whole(deployment)
    outcome = deployment.refresh(checks=False)
    assert outcome.success, outcome.failures
    assert comparable(deployment) == reference
    deployment.instance.dispose()


def test_two_refreshes_at_once_corrupt_nothing(tmp_path: Path, reference: dict) -> None:
    deployment = make_deployment(tmp_path / "home", days=DAYS, scale=SCALE)
    first_run, second_run = spawn_refresh(deployment), spawn_refresh(deployment)
    codes = [p.wait(timeout=600) for p in (first_run, second_run)]
    assert codes == [0, 0], [p.stderr.read() for p in (first_run, second_run)]  # they take turns
    commits_are_whole(deployment)
    assert deployment.refresh(checks=False).success
    assert comparable(deployment) == reference
    deployment.instance.dispose()
