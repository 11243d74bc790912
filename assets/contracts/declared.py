"""Tables declared once, in YAML: each column's type and meaning (with its unit), the table's description, its row
id and its contract.

A table that a Python asset writes is declared by `data_contracts/tables/<schema>.<table>.yaml`; a SQL mart by
the YAML beside its query (assets.marts.declarations, which builds on the same shape). From a declaration come
the lake schema (assets.tables), the Great Expectations suite (its column list and expectations), Dagster's column
schema and the data dictionary (`meta.columns`); the engines take their columns' types from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from warehouse.settings import CONTRACTS_DIR

TABLES_DIR = CONTRACTS_DIR / "tables"
COLUMN_FIELDS = {"type", "meaning", "unit", "required"}
EXPECTATION_FIELDS = {"type", "kwargs", "why", "severity"}


@dataclass(frozen=True)
class Column:
    """A column as its declaration gives it."""

    type: str
    meaning: str
    unit: str = ""
    required: bool = False

    @property
    def described(self) -> str:
        """The meaning with its unit, as the data dictionary shows it."""
        return f"{self.meaning} ({self.unit})" if self.unit else self.meaning


@dataclass(frozen=True, kw_only=True)
class Declared:
    """A table declared in YAML: columns, description, row id and contract."""

    schema: str
    name: str
    description: str
    columns: dict[str, Column]
    row_id: tuple[str, ...] = ()
    expectations: tuple[dict, ...] = ()
    # The suite holds the lake's columns to the declared order (a table written whole by its query), or only to
    # the declared set (a table that gains columns in place: a lake written by an older version appends them).
    ordered: bool = False

    @property
    def table(self) -> str:
        """The published table, `<schema>.<name>`."""
        return f"{self.schema}.{self.name}"

    @property
    def types(self) -> dict[str, str]:
        """Each column's SQL type, in the declared order."""
        return {c: column.type for c, column in self.columns.items()}

    def typed(self, *names: str) -> dict[str, str]:
        """The SQL types of some of the columns, in the order named."""
        return {name: self.columns[name].type for name in names}

    def derived_expectations(self) -> list[dict]:
        """The expectations the declaration implies: its columns, and a not-null per required column."""
        if self.ordered:
            columns = expectation(
                "expect_table_columns_to_match_ordered_list",
                {"column_list": list(self.columns)},
                "the columns the declaration lists, in its order",
            )
        else:
            columns = expectation(
                "expect_table_columns_to_match_set",
                {"column_set": list(self.columns), "exact_match": True},
                "the columns the declaration lists",
            )
        return [columns, *self.grain_expectations()] + [
            expectation("expect_column_values_to_not_be_null", {"column": c}, f"{c}: required")
            for c, column in self.columns.items()
            if column.required
        ]

    def grain_expectations(self) -> list[dict]:
        """Expectations on the row id that the declaration implies (a table's own YAML states them itself)."""
        return []

    def suite(self) -> dict:
        """The table's Great Expectations suite document, derived from its declaration."""
        return {
            "name": self.table,
            "meta": {
                "table": self.table,
                "row_id": list(self.row_id),
                "description": self.description,
                "columns": {c: column.described for c, column in self.columns.items()},
            },
            "expectations": self.derived_expectations() + [_declared(e) for e in self.expectations],
        }


def expectation(kind: str, kwargs: dict, why: str, severity: str = "critical") -> dict:
    """A Great Expectations expectation in the suite's JSON form, with why it exists."""
    return {"type": kind, "kwargs": kwargs, "meta": {"why": why}, "severity": severity}


def _declared(item: dict) -> dict:
    """A GX expectation from the YAML's short form: type, kwargs, why and (default critical) severity."""
    return expectation(
        item["type"], dict(item.get("kwargs", {})), item.get("why", ""), item.get("severity", "critical")
    )


def read_declaration(path: Path, fields: set[str]) -> tuple[dict, dict[str, Column]]:
    """The YAML document of a declaration and its columns; a wrong or missing field names the file."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(document) - fields
    if unknown or not {"description", "columns"} <= set(document):
        raise ValueError(f"{path}: needs description and columns; unknown fields: {sorted(unknown)}")
    columns = {}
    for name, field in document["columns"].items():
        if not isinstance(field, dict) or set(field) - COLUMN_FIELDS or not {"type", "meaning"} <= set(field):
            raise ValueError(
                f"{path}: column {name!r} needs a type and a meaning, and only {sorted(COLUMN_FIELDS)}"
            )
        columns[name] = Column(**field)
    expectations = document.get("expectations", ())
    wrong = [e for e in expectations if not isinstance(e, dict) or set(e) - EXPECTATION_FIELDS]
    missing = [c for c in document.get("row_id", ()) if c not in columns]
    if wrong or missing:
        raise ValueError(
            f"{path}: row_id names columns it does not declare: {missing}; "
            f"expectations need only type, kwargs, why and severity: {wrong}"
        )
    return document, columns


def load_declared(path: Path) -> Declared:
    """The table a `<schema>.<table>.yaml` file declares."""
    document, columns = read_declaration(path, {"description", "columns", "row_id", "expectations"})
    schema, _, name = path.stem.partition(".")
    return Declared(
        schema=schema,
        name=name,
        description=document["description"],
        columns=columns,
        row_id=tuple(document.get("row_id", ())),
        expectations=tuple(document.get("expectations", ())),
    )


@cache
def declared_tables() -> dict[str, Declared]:
    """Every table declared in data_contracts/tables, by name."""
    return {d.table: d for d in map(load_declared, sorted(TABLES_DIR.glob("*.yaml")))}


def declared(table: str) -> Declared:
    """The declaration of one table of data_contracts/tables."""
    return declared_tables()[table]
