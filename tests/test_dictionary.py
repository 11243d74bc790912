"""The data dictionary: every published column has a meaning, meta.columns describes the whole warehouse, and
docs/DATA_DICTIONARY.md is what `computeflow dictionary` writes for the demo warehouse."""

import duckdb
import pytest
from click.testing import CliRunner

from assets.contracts.declared import declared_tables
from assets.marts.declarations import sql_marts
from pipelines.cli import main
from tests.conftest import Deployment
from warehouse.settings import REPO_ROOT

pytestmark = pytest.mark.slow  # reads the refreshed demo

PUBLISHED = """
    SELECT table_schema || '.' || table_name AS t, column_name, ordinal_position
    FROM information_schema.columns
    WHERE table_schema IN ('core', 'ref', 'audit', 'marts', 'exports', 'meta')
"""


def test_every_published_column_has_a_meaning(demo: Deployment) -> None:
    unexplained = demo.query(
        f"SELECT p.t, p.column_name FROM ({PUBLISHED}) p LEFT JOIN meta.columns m "
        "ON m.table_name = p.t AND m.column_name = p.column_name "
        "WHERE m.meaning IS NULL OR trim(m.meaning) = '' ORDER BY ALL"
    )
    assert unexplained == []


def test_meta_columns_lists_exactly_the_published_columns(demo: Deployment) -> None:
    published = set(demo.query(f"SELECT t, column_name, ordinal_position FROM ({PUBLISHED})"))
    described = set(demo.query("SELECT table_name, column_name, ordinal FROM meta.columns"))
    assert described == published
    assert all(d for (d,) in demo.query("SELECT DISTINCT table_description FROM meta.columns"))


def test_the_committed_dictionary_is_current(demo: Deployment) -> None:
    with demo.environment():
        result = CliRunner().invoke(main, ["dictionary"])
    assert result.exit_code == 0, result.output
    committed = (REPO_ROOT / "docs" / "DATA_DICTIONARY.md").read_text(encoding="utf-8")
    assert result.output == committed, (
        "regenerate it: computeflow dictionary --output docs/DATA_DICTIONARY.md"
    )


def test_every_table_has_the_columns_and_types_it_declares(demo: Deployment) -> None:
    declarations = {**declared_tables(), **sql_marts()}
    found = demo.query(
        "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = 'lake' ORDER BY table_schema, table_name, ordinal_position"
    )
    lake: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in found:
        lake.setdefault(table, []).append((column, data_type))
    with duckdb.connect() as con:  # the declared types as DuckDB names them
        named = {
            t: con.execute(f"DESCRIBE SELECT CAST(NULL AS {t}) AS c").fetchone()[1]
            for d in declarations.values()
            for t in d.types.values()
        }
    assert set(declarations) <= set(lake)
    for table, declaration in declarations.items():
        expected = [(c, named[t]) for c, t in declaration.types.items()]
        if declaration.ordered:  # a mart written whole by its query: the declared order too
            assert lake[table] == expected, table
        else:
            assert sorted(lake[table]) == sorted(expected), table
