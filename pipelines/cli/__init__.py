"""The computeflow command line: the `main` group, with the commands of each module below registered on it.

`common` holds what the commands share (the console, the progress bar, day options, the lake reader); `demo`
writes demo landing files; `lake` refreshes, backfills, withdraws, compacts and checks the lake; `query` reads
it (status, sql, dictionary); `export` writes interchange files; `sources` works on source specs; `launch`
hands over to another program (the duckdb shell, the Dagster UI).
"""

from __future__ import annotations

import click

from pipelines.cli import demo, export, lake, launch, query, sources


@click.group()
@click.version_option(package_name="computeflow", prog_name="computeflow")
def main() -> None:
    """ComputeFlow: the lakehouse for AI-compute usage, datasets, transfers and subsidies."""


for command in (
    demo.demo,
    lake.refresh,
    lake.backfill,
    lake.withdraw,
    lake.maintain,
    lake.check,
    query.status,
    export.export,
    query.sql,
    query.dictionary,
    sources.sources,
    launch.shell,
    launch.ui,
):
    main.add_command(command)

__all__ = ["main"]
