"""core.compute_usage as frozen snapshots of the loaded ingest files, plus the rows deduplication drops.

Ingest files already hold every row of a landed file with its verdict, in the canonical columns. The core
table links those files in (a hard link on local disk: no rows are copied) and lists, per source, the rows
that a later delivery repeats under the source's dedup keys; the table's view serves the loaded rows of its
member files minus those rows (see warehouse.catalog.SnapshotTableDef).
"""

from __future__ import annotations

import os

import duckdb

from assets.ingest.engine import LATEST_FIRST, keys_repeat, numbered_scan
from assets.ingest.spec import SourceSpec
from warehouse.lake import Location, scalar, sql_ident


def _excluded_query(
    con: duckdb.DuckDBPyConnection, lake: Location, spec: SourceSpec, files: list[str]
) -> str | None:
    """Rows of a source that a later file repeats under its dedup keys (the latest delivery wins)."""
    if not spec.dedup_keys or len(files) < 2:
        return None  # within one file, repeats were already quarantined as duplicate_key
    scan = numbered_scan(lake.listing(files), ", union_by_name = true")
    if not keys_repeat(con, scan, spec.dedup_keys):
        return None
    keys = ", ".join(sql_ident(k) for k in spec.dedup_keys)
    return (
        f"SELECT source_name, source_file, source_row FROM {scan} WHERE __rule IS NULL "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} "
        f"ORDER BY {LATEST_FIRST}) > 1"
    )


def snapshot_usage(
    con: duckdb.DuckDBPyConnection, lake: Location, specs: list[SourceSpec], partition: str, directory: str
) -> int:
    """Make `directory` the core snapshot of one ingest partition of usage sources; returns the rows it serves.

    Members are replaced file by file (each swap atomic), stale members and exclusion lists removed.
    """
    members: dict[str, str] = {}
    exclusions: dict[str, str] = {}
    for spec in specs:
        files = lake.glob(f"ingest/{spec.name}/partition={partition}/*.parquet")
        members.update({f"{directory}/{os.path.basename(f)}": f for f in files})
        query = _excluded_query(con, lake, spec, files)
        if query:
            exclusions[f"{directory}/excluded/{spec.name}.parquet"] = query
    for stale in lake.glob(f"{directory}/*.parquet") + lake.glob(f"{directory}/excluded/*.parquet"):
        relative = lake.relative(stale)
        if relative not in members and relative not in exclusions:
            lake.remove(relative)
    for relative, source in members.items():
        lake.snapshot(source, relative)
    for relative, query in exclusions.items():
        lake.write_query(con, query, relative)
    if not members:
        return 0
    loaded = scalar(
        con,
        f"SELECT count(*) FROM read_parquet({lake.listing(list(members.values()))}, union_by_name = true) "
        "WHERE __rule IS NULL",
    )
    dropped = (
        scalar(con, f"SELECT count(*) FROM read_parquet({lake.listing([lake.path(r) for r in exclusions])})")
        if exclusions
        else 0
    )
    return int(loaded) - int(dropped)
