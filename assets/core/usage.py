"""core.compute_usage: a DuckLake view over the loaded rows of every usage source, duplicates left out.

Ingest commits each landed file's rows to ingest.<source>, and in the same commit lists in
audit.usage_dedup_excluded the rows of that source and day that a later delivery repeats under the source's
dedup keys (the latest delivery wins). The view serves every loaded row not listed there, so no row is copied
from ingest to core, every committed snapshot is consistent, and every loaded row is either in
core.compute_usage or accounted for in audit.usage_dedup_excluded.
"""

from __future__ import annotations

import duckdb

from assets.ingest.spec import SourceSpec
from assets.tables import CHARGE_LINE_ID, DATED_BY, TABLES, ingest_table, kind_columns
from warehouse.catalog import TableDef, create_tables
from warehouse.ducklake import qualified
from warehouse.introspect import change_feed, current_snapshot, lake_tables, table_changed
from warehouse.lake import sql_ident
from warehouse.rewrite import define_view

USAGE = "core.compute_usage"
EXCLUDED = "audit.usage_dedup_excluded"


def usage_view_sql(con: duckdb.DuckDBPyConnection, specs: list[SourceSpec]) -> str:
    """The view's query: the usage sources' ingest tables (names relative to the lake), exclusions removed."""
    table = TABLES[USAGE]
    existing = lake_tables(con)
    columns = ", ".join(sql_ident(c) for c in table.columns if c != "charge_line_id")
    parts = [
        f"SELECT {columns} FROM ingest.{sql_ident(s.name)}"
        for s in sorted(specs, key=lambda s: s.name)
        if s.kind == "usage" and ingest_table(s.name) in existing
    ]
    if not parts:
        return f"{table.empty_select()} LIMIT 0"
    rows = " UNION ALL ".join(parts)
    return (
        f"SELECT {CHARGE_LINE_ID} AS charge_line_id, {columns} FROM ({rows}) u "
        f"ANTI JOIN audit.usage_dedup_excluded x USING (source_name, source_file, source_row)"
    )


def define_usage_view(con: duckdb.DuckDBPyConnection, specs: list[SourceSpec]) -> bool:
    """(Re)define core.compute_usage over every usage source's table (each given the columns a newer version
    of the table has, such as the period columns); commits only when something changes (a new source).
    Returns whether the view changed."""
    existing = lake_tables(con)
    tables = [ingest_table(s.name) for s in specs if s.kind == "usage" and ingest_table(s.name) in existing]
    create_tables(con, [TableDef(t, kind_columns("usage")) for t in tables])
    return define_view(con, USAGE, usage_view_sql(con, specs))


def changed_charge_dates(con: duckdb.DuckDBPyConnection, specs: list[SourceSpec], since: int) -> set | None:
    """The charge dates of core.compute_usage rows added, removed or excluded by the lake's commits after
    snapshot `since` (from DuckLake's change feed of the usage sources' tables and of the exclusion list); None
    when the feed cannot tell (a source table created or replaced since), and the caller must rebuild."""
    now = current_snapshot(con)
    if now <= since:
        return set()
    existing = lake_tables(con, views=False)
    tables = [s.name for s in specs if s.kind == "usage" and ingest_table(s.name) in existing]
    if not tables:
        return set()
    changed = [f"SELECT charge_date FROM {change_feed(ingest_table(n), since, now)}" for n in tables]
    loaded = " UNION ALL ".join(
        f"SELECT source_name, source_file, source_row, charge_date FROM {qualified(ingest_table(n))}"
        for n in tables
    )
    excluded = (  # the exclusion list's changes, read once, dated by the rows they name
        f"SELECT u.charge_date FROM {change_feed('audit.usage_dedup_excluded', since, now)} x "
        f"JOIN ({loaded}) u USING (source_name, source_file, source_row)"
    )
    try:
        rows = con.execute(" UNION ".join([*changed, excluded])).fetchall()
    except duckdb.Error:
        return None
    return {r[0] for r in rows}


def changed_charge_dates_of(
    con: duckdb.DuckDBPyConnection, specs: list[SourceSpec], inputs: tuple[str, ...], since: int
) -> set | None:
    """The charge dates whose rows of a view over `inputs` (lake table names) may differ from snapshot `since`:
    those of core.compute_usage's changed rows and of the changed rows of inputs dated by charge date; None
    (look at every row) when any other input changed or a change feed cannot tell."""
    dates: set = set()
    now = current_snapshot(con)
    for name in inputs:
        if name == USAGE:
            found = changed_charge_dates(con, specs, since)
        elif DATED_BY.get(name) == "charge_date" and now > since:
            try:
                rows = con.execute(
                    f"SELECT DISTINCT charge_date FROM {change_feed(name, since, now)}"
                ).fetchall()
            except duckdb.Error:
                return None
            found = {r[0] for r in rows}
        else:
            found = None if table_changed(con, name, since) else set()
        if found is None:
            return None
        dates |= found
    return dates


def described_dates(dates: set) -> str:
    """Which rows a check scoped to charge dates (see changed_charge_dates_of) validates, in words."""
    listed = sorted(d.isoformat() for d in dates)
    shown = ", ".join(listed) if len(listed) <= 10 else f"{listed[0]} to {listed[-1]}"
    return f"rows of the {len(listed)} charge date(s) whose rows may have changed: {shown}"
