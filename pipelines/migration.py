"""Homes written by the layout before the DuckLake lake: found, and set aside so landing can rebuild them.

That layout kept Parquet files renamed into place under lake/ (ingest/<source>/partition=..., core/, marts/,
ref/*.parquet) and served a copy of every table in warehouse.duckdb. Its files are not a DuckLake catalog, so
they are not migrated in place: landing is the source of truth, and a refresh rebuilds every table from it.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from warehouse.settings import Settings

OLD_MARKERS = (
    "warehouse.duckdb",
    "lake/ingest/*/partition=*",
    "lake/ref/*.parquet",
    "lake/core/*/data.parquet",
)


def previous_layout(settings: Settings) -> list[Path]:
    """Files and folders of the previous layout in this home (none for a DuckLake home or an empty one)."""
    if settings.lake.on_s3 or settings.lake.is_postgres:
        return []
    home = settings.home
    found = [p for pattern in OLD_MARKERS for p in sorted(home.glob(pattern))]
    return found if found and not settings.lake.exists() else []


def rebuild_hint(settings: Settings, found: list[Path]) -> str:
    """What to do about a home of the previous layout, in plain words."""
    return (
        f"{settings.home} was written by the previous lake layout (Parquet files and warehouse.duckdb, e.g. "
        f"{found[0]}), which is not a DuckLake catalog. Landing is the source of truth: run "
        "`computeflow refresh --rebuild-from-landing` to move the old files to "
        f"{settings.home}/previous-layout-<time>/ and rebuild every table from {settings.landing_url} "
        "(delete that folder once the new tables look right)."
    )


def set_aside(settings: Settings) -> Path:
    """Move the previous layout's lake and warehouse file out of the way; returns where they went."""
    target = settings.home / f"previous-layout-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    target.mkdir(parents=True)
    for name in ("lake", "warehouse.duckdb", "warehouse.duckdb.wal", "warehouse.duckdb.lock"):
        source = settings.home / name
        if source.exists():
            shutil.move(str(source), str(target / name))
    return target
