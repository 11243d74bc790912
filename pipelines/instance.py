"""The Dagster instance of a deployment (runs, event logs, schedules, concurrency pools): SQLite files under
COMPUTEFLOW_HOME by default, or a PostgreSQL database (COMPUTEFLOW_DAGSTER_STORAGE_URL) that several machines
share, beside a PostgreSQL lake catalog."""

from __future__ import annotations

import os

import dagster as dg
import yaml

from pipelines.event_log import KeptOpenSqliteEventLogStorage
from warehouse.ducklake import postgres_parts
from warehouse.settings import Settings

# The first line of a dagster.yaml this command wrote (this and the earlier wording).
OURS = (
    "# Dagster instance of ComputeFlow, written by",
    "# Local Dagster instance of ComputeFlow (created by",
)
HEADER = (
    "# Dagster instance of ComputeFlow, written by the computeflow command: remove this line to keep edits.\n"
)


def postgres_storage(url: str) -> dict:
    """dagster-postgres storage settings for a postgresql:// URL; the password comes from PGPASSWORD only."""
    parts = postgres_parts(url)
    database = {
        "username": parts["user"] or os.environ.get("PGUSER", "postgres"),
        "hostname": parts["host"] or "localhost",
        "db_name": parts["dbname"] or "dagster",
        "port": parts["port"] or 5432,
        "scheme": "postgresql+psycopg2",  # the driver dagster-postgres installs
    }
    if "PGPASSWORD" in os.environ:
        database["password"] = {"env": "PGPASSWORD"}
    return {"postgres": {"postgres_db": database}}


def dagster_yaml(settings: Settings) -> str:
    """The instance's dagster.yaml: telemetry off, one step at a time per write pool, one queued run (the
    schedule's, the landing sensor's) at a time, and its storage."""
    config: dict = {
        "concurrency": {"pools": {"default_limit": 1}, "runs": {"max_concurrent_runs": 1}},
        "telemetry": {"enabled": False},
    }
    if settings.dagster_storage_url:
        config["storage"] = postgres_storage(settings.dagster_storage_url)
    else:  # Dagster's SQLite files, in its default place, its event log's connections kept open
        config["event_log_storage"] = {
            "module": KeptOpenSqliteEventLogStorage.__module__,
            "class": KeptOpenSqliteEventLogStorage.__name__,
            "config": {"base_dir": os.path.join(settings.dagster_home, "history", "runs", "")},
        }
    return HEADER + yaml.safe_dump(config, sort_keys=True)


def instance_directory(settings: Settings) -> str:
    """Create the instance directory with its dagster.yaml (rewritten while it is ours, kept once edited by
    hand); returns the directory."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = dagster_yaml(settings)
    current = config.read_text(encoding="utf-8") if config.exists() else None
    if current is None or (current.startswith(OURS) and current != text):
        config.write_text(text, encoding="utf-8")
    return str(home)


def prepare_instance(settings: Settings) -> str:
    """The instance directory, exported as DAGSTER_HOME for Dagster's own tools."""
    home = instance_directory(settings)
    os.environ["DAGSTER_HOME"] = home
    return home


def local_instance(settings: Settings) -> dg.DagsterInstance:
    """The deployment's persistent Dagster instance, opened from its directory: the process environment is left
    alone, so a later command in the same process (another deployment) opens its own instance."""
    return dg.DagsterInstance.from_config(instance_directory(settings))
