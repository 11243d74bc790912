"""The command line behaves: a version, one clear line and a non-zero exit on an error, a UI host of choice."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import launch, main
from tests.conftest import lake_connection, settings_for


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("computeflow, version ")


def test_status_without_a_lakehouse_fails_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: no lakehouse yet at {tmp_path / 'home' / 'catalog.sqlite'}: run `computeflow refresh` first"
    ]


def test_a_bad_partition_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["refresh", "--partition", "2025-13-01"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Error: Invalid value for '--partition': '2025-13-01' is not a day (YYYY-MM-DD)" in result.output
    assert not (tmp_path / "home" / "catalog.sqlite").exists()


def test_the_ui_serves_on_the_host_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(tmp_path / "home"))
    launched: list[list[str]] = []
    monkeypatch.setattr(launch.os, "execvp", lambda program, args: launched.append(args))
    result = CliRunner().invoke(main, ["ui", "--host", "0.0.0.0", "--port", "3300"])
    assert result.exit_code == 0, result.output
    ((*command, host_flag, host, port_flag, port),) = launched
    assert command[1:4] == ["-m", "dagster_dg_cli.cli", "dev"]  # dg dev, the UI and the daemon
    assert (host_flag, host, port_flag, port) == ("--host", "0.0.0.0", "--port", "3300")


@pytest.fixture
def empty_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment whose lakehouse exists and holds no rows yet."""
    home = tmp_path / "home"
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(home))
    lake_connection(settings_for(home).lake).close()


QUERY = (
    "SELECT TIMESTAMPTZ '2023-01-31 16:00:00+00' AS t, CAST('nan' AS DOUBLE) AS x, "
    "CAST('-inf' AS DOUBLE) AS y, DATE '2025-08-01' AS d, 1.5 AS z"
)


def test_sql_writes_strict_json_with_iso_times(empty_lake: None) -> None:
    result = CliRunner().invoke(main, ["sql", QUERY, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output, parse_constant=lambda c: pytest.fail(f"bare {c}")) == [
        {"t": "2023-01-31T16:00:00Z", "x": None, "y": None, "d": "2025-08-01", "z": "1.5"}
    ]


def test_sql_writes_csv_with_the_same_times(empty_lake: None) -> None:
    result = CliRunner().invoke(main, ["sql", QUERY, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["t,x,y,d,z", "2023-01-31T16:00:00Z,,,2025-08-01,1.5"]
