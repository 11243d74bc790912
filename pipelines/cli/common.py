"""What the commands share: the console, the progress bar, day options and the read-only lake connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from warehouse.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

# Messages carry file, tenant and dataset names from outside: never interpret them as markup.
console = Console(stderr=True, soft_wrap=True, markup=False)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )


def parse_day(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a day (YYYY-MM-DD)") from None


def parse_optional_day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(parse_day(ctx, param, value))


def reader(
    settings: Settings, snapshot: int | None = None, sandboxed: bool = False
) -> duckdb.DuckDBPyConnection:
    """A read-only connection on the lake's latest (or a past) snapshot; a clear error when there is none."""
    from warehouse.ducklake import LakeNotFoundError, connect_reader

    try:
        return connect_reader(settings.lake, snapshot, sandboxed)
    except LakeNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


def require_lake(settings: Settings) -> None:
    """Stop with one clear line when the deployment has no lakehouse yet."""
    if not settings.lake.exists():
        raise click.ClickException(f"no lakehouse at {settings.catalog_url}: run `computeflow refresh` first")


def markdown_output(help_text: str) -> Callable[[F], F]:
    """The --output option of a command that prints markdown, or writes it to a file."""
    return click.option(
        "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help_text
    )


def emit_markdown(text: str, output: Path | None, detail: str = "") -> None:
    """Print the markdown, or write it to `output` and say so (with `detail` after the file name)."""
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}{detail}")
