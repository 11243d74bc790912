"""The SQL marts, each declared once: its query `warehouse/sql/<schema>/<name>.sql` and, beside it, `<name>.yaml`
with its domain, description, refresh grain, columns (type, meaning, unit, required) and contract.

Everything else is derived from these two files: the tables a mart reads (parsed from its SQL with sqlglot), its
Dagster code version (a digest of both files), its Great Expectations suite (the column list, a not-null
expectation per required column, the unique grain and the YAML's own expectations), its data-dictionary
meanings and its Dagster column schema.
"""

import hashlib
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import sqlglot
from sqlglot import exp

from assets.contracts.declared import Declared, expectation, read_declaration
from warehouse.settings import REPO_ROOT

SQL_DIR = REPO_ROOT / "warehouse" / "sql"
MART_SCHEMAS = ("marts", "exports")
_FIELDS = {"domain", "description", "key", "local", "view", "also_reads", "columns", "row_id", "expectations"}


@dataclass(frozen=True, kw_only=True)
class Mart(Declared):
    """A mart declared by `<schema>/<name>.sql` and `<schema>/<name>.yaml`."""

    domain: str
    view: bool = False  # a DuckLake view over its inputs: computed when read, nothing written on a refresh
    # The column whose values group the rows (a day, a month, a dataset): a refresh rewrites only the groups
    # whose rows changed, so that what it writes follows what changed, not the length of history.
    key: str = ""
    # For a mart whose rows of one key come from core.compute_usage's charge lines with that value in this
    # column alone: a refresh computes only the keys whose charge lines changed (DuckLake's change feed).
    local: str = ""
    # Tables its readers need besides those of its query (the FOCUS export and check read meta.sources).
    also_reads: tuple[str, ...] = ()
    folder: Path = SQL_DIR / "marts"  # where its two files are (warehouse/sql/<schema>)
    ordered: bool = True  # a mart is written whole by its query, its columns in the declared order

    @property
    def sql_path(self) -> Path:
        """The file of the mart's query."""
        return self.folder / f"{self.name}.sql"

    @property
    def yaml_path(self) -> Path:
        """The file of the mart's declaration."""
        return self.sql_path.with_suffix(".yaml")

    @cached_property
    def sql(self) -> str:
        """The mart's query (its inputs named like core_compute_usage)."""
        return self.sql_path.read_text(encoding="utf-8")

    @cached_property
    def inputs(self) -> tuple[str, ...]:
        """The published tables the query reads, from its SQL: `core_compute_usage` is core.compute_usage."""
        tree = sqlglot.parse_one(self.sql, read="duckdb")
        ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
        names = {t.name for t in tree.find_all(exp.Table) if t.name and not t.db} - ctes
        return tuple(sorted(n.replace("_", ".", 1) for n in names if n.split("_")[0] in _SCHEMAS))

    @property
    def deps(self) -> tuple[str, ...]:
        """The tables the mart's asset runs after: those its query reads and `also_reads`."""
        return tuple(sorted({*self.inputs, *self.also_reads}))

    @cached_property
    def code_version(self) -> str:
        """A digest of the mart's query and declaration: a change to either rebuilds the mart."""
        digest = hashlib.sha1(self.sql_path.read_bytes() + b"\0" + self.yaml_path.read_bytes())
        return digest.hexdigest()[:16]

    def view_sql(self) -> str:
        """The query with its inputs named as the lake names them (core.compute_usage), for a view."""
        query = self.sql
        for name in sorted(self.inputs, key=len, reverse=True):
            query = re.sub(rf"\b{name.replace('.', '_')}\b", name, query)
        return query

    def grain_expectations(self) -> list[dict]:
        """One row per row id: the mart's grain."""
        if not self.row_id:
            return []
        if len(self.row_id) == 1:
            column = self.row_id[0]
            return [expectation("expect_column_values_to_be_unique", {"column": column}, f"{column}: unique")]
        return [
            expectation(
                "expect_compound_columns_to_be_unique",
                {"column_list": list(self.row_id)},
                f"one row per {', '.join(self.row_id)}",
            )
        ]


_SCHEMAS = ("core", "ref", "marts", "meta", "audit", "exports")


def load_mart(path: Path) -> Mart:
    """The mart declared by a YAML file (beside its SQL); a wrong or missing field names the file."""
    document, columns = read_declaration(path, _FIELDS)
    if "domain" not in document:
        raise ValueError(f"{path}: needs domain, description and columns")
    if not path.with_suffix(".sql").is_file():
        raise ValueError(f"{path}: no query {path.with_suffix('.sql').name} beside it")
    key = document.get("key", "")
    if key and key not in columns:
        raise ValueError(f"{path}: key names columns it does not declare: {[key]}")
    return Mart(
        schema=path.parent.name,
        name=path.stem,
        domain=document["domain"],
        description=document["description"],
        columns=columns,
        row_id=tuple(document.get("row_id", ())),
        expectations=tuple(document.get("expectations", ())),
        view=bool(document.get("view", False)),
        key=key,
        local=document.get("local", ""),
        also_reads=tuple(document.get("also_reads", ())),
        folder=path.parent,
    )


@cache
def sql_marts() -> dict[str, Mart]:
    """Every declared SQL mart by table name, in dependency order (a mart after the marts it reads)."""
    marts = {
        m.table: m
        for schema in MART_SCHEMAS
        for m in map(load_mart, sorted((SQL_DIR / schema).glob("*.yaml")))
    }
    ordered: dict[str, Mart] = {}

    def visit(table: str) -> None:
        if table in ordered:
            return
        for name in marts[table].inputs:
            if name in marts and name != table:
                visit(name)
        ordered[table] = marts[table]

    for table in sorted(marts):
        visit(table)
    return ordered


def marts_of(domain: str) -> list[Mart]:
    """The SQL marts of one domain."""
    return [m for m in sql_marts().values() if m.domain == domain]
