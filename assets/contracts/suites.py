"""Where the contract suites come from, readable without importing Great Expectations: every table's suite is
derived from its declaration (data_contracts/tables/<schema>.<table>.yaml, or a SQL mart's YAML)."""

from pathlib import Path

from assets.contracts.declared import TABLES_DIR, declared_tables, load_declared
from assets.marts.declarations import MART_SCHEMAS, load_mart, sql_marts
from assets.tables import TABLES


def suite_paths(directory: Path = TABLES_DIR) -> dict[str, Path]:
    """The file that declares each table's contract, by table name: `<schema>.<table>.yaml` in `directory`, or a
    SQL mart's YAML declaration."""
    paths = {p.stem: p for p in sorted(directory.glob("*.yaml"))}
    marts = {table: mart.yaml_path for table, mart in sql_marts().items()}
    twice = sorted(set(paths) & set(marts))
    if twice:
        raise ValueError(f"{directory}: declarations of marts that their SQL's YAML declares: {twice}")
    return dict(sorted({**paths, **marts}.items()))


def suite_document(path: Path) -> dict:
    """The suite a declaration derives; one for a table the warehouse does not have names the file."""
    if path.parent.name in MART_SCHEMAS and path.with_suffix(".sql").is_file():
        declared = {m.yaml_path: m for m in sql_marts().values()}
        return (declared.get(path) or load_mart(path)).suite()
    if path.stem not in TABLES:
        raise ValueError(f"{path}: no warehouse table {path.stem!r} (known: {', '.join(sorted(TABLES))})")
    shipped = declared_tables().get(path.stem) if path.parent == TABLES_DIR else None
    return (shipped or load_declared(path)).suite()
