"""A SQL mart is declared once, by its query and the YAML beside it: what it reads comes from the SQL, its code
version from both files, its contract and column meanings from the YAML; a bad declaration names its file."""

import shutil
from pathlib import Path

import pytest

from assets.contracts.suites import suite_document, suite_paths
from assets.marts.declarations import SQL_DIR, load_mart, sql_marts
from assets.tables import TABLES


def copy_of(name: str, tmp_path: Path) -> Path:
    """A copy of a shipped mart's SQL and YAML in a `marts` folder of tmp_path; the copy's YAML path."""
    folder = tmp_path / "marts"
    folder.mkdir(exist_ok=True)
    for suffix in (".sql", ".yaml"):
        shutil.copy(SQL_DIR / "marts" / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder / f"{name}.yaml"


def test_inputs_are_the_published_tables_the_sql_reads() -> None:
    marts = sql_marts()
    assert marts["marts.chip_mix"].inputs == ("core.compute_usage",)
    assert marts["marts.utilization_daily"].inputs == (
        "marts.capacity_demand_daily",
        "marts.capacity_supply_daily",
    )
    for mart in marts.values():
        assert set(mart.deps) <= set(TABLES), mart.table
        assert all(
            mart.table not in other.inputs for other in list(marts.values())[: list(marts).index(mart.table)]
        )


def test_the_code_version_follows_the_sql_and_the_yaml(tmp_path: Path) -> None:
    path = copy_of("chip_mix", tmp_path)
    first = load_mart(path).code_version
    assert load_mart(path).code_version == first
    path.with_suffix(".sql").write_text(path.with_suffix(".sql").read_text() + "\n-- a comment\n")
    second = load_mart(path).code_version
    path.write_text(path.read_text().replace("Daily GPU-hours", "Daily GPU hours"))
    assert len({first, second, load_mart(path).code_version}) == 3


def test_the_suite_is_derived_from_the_declaration() -> None:
    mart = sql_marts()["marts.chip_mix"]
    suite = suite_document(suite_paths()["marts.chip_mix"])
    kinds = [(e["type"], e["kwargs"]) for e in suite["expectations"]]
    assert ("expect_table_columns_to_match_ordered_list", {"column_list": list(mart.columns)}) in kinds
    assert ("expect_compound_columns_to_be_unique", {"column_list": list(mart.row_id)}) in kinds
    required = {k["column"] for t, k in kinds if t == "expect_column_values_to_not_be_null"}
    assert required == {c for c, column in mart.columns.items() if column.required} and required
    assert suite["meta"]["columns"]["gpu_hours"] == "accelerator time (GPU-hours)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("domain: capacity\n", ""), "needs domain, description and columns"),
        (lambda t: t.replace("key: usage_date", "key: usage_day"), r"does not declare: \['usage_day'\]"),
        (
            lambda t: t.replace("  gpu_hours: {type: DOUBLE,", "  gpu_hours: {kind: DOUBLE,"),
            "column 'gpu_hours'",
        ),
        (lambda t: t + "owner: nobody\n", "unknown fields: \\['owner'\\]"),
    ],
)
def test_a_bad_declaration_names_its_file(tmp_path: Path, change, message: str) -> None:
    path = copy_of("chip_mix", tmp_path)
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        load_mart(path)
    assert str(path) in str(error.value)


def test_a_declaration_without_its_query_is_refused(tmp_path: Path) -> None:
    path = copy_of("chip_mix", tmp_path)
    path.with_suffix(".sql").unlink()
    with pytest.raises(ValueError, match=r"no query chip_mix\.sql beside it"):
        load_mart(path)


def test_the_contract_fails_a_mart_whose_columns_differ_from_its_declaration(lake) -> None:
    from assets.contracts.validation import load_suite, validate
    from tests.conftest import lake_connection

    suite = load_suite(suite_paths()["marts.queue_wait"])
    with lake_connection(lake) as con:  # creates the declared (empty) mart
        assert validate(con, suite).passed
        con.execute("ALTER TABLE lake.marts.queue_wait ADD COLUMN surprise INTEGER")
        outcome = validate(con, suite)
    declared = list(sql_marts()["marts.queue_wait"].columns)
    assert [o.expectation for o in outcome.failed] == [
        f"expect_table_columns_to_match_ordered_list({declared})"
    ]
