"""The command line behaves: a version, one clear line and a non-zero exit on an error, a UI host of choice."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines import cli
from pipelines.cli import main


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
    monkeypatch.setattr(cli.os, "execvp", lambda program, args: launched.append(args))
    result = CliRunner().invoke(main, ["ui", "--host", "0.0.0.0", "--port", "3300"])
    assert result.exit_code == 0, result.output
    ((*_, host_flag, host, port_flag, port),) = launched
    assert (host_flag, host, port_flag, port) == ("-h", "0.0.0.0", "-p", "3300")
