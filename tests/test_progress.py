"""Long commands show progress bars on a terminal and stay quiet when their output is redirected."""

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import Deployment

pytestmark = pytest.mark.slow  # runs the command line's demo, refresh and backfill

BAR = "━"


DEMO = [sys.executable, "-m", "pipelines.cli", "demo", "--days", "1", "--scale", "0.02"]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "COMPUTEFLOW_HOME": str(home), "TERM": "xterm", "COLUMNS": "120"}


def test_demo_is_quiet_when_output_is_not_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run(DEMO, env=_env(tmp_path), capture_output=True, text=True, timeout=300, check=True)
    assert BAR not in done.stderr and "\r" not in done.stderr and "\x1b[" not in done.stderr
    assert "demo landing data in" in done.stderr


def test_demo_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        DEMO,
        env=_env(tmp_path),
        stdout=follower,
        stderr=follower,
        stdin=subprocess.DEVNULL,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=300) == 0
    text = output.decode("utf-8", errors="replace")
    assert (BAR in text and "writing landing files" in text) or "wrote " in text


# What the backfill's assertions read: one daily usage source and the core table built from it (the reference
# tables they read come with them, as a selection brings them in).
BACKFILLED = "key:ingest/telecom_sh or key:core/compute_usage"


def test_backfill_runs_the_day_range_quietly(fresh: Deployment) -> None:
    with fresh.environment():
        result = CliRunner().invoke(
            main, ["backfill", "--from", "2025-08-02", "--to", "2025-08-03", "--select", BACKFILLED]
        )
    assert result.exit_code == 0, result.output
    assert "days 2025-08-02 .. 2025-08-03" in result.output and "backfilling" not in result.output
    days = {d for (d,) in fresh.query("SELECT DISTINCT partition_key FROM core.compute_usage")}
    assert {"2025-08-02", "2025-08-03"} <= days <= {"2025-08-02", "2025-08-03", "all"}


def test_backfill_refuses_a_backward_range(fresh: Deployment) -> None:
    with fresh.environment():
        result = CliRunner().invoke(main, ["backfill", "--from", "2025-08-03", "--to", "2025-08-01"])
    assert result.exit_code != 0 and "after the last day" in result.output
