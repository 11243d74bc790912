"""The computeflow command line."""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import date, datetime
from pathlib import Path

import click
import duckdb
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from warehouse.settings import Settings

# Messages carry file, tenant and dataset names from outside: never interpret them as markup.
console = Console(stderr=True, soft_wrap=True, markup=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )


@click.group()
@click.version_option(package_name="computeflow", prog_name="computeflow")
def main() -> None:
    """ComputeFlow: the lakehouse for AI-compute usage, datasets, transfers and subsidies."""


@main.command()
@click.option("--days", default=120, show_default=True, help="Days of activity to generate.")
@click.option("--scale", default=1.0, show_default=True, help="Multiply usage volume (100 gives 10M+ rows).")
@click.option("--seed", default=42, show_default=True, help="Random seed; same seed, same files.")
@click.option("--start", default="2025-08-01", show_default=True, help="First day (YYYY-MM-DD).")
@click.option(
    "--provider", "providers", multiple=True, help="Write usage feeds of these providers only (repeatable)."
)
def demo(days: int, scale: float, seed: int, start: str, providers: tuple[str, ...]) -> None:
    """Write deterministic demo landing files for every source."""
    from pipelines.demo import count_demo_files, generate_demo

    settings = Settings.from_env()
    with _progress() as progress:
        only = providers or None
        task = progress.add_task("writing landing files", total=count_demo_files(days, only) + 1)

        def on_file(path: str, rows: int) -> None:
            progress.update(task, advance=1, description=f"wrote {path} ({rows:,} rows)")

        manifest = generate_demo(
            settings.landing_url,
            days=days,
            scale=scale,
            seed=seed,
            start=date.fromisoformat(start),
            on_file=on_file,
            providers=only,
        )
    totals = manifest["totals"]
    console.print(f"demo landing data in {settings.landing_url}: {len(manifest['files'])} files")
    for source, rows in sorted(totals.items()):
        console.print(f"  {source:<16} {rows:>12,} rows")


@main.command()
@click.option("--select", "selection", default=None, help="Dagster asset selection, e.g. 'key:core/*+'.")
@click.option(
    "--partition",
    default=None,
    callback=lambda ctx, param, value: None if value is None else _day(ctx, param, value),
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


def _day(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a day (YYYY-MM-DD)") from None


@main.command()
@click.option("--from", "first", required=True, callback=_day, help="First day partition (YYYY-MM-DD).")
@click.option("--to", "last", required=True, callback=_day, help="Last day partition, inclusive.")
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
    with _progress() as progress:
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
    _print_status(settings)  # what the refresh published, failures contained or not
    if not outcome.success:
        sys.exit(1)


@main.command()
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
            lakehouse.reference_fingerprint(con),
        )
        try:
            row = ingestor.withdraw(source_file, reason)
        except SourceFileError as exc:
            raise click.ClickException(str(exc)) from None
    console.print(Text(f"withdrawn: {row.detail}"))
    day = None if row.partition_key == UNPARTITIONED else row.partition_key
    _run_refresh(f"refreshing after withdrawing {source_file}", f"key:ingest/{source}+", partition=day)


@main.command()
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
    if not settings.lake.exists():
        raise click.ClickException(f"no lakehouse at {settings.catalog_url}: run `computeflow refresh` first")
    done = run_maintenance(build_definitions(), local_instance(settings), retain_days)
    console.print(
        f"data files {done.files_before:,} -> {done.files_after:,} ({done.files_merged:,} merged), "
        f"{done.snapshots_expired:,} snapshots expired, {done.files_deleted:,} unused files deleted"
    )


@main.command()
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


def _reader(
    settings: Settings, snapshot: int | None = None, sandboxed: bool = False
) -> duckdb.DuckDBPyConnection:
    """A read-only connection on the lake's latest (or a past) snapshot; a clear error when there is none."""
    from warehouse.ducklake import LakeNotFoundError, connect_reader

    try:
        return connect_reader(settings.lake, snapshot, sandboxed)
    except LakeNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


def _print_status(settings: Settings, samples: bool = False) -> None:
    from pipelines.status import headline_figures, table_counts, unaccepted_files

    if not settings.lake.exists():
        console.print(f"no lakehouse yet at {settings.catalog_url}")
        return
    with _reader(settings) as con:
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


@main.command()
@click.option("--samples", is_flag=True, help="include the reference samples' rows in the headline figures")
def status(samples: bool) -> None:
    """Print the lakehouse location, rows per table and headline figures (exit 1 when there is none yet)."""
    settings = Settings.from_env()
    if not settings.lake.exists():
        raise click.ClickException(
            f"no lakehouse yet at {settings.catalog_url}: run `computeflow refresh` first"
        )
    _print_status(settings, samples)


def _optional_day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(_day(ctx, param, value))


@main.group()
def export() -> None:
    """Export the lakehouse in an interchange format."""


@export.command("focus")
@click.option("--from", "first", default=None, callback=_optional_day, help="First charge day (YYYY-MM-DD).")
@click.option("--to", "last", default=None, callback=_optional_day, help="Last charge day, inclusive.")
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
    with _reader(Settings.from_env()) as con:
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


@main.command()
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

    with _reader(Settings.from_env(), snapshot, sandboxed=True) as con:
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


@main.command()
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the markdown here (default: print it).",
)
def dictionary(output: Path | None) -> None:
    """The data dictionary (every published table and column with its meaning) as markdown, from meta.columns."""
    from assets.dictionary.columns import dictionary_markdown

    with _reader(Settings.from_env()) as con:
        rows = con.execute("SELECT * FROM meta.columns ORDER BY table_name, ordinal").fetchall()
    text = dictionary_markdown(rows)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output} ({len(rows)} columns)")


@main.group()
def sources() -> None:
    """Source specs: list, check, try and draft them; their reference."""


@sources.command("list")
def sources_list() -> None:
    """List the source specs of this deployment."""
    from assets.ingest.spec import load_specs

    settings = Settings.from_env()
    table = Table("name", "kind", "provider", "format", "landing glob", title=str(settings.sources_dir))
    for spec in load_specs(settings.sources_dir):
        table.add_row(
            *[
                Text(v)
                for v in (spec.name, spec.kind, spec.provider_id or "", spec.format.type, spec.landing.glob)
            ]
        )
    Console().print(table)


@sources.command("check")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def sources_check(spec_file: Path) -> None:
    """Validate one spec file; print every mistake with the file and key."""
    from assets.ingest.check import check_spec_file

    problems = check_spec_file(spec_file)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        sys.exit(1)
    console.print(f"{spec_file}: ok")


@sources.command("try")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--sample", "sample", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def sources_try(spec_file: Path, sample: Path) -> None:
    """Ingest one sample file with a spec into a scratch lake and show what would load (nothing is written)."""
    from assets.ingest.check import checked_spec
    from assets.ingest.dry_run import try_sample
    from pipelines.dry_run_report import print_dry_run
    from warehouse.lake import Location

    spec, problems = checked_spec(spec_file)
    if spec is None or problems:  # every mistake at once, as `sources check` reports them
        for problem in problems:
            click.echo(problem, err=True)
        sys.exit(1)
    landing = Location(Settings.from_env().landing_url)
    run = try_sample(spec, sample, landing if landing.exists("reference") else None)
    print_dry_run(Console(soft_wrap=True), str(sample), run)
    if run.ledger.status not in ("loaded", "empty"):
        sys.exit(1)


@sources.command("reference")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the markdown here, e.g. docs/SOURCES.md (default: print it).",
)
def sources_reference(output: Path | None) -> None:
    """The reference of source specs as markdown: onboarding, worked examples, every spec key, the canonical
    columns, the expression functions and the quarantine rules."""
    from pipelines.spec_reference import reference_markdown

    text = reference_markdown()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


@sources.command("scaffold")
@click.argument("name")
@click.option(
    "--sample", "sample", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--kind", type=click.Choice(["usage", "transfers", "catalog", "vouchers"]), default="usage")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the draft (default: NAME.yaml in the drafts folder next to the sources folder).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing draft.")
def sources_scaffold(name: str, sample: Path, kind: str, output: Path | None, force: bool) -> None:
    """Draft a spec for a new source from a sample file, then check it.

    The draft goes to the drafts folder, outside the sources folder that every refresh reads: move it there
    once `computeflow sources check` passes on it."""
    from assets.ingest.check import check_spec_file
    from assets.ingest.scaffold import draft_spec

    sources_dir = Settings.from_env().sources_dir
    target = output or sources_dir.parent / "drafts" / f"{name}.yaml"
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(draft_spec(name, sample, kind), encoding="utf-8")
    console.print(f"wrote draft spec {target}")
    problems = check_spec_file(target)
    for problem in problems:
        click.echo(f"  to do: {problem}", err=True)
    live = sources_dir / target.name
    verdict = "passes" if not problems else "does not pass"
    console.print(f"  the draft {verdict} `computeflow sources check`")
    if target.resolve() == live.resolve():
        console.print("  it is in the sources folder, which every refresh reads")
        return
    console.print(f"  once it passes, review its TODOs and move it to {live}")
    if live.exists():
        console.print(f"  note: {live} exists already")


@main.command()
@click.option(
    "--print", "print_only", is_flag=True, help="Print the statements that attach the lake, and exit."
)
def shell(print_only: bool) -> None:
    """Open the `duckdb` CLI on the lakehouse, read-only (tables read as core.compute_usage, ...)."""
    import shutil

    from warehouse.ducklake import reader_init_sql

    settings = Settings.from_env()
    if not settings.lake.exists():
        raise click.ClickException(f"no lakehouse at {settings.catalog_url}: run `computeflow refresh` first")
    if print_only:
        click.echo(reader_init_sql(settings.lake))
        return
    binary = shutil.which("duckdb") or str(Path(sys.executable).with_name("duckdb"))
    os.execvp(binary, [binary, "-cmd", reader_init_sql(settings.lake, sandboxed=True)])


@main.command()
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


if __name__ == "__main__":
    main()
