"""`computeflow sources`: list, check, try and draft source specs; their reference."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipelines.cli.common import console, emit_markdown, markdown_output
from warehouse.settings import Settings

SPEC_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def sources() -> None:
    """Source specs: list, check, try and draft them; their reference."""


def _refuse(problems: list[str]) -> NoReturn:
    """Every mistake of a spec at once, on stderr, then exit 1."""
    for problem in problems:
        click.echo(problem, err=True)
    sys.exit(1)


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
@click.argument("spec_file", type=SPEC_FILE)
def sources_check(spec_file: Path) -> None:
    """Validate one spec file; print every mistake with the file and key."""
    from assets.ingest.check import check_spec_file

    problems = check_spec_file(spec_file)
    if problems:
        _refuse(problems)
    console.print(f"{spec_file}: ok")


@sources.command("try")
@click.argument("spec_file", type=SPEC_FILE)
@click.option("--sample", "sample", required=True, type=SPEC_FILE)
def sources_try(spec_file: Path, sample: Path) -> None:
    """Ingest one sample file with a spec into a scratch lake and show what would load (nothing is written)."""
    from assets.ingest.check import checked_spec
    from assets.ingest.dry_run import try_sample
    from pipelines.dry_run_report import print_dry_run
    from warehouse.lake import Location

    spec, problems = checked_spec(spec_file)
    if spec is None or problems:  # every mistake at once, as `sources check` reports them
        _refuse(problems)
    landing = Location(Settings.from_env().landing_url)
    run = try_sample(spec, sample, landing if landing.exists("reference") else None)
    print_dry_run(Console(soft_wrap=True), str(sample), run)
    if run.ledger.status not in ("loaded", "empty"):
        sys.exit(1)


@sources.command("reference")
@markdown_output("Write the markdown here, e.g. docs/SOURCES.md (default: print it).")
def sources_reference(output: Path | None) -> None:
    """The reference of source specs as markdown: onboarding, worked examples, every spec key, the canonical
    columns, the expression functions and the quarantine rules."""
    from pipelines.spec_reference import reference_markdown

    emit_markdown(reference_markdown(), output)


@sources.command("scaffold")
@click.argument("name")
@click.option("--sample", "sample", required=True, type=SPEC_FILE)
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
