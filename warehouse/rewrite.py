"""Writing lake tables whole or by the groups of rows that changed, and defining lake views."""

from __future__ import annotations

import duckdb

from warehouse.ducklake import qualified
from warehouse.introspect import lake_tables, table_rows
from warehouse.transactions import LAKE, commit


def replace_table(con: duckdb.DuckDBPyConnection, name: str, query: str) -> int:
    """Replace a whole table with a query's rows in one commit; returns its row count."""
    with commit(con, f"replace {name}"):
        con.execute(f"CREATE OR REPLACE TABLE {qualified(name)} AS {query}")
    return table_rows(con, name)


def replace_changed(
    con: duckdb.DuckDBPyConnection, name: str, query: str, key: str, within: str = ""
) -> int | None:
    """Bring the lake table 'schema.table' to `query`'s rows by rewriting only the groups of rows (rows sharing
    a `key` value) that differ: a group the query adds, drops or changes is deleted and re-inserted, any other
    is not touched, so nothing is written when nothing differs. `within` (a condition on the table's rows)
    limits the comparison to the groups that `query` computes, when it computes only some. A table that does
    not exist yet or whose columns differ from the query's is replaced whole (returns None). Run it inside a
    commit; returns the number of groups rewritten."""
    table = qualified(name)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __replace_rows AS {query}")
    try:
        if _shape(con, table) != _shape(con, "__replace_rows"):
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM __replace_rows")
            return None
        current = f"(SELECT * FROM {table}{f' WHERE {within}' if within else ''})"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __replace_keys AS SELECT DISTINCT {key} FROM "
            f"({_differing('__replace_rows', current)})"
        )
        groups = con.execute("SELECT count(*) FROM __replace_keys").fetchone()[0]
        if groups:
            con.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM __replace_keys) "
                f"OR ({key} IS NULL AND EXISTS (SELECT 1 FROM __replace_keys WHERE {key} IS NULL))"
            )
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT r.* FROM __replace_rows r "
                f"SEMI JOIN __replace_keys k ON r.{key} IS NOT DISTINCT FROM k.{key}"
            )
        con.execute("DROP TABLE __replace_keys")
        return groups
    finally:
        con.execute("DROP TABLE __replace_rows")


def holds(con: duckdb.DuckDBPyConnection, name: str, query: str) -> bool:
    """Whether the lake table 'schema.table' exists with the columns (names and types, in order) and the rows
    (repeated rows counted) of `query`: what writing it with `query` would leave as it is."""
    table = qualified(name)
    shape = _shape(con, table)
    if shape is None or shape != _shape(con, query):
        return False
    counts = con.execute(
        f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM ({query}))"
    ).fetchone()
    if counts[0] != counts[1]:  # an empty table, on a first load: no need to compare the rows
        return False
    return con.execute(f"SELECT count(*) FROM ({_differing(f'({query})', table)})").fetchone()[0] == 0


def _differing(left: str, right: str) -> str:
    """A query of the rows that one of two relations has and the other lacks (repeated rows counted)."""
    return (
        f"(SELECT * FROM {left} EXCEPT ALL SELECT * FROM {right}) UNION ALL "
        f"(SELECT * FROM {right} EXCEPT ALL SELECT * FROM {left})"
    )


def _shape(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]] | None:
    """Names and types of the columns of a table or query, in order; None for a table that does not exist."""
    try:
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {relation}").fetchall()]
    except duckdb.CatalogException:
        return None


def define_view(con: duckdb.DuckDBPyConnection, name: str, query: str) -> bool:
    """(Re)define the lake view 'schema.table' as `query` (names relative to the lake), in one commit and only
    when its definition changes; a table of that name (an earlier layout) is dropped in the same commit.
    Returns whether it changed."""
    schema, view = name.split(".", 1)
    current = con.execute(
        "SELECT sql FROM duckdb_views() WHERE database_name = ? AND schema_name = ? AND view_name = ?",
        [LAKE, schema, view],
    ).fetchone()
    if current and query in current[0]:
        return False
    with commit(con, f"define view {name}"):
        if name in lake_tables(con, views=False):
            con.execute(f"DROP TABLE {qualified(name)}")
        con.execute(f"CREATE OR REPLACE VIEW {qualified(name)} AS {query}")
    return True
