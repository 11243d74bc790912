"""The Dagster UI serves the whole asset graph of the code location."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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


def test_webserver_shows_every_layer(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "COMPUTEFLOW_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-m",
            "pipelines.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                nodes = graphql(port)["data"]["assetNodes"]
                repositories = graphql(port, AUTOMATION)["data"]["repositoriesOrError"]["nodes"]
                break
            except (OSError, KeyError, TypeError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the Dagster webserver did not come up")
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
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
