"""Great Expectations contracts: every table has a suite, the demo keeps them, and a broken one blocks publish."""

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import great_expectations as gx
import pytest

from assets.contracts.checks import failures_markdown
from assets.contracts.suites import suite_paths
from assets.contracts.validation import Scope, create_table_views, load_suite, validate
from assets.resources import Lakehouse
from assets.tables import TABLES
from tests.conftest import Deployment, lake_connection
from warehouse.introspect import current_snapshot


def test_every_core_ref_and_mart_table_has_a_loadable_suite() -> None:
    published = {t for t in TABLES if t.split(".")[0] in ("core", "ref", "marts")}
    assert published <= set(suite_paths())
    for table, path in suite_paths().items():
        suite = load_suite(path)
        assert suite.expectations and suite.meta["table"] == table


def test_a_suite_for_an_unknown_table_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "core.nothing.yaml"
    bad.write_text(
        "description: nothing\ncolumns:\n  id: {type: VARCHAR, meaning: an id}\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"core\.nothing\.yaml: no warehouse table"):
        load_suite(bad)


def test_the_demo_keeps_every_contract(demo: Deployment) -> None:
    with demo.environment():
        lakehouse = Lakehouse.from_settings(demo.settings)
        for table, path in suite_paths().items():
            with lakehouse.connect() as con:
                outcome = validate(con, load_suite(path))
            assert outcome.failed == [], (table, failures_markdown(outcome))
            assert all(o.error is None for o in outcome.outcomes), table


def test_a_broken_contract_blocks_downstream_and_the_publish(refreshed: Deployment) -> None:
    downstream = refreshed.query("SELECT count(*), sum(issued_cny) FROM marts.voucher_balances")
    ledger = next(Path(refreshed.settings.landing_url, "vouchers").glob("voucher_ledger*.csv"))
    lines = ledger.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("coverage_ratio")] = "1.5"  # loads (no ingest rule covers it) but breaks the contract
    lines[1] = ",".join(row)
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")

    outcome = refreshed.refresh()

    assert not outcome.success
    assert any("contract" in f for f in outcome.failures), outcome.failures
    # core.vouchers committed the row; the check failed on it, so nothing that reads vouchers was rebuilt
    assert refreshed.query("SELECT max(coverage_ratio) FROM core.vouchers") == [(1.5,)]
    assert refreshed.query("SELECT count(*), sum(issued_cny) FROM marts.voucher_balances") == downstream
    check = dg.AssetCheckKey(dg.AssetKey(["core", "vouchers"]), "contract")
    record = refreshed.instance.event_log_storage.get_asset_check_execution_history(check, limit=1)[0]
    evaluation = record.event.dagster_event.event_specific_data
    assert not evaluation.passed
    report = evaluation.metadata["failed_expectations"].value
    assert "expect_column_values_to_be_between(coverage_ratio)" in report and row[0] in report
    run = refreshed.instance.get_run_by_id(outcome.run_id)
    skipped = refreshed.instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.STEP_SKIPPED
    ).records
    assert any(r.event_log_entry.step_key == "warehouse" for r in skipped) or not any(
        r.event_log_entry.step_key == "warehouse"
        for r in refreshed.instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS
        ).records
    )


def test_a_day_partitioned_contract_runs_on_the_days_of_the_run(demo: Deployment) -> None:
    day = "2025-08-03"
    suite = load_suite(suite_paths()["core.compute_usage"])
    with demo.environment():
        lakehouse = Lakehouse.from_settings(demo.settings)
        with lakehouse.read() as con:
            outcome = validate(con, suite, Scope(days=(day, day)))
            create_table_views(con, {"audit.ingest_ledger", "ref.chips"}, Scope(days=(day, day)))
            ledger_days = con.execute("SELECT DISTINCT partition_key FROM audit_ingest_ledger").fetchall()
            chips = con.execute("SELECT count(*) FROM lake.ref.chips").fetchone()[0]
            all_chips = con.execute("SELECT count(*) FROM lake.ref.chips").fetchone()[0]
    assert outcome.failed == [], failures_markdown(outcome)
    assert ledger_days == [(day,)]  # the tables it reconciles with hold the same days
    assert chips == all_chips > 0  # a table without day partitions is whole


def mart_of_values(con: duckdb.DuckDBPyConnection, table: str, rows: str, columns: str) -> None:
    """A lake table marts.<table> of the `rows` of a VALUES list, with these `columns` (names)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS lake.marts")
    con.execute(f"CREATE OR REPLACE TABLE lake.marts.{table} AS SELECT * FROM (VALUES {rows}) t({columns})")


def test_every_contract_forbids_nan_and_infinity(lake) -> None:
    with lake_connection(lake) as con:
        mart_of_values(
            con,
            "voucher_balances",
            "('2025-08-01', 1.5), ('2025-08-02', 'NaN'::DOUBLE), ('2025-08-03', 'inf'::DOUBLE)",
            "day, gpu_hours",
        )
        suite = gx.ExpectationSuite(name="t", meta={"table": "marts.voucher_balances"}, expectations=[])
        outcome = validate(con, suite)
    (failed,) = outcome.failed
    assert not outcome.passed and "no NaN or infinity in gpu_hours" in failed.why
    assert sorted(s["day"] for s in failed.samples) == ["2025-08-02", "2025-08-03"]


def test_a_failed_row_query_samples_the_row_id_and_the_columns_its_condition_names(lake) -> None:
    """Of a table with a row id, a `SELECT * ... WHERE` row query returns the id and the tested columns (its scan
    reads no other column); a query of another shape returns what it selects."""
    with lake_connection(lake) as con:
        mart_of_values(
            con,
            "voucher_balances",
            "('V1', 5.0::DOUBLE, 'fine'), ('V2', -1.5::DOUBLE, 'overdrawn')",
            "voucher_id, balance, note",
        )
        rows = "SELECT * FROM {batch} WHERE balance < 0"
        suite = gx.ExpectationSuite(
            name="t",
            meta={"table": "marts.voucher_balances", "row_id": ["voucher_id"]},
            expectations=[
                gx.expectations.UnexpectedRowsExpectation(
                    unexpected_rows_query=rows, meta={"why": "narrowed"}
                ),
                gx.expectations.UnexpectedRowsExpectation(
                    unexpected_rows_query="SELECT note FROM {batch} WHERE balance < 0",
                    meta={"why": "as written"},
                ),
            ],
        )
        outcome = validate(con, suite)
    samples = {o.why: o.samples for o in outcome.failed}
    assert samples == {
        "narrowed": [{"voucher_id": "V2", "balance": -1.5}],
        "as written": [{"note": "overdrawn"}],
    }


def test_a_fixed_shape_tables_column_list_comes_from_its_declaration(lake) -> None:
    suite = load_suite(suite_paths()["ref.chips"])
    with lake_connection(lake) as con:
        assert validate(con, suite).passed
        con.execute("ALTER TABLE lake.ref.chips ADD COLUMN surprise INTEGER")
        outcome = validate(con, suite)
    assert [(o.expectation, o.why) for o in outcome.failed] == [
        ("expect_table_columns_to_match_set", "the columns the declaration lists")
    ]
    declared = [
        e.column_set for e in suite.expectations if e.expectation_type == "expect_table_columns_to_match_set"
    ]
    assert declared == [list(TABLES["ref.chips"].columns)]


def unattributed_without_a_line_id(con: duckdb.DuckDBPyConnection) -> None:
    """marts.subsidy_unattributed of two days: a row without a charge line id on the first, a good one after."""
    mart_of_values(
        con,
        "subsidy_unattributed",
        "(DATE '2025-08-01', NULL), (DATE '2025-08-02', 'L2')",
        "charge_date, charge_line_id",
    )


def test_a_contract_scoped_to_charge_dates_validates_their_rows_only(lake) -> None:
    with lake_connection(lake) as con:
        unattributed_without_a_line_id(con)
        suite = gx.ExpectationSuite(
            name="scoped",
            meta={"table": "marts.subsidy_unattributed"},
            expectations=[gx.expectations.ExpectColumnValuesToNotBeNull(column="charge_line_id")],
        )
        whole = validate(con, suite)
        broken_day = validate(con, suite, Scope(dates=frozenset({dt.date(2025, 8, 1)})))
        other_day = validate(con, suite, Scope(dates=frozenset({dt.date(2025, 8, 2)})))
        no_day = validate(con, suite, Scope(dates=frozenset()))
    assert not whole.passed and not broken_day.passed
    assert other_day.passed and no_day.passed


def test_a_contract_since_a_snapshot_judges_the_inserted_rows_and_every_row_across_rows(lake) -> None:
    """Rules on a row's own values run on the rows inserted since the snapshot; rules across rows (a unique key)
    on every row."""
    suite = gx.ExpectationSuite(
        name="since",
        meta={"table": "marts.subsidy_unattributed"},
        expectations=[
            gx.expectations.ExpectColumnValuesToNotBeNull(column="charge_line_id"),
            gx.expectations.ExpectColumnValuesToBeUnique(column="charge_line_id"),
        ],
    )
    with lake_connection(lake) as con:
        unattributed_without_a_line_id(con)
        since = current_snapshot(con)
        con.execute("INSERT INTO lake.marts.subsidy_unattributed VALUES (DATE '2025-08-03', 'L3')")
        new_rows = validate(con, suite, Scope(since=since))
        con.execute("INSERT INTO lake.marts.subsidy_unattributed VALUES (DATE '2025-08-04', 'L2')")
        repeated = validate(con, suite, Scope(since=since))
        whole = validate(con, suite)
    assert new_rows.passed and new_rows.validated.startswith("the 1 row(s) inserted since lake snapshot")
    assert [o.expectation for o in repeated.failed] == ["expect_column_values_to_be_unique(charge_line_id)"]
    assert {o.expectation for o in whole.failed} == {
        "expect_column_values_to_not_be_null(charge_line_id)",
        "expect_column_values_to_be_unique(charge_line_id)",
    }
    assert whole.validated == "every row"
