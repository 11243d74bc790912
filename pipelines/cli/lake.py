"""The commands that change the lake or check it: refresh, backfill, withdraw, maintain, check."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipelines.cli.common import console, parse_day, progress_bar, require_lake
from pipelines.cli.query import print_status
from warehouse.settings import Settings


@click.command()
@click.option("--select", "selection", default=None, help="Dagster asset selection, e.g. 'key:core/*+'.")
@click.option(
    "--partition",
    default=None,
    callback=lambda ctx, param, value: None if value is None else parse_day(ctx, param, value),
    help="One day partition (YYYY-MM-DD) instead of every landed day.",
)
@click.option(
    "--skip-checks",
    is_flag=True,
    help="Do not run the contract checks of the selected assets (nothing blocks).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Run every asset over every landed day, not only what changed since the last refresh.",
)
@click.option(
    "--rebuild-from-landing",
    is_flag=True,
    help="On a home of the previous lake layout: set its files aside and rebuild every table from landing.",
)
def refresh(
    selection: str | None, partition: str | None, skip_checks: bool, full: bool, rebuild_from_landing: bool
) -> None:
    """Materialize what changed since the last refresh (new or changed landed files, specs, reference data or
    code) and everything downstream of it, through Dagster; each commit publishes."""
    from pipelines.migration import previous_layout, rebuild_hint, set_aside

    settings = Settings.from_env()
    found = previous_layout(settings)
    if found and not rebuild_from_landing:
        raise click.ClickException(rebuild_hint(settings, found))
    if found:
        console.print(f"previous layout moved to {set_aside(settings)}; rebuilding from landing")
    _run_refresh("refreshing", selection, partition=partition, checks=not skip_checks, full=full)


@click.command()
@click.option("--from", "first", required=True, callback=parse_day, help="First day partition (YYYY-MM-DD).")
@click.option("--to", "last", required=True, callback=parse_day, help="Last day partition, inclusive.")
@click.option("--select", "selection", default=None, help="Dagster asset selection (default: everything).")
def backfill(first: str, last: str, selection: str | None) -> None:
    """Re-run the day partitions --from..--to and everything downstream in one run, then publish."""
    from assets.ingest.check import load_checked_specs
    from assets.ingest.engine import first_partition_day
    from assets.partitions import day_range
    from warehouse.lake import Location

    settings = Settings.from_env()
    specs = load_checked_specs(settings.sources_dir)
    start = first_partition_day(specs, Location(settings.landing_url), settings.partition_start)
    if first < start:
        raise click.BadParameter(f"{first} is before the first partition day {start}", param_hint="--from")
    try:
        day_range(first, last)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    _run_refresh(f"backfilling {first} .. {last}", selection, days=(first, last))


def _run_refresh(label: str, selection: str | None, **options: object) -> None:
    """One refresh run with a progress bar of finished steps, then the status (or the failures)."""
    from pipelines.definitions import build_definitions
    from pipelines.instance import local_instance
    from pipelines.refresh import refresh as run_refresh

    settings = Settings.from_env()
    instance = local_instance(settings)
    defs = build_definitions()
    with progress_bar() as progress:
        task = progress.add_task(label, total=None)

        def on_step(step: str, done: int, total: int) -> None:
            progress.update(task, total=total, completed=done, description=f"{label}: done {step}")

        outcome = run_refresh(defs, instance, selection, on_step=on_step, **options)
    span = (
        f"{outcome.partition_range[0]} .. {outcome.partition_range[1]}" if outcome.partition_range else "none"
    )
    if outcome.run_id is None:
        console.print("up to date: nothing landed or changed since the last refresh (--full runs everything)")
    else:
        console.print(f"run {outcome.run_id}: {outcome.steps} assets, days {span}")
    for failure in outcome.failures:
        console.print(Text("FAILED ", style="bold red") + Text(failure))
    print_status(settings)  # what the refresh published, failures contained or not
    if not outcome.success:
        sys.exit(1)


@click.command()
@click.argument("source")
@click.argument("source_file")
@click.option("--reason", required=True, help="Why the delivery is taken back (kept in the ledger).")
def withdraw(source: str, source_file: str, reason: str) -> None:
    """Take back one delivered file of SOURCE (SOURCE_FILE as the ledger names it, relative to landing): its
    rows leave the lake, its ledger row says withdrawn and why, and the tables built on its day are refreshed."""
    import uuid

    from assets.ingest.engine import UNPARTITIONED, Ingestor
    from assets.ingest.readers import SourceFileError
    from assets.resources import Lakehouse

    settings = Settings.from_env()
    lakehouse = Lakehouse.from_settings(settings)
    specs = {s.name: s for s in lakehouse.specs()}
    if source not in specs:
        raise click.BadParameter(
            f"no source {source!r} (known: {', '.join(sorted(specs))})", param_hint="SOURCE"
        )
    with lakehouse.connect() as con:
        ingestor = Ingestor(
            con,
            specs[source],
            lakehouse.landing,
            lakehouse.scratch_path,
            f"withdraw-{uuid.uuid4().hex[:12]}",
        )
        try:
            row = ingestor.withdraw(source_file, reason)
        except SourceFileError as exc:
            raise click.ClickException(str(exc)) from None
    console.print(Text(f"withdrawn: {row.detail}"))
    day = None if row.partition_key == UNPARTITIONED else row.partition_key
    _run_refresh(f"refreshing after withdrawing {source_file}", f"key:ingest/{source}+", partition=day)


@click.command()
@click.option(
    "--retain-days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Past snapshots stay readable this long (AT (VERSION => n), sql --snapshot n).",
)
def maintain(retain_days: int) -> None:
    """Compact the lake now (the nightly lake_maintenance job): merge small files, expire old snapshots, delete
    the files nothing needs any more."""
    from pipelines.definitions import build_definitions
    from pipelines.defs.automation.maintenance import run_maintenance
    from pipelines.instance import local_instance

    settings = Settings.from_env()
    require_lake(settings)
    done = run_maintenance(build_definitions(), local_instance(settings), retain_days)
    console.print(
        f"data files {done.files_before:,} -> {done.files_after:,} ({done.files_merged:,} merged), "
        f"{done.snapshots_expired:,} snapshots expired, {done.files_deleted:,} unused files deleted"
    )


@click.command()
@click.argument("tables", nargs=-1)
def check(tables: tuple[str, ...]) -> None:
    """Validate tables in the lake against their contracts (every suite by default), without refreshing."""
    from assets.contracts.suites import suite_paths
    from assets.contracts.validation import load_suite, validate
    from assets.resources import Lakehouse

    paths = suite_paths()
    unknown = [t for t in tables if t not in paths]
    if unknown:
        raise click.BadParameter(f"no contract for {', '.join(unknown)} (known: {', '.join(paths)})")
    lakehouse = Lakehouse.from_settings(Settings.from_env())
    summary = Table("table", "expectations", "failed", "seconds", "result")
    broken = False
    for table in tables or tuple(paths):
        with lakehouse.connect() as con:
            outcome = validate(con, load_suite(paths[table]))
        broken |= not outcome.passed
        verdict = "ok" if not outcome.failed else ("FAILED" if not outcome.passed else "warnings")
        summary.add_row(
            Text(table),
            str(len(outcome.outcomes)),
            str(len(outcome.failed)),
            f"{outcome.seconds:.1f}",
            verdict,
        )
        for failed in outcome.failed:
            count = failed.unexpected if failed.unexpected is not None else failed.observed
            console.print(
                Text(f"{table}: {failed.expectation} ({failed.severity}) unexpected={count}: {failed.why}")
            )
            for sample in failed.samples:
                console.print(Text(f"    {json.dumps(sample, default=str, ensure_ascii=False)}"))
    Console().print(summary)
    if broken:
        sys.exit(1)
