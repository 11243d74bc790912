"""`dg check defs` and `dg list defs` work on the project from its root, on a fresh home with no demo built."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.definitions import build_definitions
from warehouse.settings import REPO_ROOT

pytestmark = pytest.mark.slow  # runs the dg command line

DG = str(Path(sys.executable).with_name("dg"))


@pytest.fixture
def fresh_home_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh clone: COMPUTEFLOW_HOME names a home that does not exist yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPUTEFLOW_", "DAGSTER_HOME"))}
    return {**env, "COMPUTEFLOW_HOME": str(tmp_path / "home")}


def run_dg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run dg from the repository root; fail with its output if it does not succeed."""
    done = subprocess.run(
        [DG, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_dg_check_defs_loads_the_code_location(fresh_home_env: dict[str, str], tmp_path: Path) -> None:
    done = run_dg(fresh_home_env, "check", "defs")
    assert "All definitions loaded successfully." in done.stdout
    assert not (tmp_path / "home").exists()  # loading the definitions writes nothing


def test_dg_list_defs_lists_the_real_assets_and_checks(
    fresh_home_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = json.loads(run_dg(fresh_home_env, "list", "defs", "--json").stdout)
    assets = {a["asset_key"] for a in listed["assets"]}
    checks = {c["key"] for c in listed["asset_checks"]}
    assert {
        "core/compute_usage",
        "ingest/telecom_sh",
        "marts/chip_mix",
        "meta/columns",
        "warehouse",
    } <= assets
    assert {"core/compute_usage:contract", "ingest/telecom_sh:files_accepted"} <= checks
    assert {j["name"] for j in listed["jobs"]} >= {"refresh_all", "lake_maintenance"}
    assert {s["name"] for s in listed["sensors"]} == {"landing_files"}

    # The code location loaded in this process, in the same environment, has exactly these assets and checks.
    for key in os.environ.keys() - fresh_home_env.keys():
        monkeypatch.delenv(key)
    monkeypatch.setenv("COMPUTEFLOW_HOME", fresh_home_env["COMPUTEFLOW_HOME"])
    graph = build_definitions().resolve_asset_graph()
    assert assets == {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert checks == {f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys}
