"""The commands that read the lake: status, sql, dictionary."""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime
from pathlib import Path

import click
import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pipelines.cli.common import console, emit_markdown, markdown_output, reader
from warehouse.settings import Settings
from warehouse.transactions import read_transaction


def print_status(settings: Settings, samples: bool = False) -> None:
    from pipelines.status import headline_figures, table_counts, unaccepted_files

    if not settings.lake.exists():
        console.print(f"no lakehouse yet at {settings.catalog_url}")
        return
    with reader(settings) as con, read_transaction(con):  # every figure from one snapshot
        table = Table(title=Text(f"lakehouse {settings.catalog_url} (data {settings.lake_url})"))
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, rows in table_counts(con):
            table.add_row(name, f"{rows:,}")
        out = Console(markup=False)
        out.print(table)
        kept = "included" if samples else "left out; `computeflow status --samples` includes them"
        out.print(f"Headline figures (reference samples {kept}):")
        for label, value in headline_figures(con, samples):
            out.print(f"{label}: {value}")
        refused = unaccepted_files(con)
        if refused:
            files = Table(title=Text("landed files not loaded (rows queryable in audit.quarantine)"))
            for column in ("source", "day", "file", "status", "reason"):
                files.add_column(column)
            for row in refused:
                files.add_row(*(Text(str(v)) for v in row))
            out.print(files)
    out.print(f"Dashboards: {settings.dashboards_path / 'index.html'}")
    out.print(f"Dagster instance: {settings.dagster_home} (open it with: computeflow ui)")


@click.command()
@click.option("--samples", is_flag=True, help="include the reference samples' rows in the headline figures")
def status(samples: bool) -> None:
    """Print the lakehouse location, rows per table and headline figures (exit 1 when there is none yet)."""
    settings = Settings.from_env()
    if not settings.lake.exists():
        raise click.ClickException(
            f"no lakehouse yet at {settings.catalog_url}: run `computeflow refresh` first"
        )
    print_status(settings, samples)


@click.command()
@click.argument("query")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
@click.option(
    "--snapshot", type=int, default=None, help="Query this past lake snapshot (see lake.snapshots())."
)
def sql(query: str, fmt: str, snapshot: int | None) -> None:
    """Query the lakehouse read-only: the latest committed snapshot, or a past one. Only queries run (SELECT,
    DESCRIBE, SHOW, SUMMARIZE, EXPLAIN); no file outside the lake can be read, and none written."""
    from warehouse.ducklake import refuse_statements

    with reader(Settings.from_env(), snapshot, sandboxed=True) as con:
        try:
            refuse_statements(query)
            cursor = con.execute(query)
        except (duckdb.Error, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    if fmt == "json":
        records = [{c: portable(v) for c, v in zip(columns, r, strict=True)} for r in rows]
        click.echo(json.dumps(records, default=str, ensure_ascii=False, allow_nan=False))
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([portable(v) for v in r] for r in rows)
    else:
        table = Table(*[escape(c) for c in columns])
        for r in rows:  # values are data, never markup: Text() renders them literally
            table.add_row(*[Text("" if v is None else str(v)) for v in r])
        Console().print(table)


def portable(value: object) -> object:
    """A value as strict JSON and CSV want it: times in ISO 8601 (UTC as `Z`), no NaN or infinity (null)."""
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@click.command()
@markdown_output("Write the markdown here (default: print it).")
def dictionary(output: Path | None) -> None:
    """The data dictionary (every published table and column with its meaning) as markdown, from meta.columns."""
    from assets.dictionary.columns import dictionary_markdown

    with reader(Settings.from_env()) as con:
        rows = con.execute("SELECT * FROM meta.columns ORDER BY table_name, ordinal").fetchall()
    emit_markdown(dictionary_markdown(rows), output, f" ({len(rows)} columns)")
