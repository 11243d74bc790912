"""Table definitions of the lake: a table's name, its typed shape, and creating the fixed-shape ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from warehouse.ducklake import qualified
from warehouse.introspect import lake_columns, lake_tables, table_exists
from warehouse.lake import sql_ident
from warehouse.transactions import commit


@dataclass(frozen=True)
class TableDef:
    """A published lake table: its name and its columns when its shape is fixed (empty: set by its query)."""

    name: str
    columns: dict[str, str]
    view: bool = False  # defined by its asset as a view over other lake tables, never created empty

    def empty_select(self) -> str:
        """A typed SELECT with no rows, for a table the lake does not have yet."""
        return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {sql_ident(c)}" for c, t in self.columns.items())

    def exists(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Whether the lake attached to `con` has this table."""
        return table_exists(con, self.name)

    def source(self, con: duckdb.DuckDBPyConnection, existing: set[str] | None = None) -> str:
        """FROM-clause source of the table's rows (a typed empty relation when the lake has no such table);
        `existing` is the lake's tables when the caller has listed them already."""
        if self.name in (lake_tables(con) if existing is None else existing):
            return qualified(self.name)
        return f"({self.empty_select()} LIMIT 0)"

    def create(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the (fixed-shape) table in the lake if it is missing."""
        if self.columns and not self.view:
            con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(self.name)} AS {self.empty_select()} LIMIT 0")


def create_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[TableDef]) -> None:
    """Create every fixed-shape table of `tables` that the lake is missing, and add the columns a newer
    version of a table has to the lake's older one (NULL in the rows written before), in one commit."""
    fixed = [t for t in tables if t.columns and not t.view]
    present = lake_columns(con, [t.name for t in fixed])
    missing = [t for t in fixed if t.name not in present]
    added = [(t, c) for t in fixed if t.name in present for c in t.columns if c not in present[t.name]]
    if missing or added:
        with commit(con, "create tables"):
            for table in missing:
                table.create(con)
            for table, column in added:
                con.execute(
                    f"ALTER TABLE {qualified(table.name)} ADD COLUMN {sql_ident(column)} {table.columns[column]}"
                )
