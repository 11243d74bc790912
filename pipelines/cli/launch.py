"""The commands that hand over to another program: shell (the duckdb CLI on the lake) and ui (Dagster's)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from pipelines.cli.common import require_lake
from warehouse.settings import Settings


@click.command()
@click.option(
    "--print", "print_only", is_flag=True, help="Print the statements that attach the lake, and exit."
)
def shell(print_only: bool) -> None:
    """Open the `duckdb` CLI on the lakehouse, read-only (tables read as core.compute_usage, ...)."""
    import shutil

    from warehouse.ducklake import reader_init_sql

    settings = Settings.from_env()
    require_lake(settings)
    if print_only:
        click.echo(reader_init_sql(settings.lake))
        return
    binary = shutil.which("duckdb") or str(Path(sys.executable).with_name("duckdb"))
    os.execvp(binary, [binary, "-cmd", reader_init_sql(settings.lake, sandboxed=True)])


@click.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to serve on (0.0.0.0: all).")
def ui(port: int, host: str) -> None:
    """Open the Dagster UI (`dg dev`: webserver and daemon) on the local instance."""
    from importlib.util import find_spec

    from pipelines.instance import prepare_instance
    from warehouse.settings import REPO_ROOT

    if find_spec("dagster_dg_cli") is None:
        raise click.ClickException("the UI runs `dg dev`: install the dev extra (pip install -e '.[dev]')")
    settings = Settings.from_env()
    prepare_instance(settings)
    # dg dev serves the project from its root: keep the home this command resolved from the current directory.
    os.environ["COMPUTEFLOW_HOME"] = str(settings.home)
    cmd = [sys.executable, "-m", "dagster_dg_cli.cli", "dev", "--target-path", str(REPO_ROOT)]
    os.execvp(cmd[0], [*cmd, "--host", host, "--port", str(port)])
