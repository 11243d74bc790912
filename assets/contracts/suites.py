"""Where the contract suites live and what they say, readable without importing Great Expectations: a JSON suite
per table in data_contracts/expectations, and for a SQL mart the suite its YAML declaration derives."""

import json
from pathlib import Path

from assets.marts.declarations import load_mart, sql_marts
from assets.tables import TABLES
from warehouse.settings import REPO_ROOT

SUITES_DIR = REPO_ROOT / "data_contracts" / "expectations"


def suite_paths(directory: Path = SUITES_DIR) -> dict[str, Path]:
    """The file that holds each table's contract, by table name: `<schema>.<table>.json` in `directory`, or a
    SQL mart's YAML declaration."""
    paths = {p.stem: p for p in sorted(directory.glob("*.json"))}
    marts = {table: mart.yaml_path for table, mart in sql_marts().items()}
    twice = sorted(set(paths) & set(marts))
    if twice:
        raise ValueError(f"{directory}: suites for marts whose YAML declares their contract: {twice}")
    return dict(sorted({**paths, **marts}.items()))


def suite_document(path: Path) -> dict:
    """The suite a file holds (a SQL mart's YAML: the suite it derives); a suite for a table the warehouse does
    not have names the file."""
    if path.suffix == ".yaml":
        declared = {m.yaml_path: m for m in sql_marts().values()}
        return (declared.get(path) or load_mart(path)).suite()
    document = json.loads(path.read_text(encoding="utf-8"))
    table = TABLES.get(path.stem)
    if table is None:
        raise ValueError(f"{path}: no warehouse table {path.stem!r} (known: {', '.join(sorted(TABLES))})")
    if table.columns:  # the column list comes from the table's definition, as its lake schema does
        document["expectations"] = [_column_set(list(table.columns)), *document.get("expectations", [])]
    return document


def _column_set(columns: list[str]) -> dict:
    return {
        "type": "expect_table_columns_to_match_set",
        "kwargs": {"column_set": columns, "exact_match": True},
        "meta": {"why": "the columns its definition in assets/tables.py gives"},
        "severity": "critical",
    }
