"""The local Dagster instance under COMPUTEFLOW_HOME (runs, event logs, schedules, concurrency pools)."""

from __future__ import annotations

import os

import dagster as dg

from warehouse.settings import Settings

DAGSTER_YAML = """\
# Local Dagster instance of ComputeFlow (created by the computeflow command).
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def instance_directory(settings: Settings) -> str:
    """Create the instance directory with its dagster.yaml (kept when it exists); returns the directory."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return str(home)


def prepare_instance(settings: Settings) -> str:
    """The instance directory, exported as DAGSTER_HOME for Dagster's own tools."""
    home = instance_directory(settings)
    os.environ["DAGSTER_HOME"] = home
    return home


def local_instance(settings: Settings) -> dg.DagsterInstance:
    """The deployment's persistent Dagster instance."""
    prepare_instance(settings)
    return dg.DagsterInstance.get()
