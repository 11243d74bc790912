"""Columns of the published tables joined with the meanings their contract suites give (meta.columns)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import duckdb

from assets.contracts.suites import suite_document, suite_paths
from assets.tables import TABLES
from warehouse.catalog import TableDef
from warehouse.introspect import lake_tables
from warehouse.rewrite import replace_table

DICTIONARY_TABLE = "meta.columns"
COLUMNS = TABLES[DICTIONARY_TABLE].columns


@dataclass(frozen=True)
class TableMeaning:
    """What a suite says about its table: a description and the meaning (with unit) of each column."""

    description: str
    columns: dict[str, str]


@cache
def suite_meanings() -> dict[str, TableMeaning]:
    """Descriptions and column meanings from every suite's top-level meta."""
    meanings = {}
    for table, path in suite_paths().items():
        meta = suite_document(path).get("meta", {})
        meanings[table] = TableMeaning(meta.get("description", ""), dict(meta.get("columns", {})))
    return meanings


def described_columns(
    con: duckdb.DuckDBPyConnection, table: TableDef, existing: set[str]
) -> list[tuple[str, str]]:
    """(column, type as DuckDB names it) of a table: the lake's table when `existing` has it, else its fixed
    shape (which needs no lake attached)."""
    described = con.execute(f"DESCRIBE SELECT * FROM {table.source(con, existing)}").fetchall()
    return [(row[0], row[1]) for row in described]


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """(column, type) of every catalog table that the lake has (or whose shape is fixed), in table order."""
    existing = lake_tables(con)
    return {
        name: described_columns(con, table, existing)
        for name, table in sorted(TABLES.items())
        if name != DICTIONARY_TABLE and (table.columns or name in existing)
    }


def dictionary_rows(
    columns: dict[str, list[tuple[str, str]]], meanings: dict[str, TableMeaning]
) -> list[tuple]:
    """Rows of meta.columns: table, its description, column, position, type and meaning (NULL if unknown)."""
    rows = []
    for table, cols in columns.items():
        meaning = meanings.get(table, TableMeaning("", {}))
        for ordinal, (column, data_type) in enumerate(cols, start=1):
            rows.append((table, meaning.description, column, ordinal, data_type, meaning.columns.get(column)))
    own = meanings.get(DICTIONARY_TABLE, TableMeaning("", {}))
    for ordinal, (column, data_type) in enumerate(COLUMNS.items(), start=1):
        rows.append((DICTIONARY_TABLE, own.description, column, ordinal, data_type, own.columns.get(column)))
    return rows


def write_dictionary(con: duckdb.DuckDBPyConnection) -> int:
    """Replace meta.columns with the tables in the lake; returns the number of columns described."""
    rows = dictionary_rows(table_columns(con), suite_meanings())
    columns = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE __dictionary ({columns})")
    con.executemany(f"INSERT INTO __dictionary VALUES ({', '.join('?' for _ in COLUMNS)})", rows)
    replace_table(con, DICTIONARY_TABLE, "SELECT * FROM __dictionary ORDER BY table_name, ordinal")
    con.execute("DROP TABLE __dictionary")
    return len(rows)


def dictionary_markdown(rows: list[tuple]) -> str:
    """docs/DATA_DICTIONARY.md from the rows of meta.columns."""
    lines = [
        "# Data dictionary",
        "",
        "Every table and column of the published warehouse, with its meaning and unit. Generated from the",
        "table declarations (`data_contracts/tables/<table>.yaml` and the SQL marts'",
        "`warehouse/sql/<schema>/<mart>.yaml`: `description` and `columns`) and the",
        "tables of a published demo warehouse by `computeflow dictionary`; the same rows are in the warehouse",
        "as `meta.columns`. Money is CNY unless a column says otherwise; timestamps are UTC; dates are",
        "Asia/Shanghai days.",
        "",
    ]
    tables: dict[str, list[tuple]] = {}
    for row in rows:
        tables.setdefault(row[0], []).append(row)
    lines += [f"- [{t}](#{t.replace('.', '')})" for t in tables]
    for table, cols in tables.items():
        lines += ["", f"## {table}", "", cols[0][1] or "", "", "| column | type | meaning |", "|---|---|---|"]
        for _, _, column, _, data_type, meaning in sorted(cols, key=lambda r: r[3]):
            text = (meaning or "").replace("|", "\\|")
            lines.append(f"| `{column}` | {data_type} | {text} |")
    return "\n".join(lines) + "\n"
