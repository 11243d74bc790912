"""core.compute_usage: the loaded rows of every usage source, one lake commit per rebuilt set of partitions.

Rows of a source that a later delivery of the same day repeats under the source's dedup keys are left out
and listed in audit.usage_dedup_excluded (with the file and row they came from), so every loaded row is
either in core or accounted for there.
"""

from __future__ import annotations

import duckdb

from assets.core.queries import partition_filter, source_rows
from assets.ingest.spec import SourceSpec
from warehouse.catalog import CHARGE_LINE_ID, TABLES
from warehouse.ducklake import commit, qualified
from warehouse.lake import scalar, sql_ident, sql_str

USAGE = "core.compute_usage"
EXCLUDED = "audit.usage_dedup_excluded"


def rebuild_usage(con: duckdb.DuckDBPyConnection, specs: list[SourceSpec], partitions: list[str]) -> int:
    """Replace the rows of `partitions` of these usage sources in core.compute_usage (one commit); returns
    the rows the partitions now hold."""
    if not partitions:
        return 0
    names = ", ".join(sql_str(s.name) for s in specs)
    where = partition_filter(partitions) + (f" AND source_name IN ({names})" if specs else " AND FALSE")
    columns = ", ".join(sql_ident(c) for c in TABLES[USAGE].columns if c != "charge_line_id")
    excluded = ", ".join(sql_ident(c) for c in TABLES[EXCLUDED].columns)
    with commit(con, f"{USAGE}: {len(partitions)} partition(s) of {len(specs)} source(s)"):
        con.execute(f"DELETE FROM {qualified(USAGE)}{where}")
        con.execute(f"DELETE FROM {qualified(EXCLUDED)}{where}")
        for spec in specs:
            rows = source_rows(con, spec, partitions)
            if rows is None:
                continue
            con.execute(
                f"INSERT INTO {qualified(USAGE)} SELECT {CHARGE_LINE_ID} AS charge_line_id, {columns} "
                f"FROM ({rows}) ORDER BY partition_key, source_file, source_row"
            )
            dropped = source_rows(con, spec, partitions, dropped=True)
            if dropped:
                con.execute(
                    f"INSERT INTO {qualified(EXCLUDED)} SELECT {excluded} FROM ({dropped}) "
                    "ORDER BY partition_key, source_file, source_row"
                )
    return int(scalar(con, f"SELECT count(*) FROM {qualified(USAGE)}{where}"))
