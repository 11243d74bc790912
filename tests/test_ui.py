"""`computeflow ui` (dg dev) serves the whole asset graph of the code location, with no deprecation."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts the Dagster webserver

QUERY = "{ assetNodes { assetKey { path } groupName } }"
AUTOMATION = (
    "{ repositoriesOrError { ... on RepositoryConnection { nodes { schedules { name } sensors { name } "
    "jobs { name } } } } }"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str = QUERY) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for_server(server: subprocess.Popen, port: int, limit: float = 180) -> None:
    """Poll GET /server_info until the webserver answers; fail if the process exits or time runs out."""
    deadline = time.monotonic() + limit
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail("computeflow ui did not come up")
        time.sleep(0.5)


def stop(server: subprocess.Popen) -> None:
    """SIGTERM (dg dev stops its webserver and daemon), then kill the process group if it lingers."""
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def test_ui_serves_every_layer_without_deprecation(tmp_path: Path) -> None:
    """`computeflow ui` starts `dg dev` on a fresh home, prints no deprecation and serves the whole graph."""
    port = free_port()
    env = {**os.environ, "COMPUTEFLOW_HOME": str(tmp_path / "home")}
    env.pop("DAGSTER_HOME", None)  # the command prepares the deployment's instance itself
    log = tmp_path / "ui.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "ui", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_server(server, port)
            nodes = graphql(port)["data"]["assetNodes"]
            repositories = graphql(port, AUTOMATION)["data"]["repositoriesOrError"]["nodes"]
        finally:
            stop(server)
    printed = log.read_text(encoding="utf-8", errors="replace")
    assert "Serving dagster-webserver" in printed
    assert not re.search(r"deprecat|supersed|\w+Warning:", printed, re.IGNORECASE), printed
    assert (tmp_path / "home" / "dagster" / "dagster.yaml").exists()
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {
        "ingest/telecom_sh",
        "ingest/unicom_sh",
        "core/compute_usage",
        "marts/chip_mix",
        "warehouse",
        "ref/chips",
        "meta/columns",
        "dashboards",
    } <= keys
    assert {n["groupName"] for n in nodes} >= {
        "reference",
        "ingest_usage",
        "core",
        "marts",
        "warehouse",
        "dashboards",
    }
    schedules = {s["name"] for r in repositories for s in r["schedules"]}
    sensors = {s["name"] for r in repositories for s in r["sensors"]}
    jobs = {j["name"] for r in repositories for j in r["jobs"]}
    assert "daily_refresh" in schedules and "landing_files" in sensors
    assert "refresh_all" in jobs
