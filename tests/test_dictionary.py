"""The data dictionary: every published column has a meaning, meta.columns describes the whole warehouse, and
docs/DATA_DICTIONARY.md is what `computeflow dictionary` writes for the demo warehouse."""

import pytest
from click.testing import CliRunner

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


def test_every_sql_mart_has_the_columns_and_types_its_yaml_declares(demo: Deployment) -> None:
    for table, mart in sql_marts().items():
        schema, name = table.split(".")
        found = demo.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = 'lake' AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        )
        assert found == [(c, column.type) for c, column in mart.columns.items()], table
