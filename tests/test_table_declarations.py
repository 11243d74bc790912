"""Every table that is not a SQL mart is declared once, in data_contracts/tables: its lake schema, its suite and
the types the engines write come from its declaration; a bad one names its file."""

from pathlib import Path

import pyarrow as pa
import pytest

from assets.contracts.declared import TABLES_DIR, declared, declared_tables, load_declared
from assets.contracts.suites import suite_document
from assets.ingest.enrich import DERIVED
from assets.ingest.ledger import LEDGER_SCHEMA
from assets.ingest.targets import TARGETS
from assets.marts.declarations import sql_marts
from assets.reference.tables import REF_TABLES
from assets.tables import TABLES, kind_columns


def test_every_table_is_declared_once() -> None:
    tables, marts = set(declared_tables()), set(sql_marts())
    assert tables.isdisjoint(marts)
    assert set(TABLES) == tables | marts
    for name, table in TABLES.items():
        source = declared_tables().get(name) or sql_marts()[name]
        assert table.columns == source.types, name


def test_the_engines_write_the_declared_types() -> None:
    for kind, target in TARGETS.items():
        published = declared(target.table).types
        assert set(kind_columns(kind).items()) <= set(published.items()), kind
        assert set(DERIVED[kind].items()) <= set(published.items()), kind
    assert LEDGER_SCHEMA.names == list(declared("audit.ingest_ledger").columns)
    assert LEDGER_SCHEMA.field("money_loaded").type == pa.decimal128(18, 4)
    for ref in REF_TABLES.values():
        assert ref.columns == declared(f"ref.{ref.name}").types
        assert ref.key == declared(f"ref.{ref.name}").row_id


def test_the_suite_comes_from_the_declaration() -> None:
    """(Dagster's column schema and meta.columns: tests/test_table_metadata.py, on a refreshed demo.)"""
    table = declared("core.vouchers")
    suite = suite_document(TABLES_DIR / "core.vouchers.yaml")
    assert suite["expectations"][0]["kwargs"]["column_set"] == list(table.columns)
    assert suite["meta"]["columns"] == {c: column.described for c, column in table.columns.items()}
    assert suite["meta"]["row_id"] == ["voucher_id"]
    assert [e["meta"]["why"] for e in suite["expectations"][1:]] == [e["why"] for e in table.expectations]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.replace("{type: VARCHAR, meaning: accelerator vendor}", "{type: VARCHAR}"),
            "column 'vendor' needs a type and a meaning",
        ),
        (lambda t: t + "owner: nobody\n", r"unknown fields: \['owner'\]"),
        (lambda t: t.replace("- chip_model\ncolumns:", "- chip\ncolumns:"), r"does not declare: \['chip'\]"),
        (
            lambda t: t.replace("  why: card memory in GB", "  reason: card memory in GB"),
            "expectations need only",
        ),
    ],
)
def test_a_bad_declaration_names_its_file(tmp_path: Path, change, message: str) -> None:
    path = tmp_path / "ref.chips.yaml"
    path.write_text(change((TABLES_DIR / "ref.chips.yaml").read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        load_declared(path)
    assert str(path) in str(error.value)
