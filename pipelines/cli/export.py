"""`computeflow export`: the lakehouse in interchange formats (FOCUS 1.2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import duckdb
from rich.table import Table
from rich.text import Text

from pipelines.cli.common import console, parse_optional_day, reader
from warehouse.settings import Settings


@click.group()
def export() -> None:
    """Export the lakehouse in an interchange format."""


@export.command("focus")
@click.option(
    "--from", "first", default=None, callback=parse_optional_day, help="First charge day (YYYY-MM-DD)."
)
@click.option("--to", "last", default=None, callback=parse_optional_day, help="Last charge day, inclusive.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write."
)
@click.option("--samples", is_flag=True, help="Include the reference samples' rows (left out by default).")
@click.option("--check", is_flag=True, help="Check the written file against the FOCUS 1.2 requirements.")
def export_focus(
    first: date | None, last: date | None, fmt: str, output: Path, samples: bool, check: bool
) -> None:
    """Write the FOCUS 1.2 cost and usage dataset (exports.focus_cost_and_usage) of the charge days
    --from..--to (Asia/Shanghai; default: all), streamed from the latest committed snapshot."""
    from assets.exports.focus_file import export_query, write_focus_file

    if first and last and first > last:
        raise click.BadParameter(f"--from {first} is after --to {last}")
    with reader(Settings.from_env()) as con:
        rows = write_focus_file(con, export_query(con, first, last, fmt, samples), output, fmt)
    console.print(f"{rows:,} charge lines -> {output} ({fmt})")
    if check:
        _check_focus_file(output, fmt)


def _check_focus_file(path: Path, fmt: str) -> None:
    """Print each FOCUS requirement's outcome on an exported file; exit 1 when a MUST is broken."""
    from assets.exports.focus_rules import check, csv_scan
    from warehouse.lake import sql_str

    with duckdb.connect() as con:
        scan = f"read_parquet({sql_str(str(path))})" if fmt == "parquet" else csv_scan(con, str(path))
        outcomes = check(con, scan)
    table = Table("requirement", "level", "violations", "detail")
    for o in outcomes:
        if not o.passed:
            table.add_row(o.requirement.id, o.requirement.level, f"{o.violations:,}", Text(o.detail))
    broken = [o for o in outcomes if not o.passed and o.requirement.level == "MUST"]
    console.print(f"FOCUS 1.2: {sum(o.passed for o in outcomes)} of {len(outcomes)} requirements met")
    if table.row_count:
        console.print(table)
    if broken:
        raise click.ClickException(f"{len(broken)} FOCUS MUST requirement(s) broken in {path}")
