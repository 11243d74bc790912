"""`computeflow demo`: deterministic demo landing files."""

from __future__ import annotations

from datetime import date

import click

from pipelines.cli.common import console, progress_bar
from warehouse.settings import Settings


@click.command()
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
    with progress_bar() as progress:
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
