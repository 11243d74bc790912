"""The FOCUS 1.2 export: every requirement of assets/exports/focus_rules.py holds on the demo's export (written
by `computeflow export focus` as Parquet and as CSV), each requirement catches a row or column that breaks it,
and the specification's own sample bills come back through ingest and export with their values and without a
violation the original file did not have."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from assets.exports.focus_requirement import DATETIME_TEXT, Requirement
from assets.exports.focus_rules import carried_columns, check, csv_scan, requirements
from assets.exports.focus_vocabulary import focus_columns
from assets.ingest.units import focus_unit_sql
from pipelines.cli import main
from tests.conftest import Deployment
from warehouse.ducklake import connect_reader
from warehouse.lake import sql_str
from warehouse.settings import CONTRACTS_DIR

pytestmark = pytest.mark.slow  # exports the refreshed demo

SAMPLES = CONTRACTS_DIR / "samples" / "focus_1_2"
MONEY_TYPES = "{'BilledCost': 'DECIMAL(18,4)', 'x_SubsidyCny': 'DECIMAL(18,4)'}"


def export(demo: Deployment, out: Path, *args: str) -> tuple[int, str]:
    """Run `computeflow export focus` on the demo; its exit code and output."""
    with demo.environment():
        result = CliRunner().invoke(main, ["export", "focus", "--output", str(out), *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def files(demo: Deployment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's export as Parquet and as CSV, each checked by the command itself (`--check`)."""
    out = tmp_path_factory.mktemp("focus")
    paths = {"parquet": out / "focus.parquet", "csv": out / "focus.csv"}
    for fmt, path in paths.items():
        code, output = export(demo, path, "--format", fmt, "--check")
        assert code == 0, output
        assert "requirements met" in output
    return paths


def outcomes_of(relation_sql: str) -> dict[str, int]:
    """Violations per requirement id on a relation built in a fresh connection."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        return {o.requirement.id: o.violations for o in check(con, relation_sql)}


def test_every_requirement_holds_on_the_exported_files(files: dict[str, Path]) -> None:
    with duckdb.connect() as con:
        parquet = check(con, f"read_parquet({sql_str(str(files['parquet']))})")
        text = check(con, csv_scan(con, str(files["csv"])))
    for outcomes in (parquet, text):
        assert [(o.requirement.id, o.violations, o.detail) for o in outcomes if not o.passed] == []
    ids = {o.requirement.id for o in text}
    # The CSV's date/times are text: each is held to the ISO 8601 form; the Parquet file's are UTC timestamps.
    assert {f"{c}.datetime_format" for c in ("BillingPeriodStart", "ChargePeriodEnd")} <= ids
    assert "PricingUnit.unit_format" in ids and "ServiceSubcategory.allowed_values" in ids
    with files["csv"].open(encoding="utf-8", newline="") as handle:
        first = next(csv.DictReader(handle))
    assert duckdb.sql(
        "SELECT regexp_matches(?, ?)", params=[first["ChargePeriodStart"], DATETIME_TEXT]
    ).fetchone()[0]


def test_the_files_hold_the_export_view_and_its_money(demo: Deployment, files: dict[str, Path]) -> None:
    business = "x_SourceName NOT IN (SELECT source_name FROM meta.sources WHERE is_sample)"
    lines, billed, subsidy = demo.query(
        f"SELECT count(*), sum(BilledCost), sum(x_SubsidyCny) FROM exports.focus_cost_and_usage WHERE {business}"
    )[0]
    for scan in (
        f"read_parquet('{files['parquet']}')",
        f"read_csv('{files['csv']}', header = true, types = {MONEY_TYPES})",
    ):
        got = duckdb.sql(f"SELECT count(*), sum(BilledCost), sum(x_SubsidyCny) FROM {scan}").fetchone()
        assert got[0] == lines
        assert Decimal(str(got[1])) == billed and Decimal(str(got[2])) == subsidy
    types = {
        r[0]: r[1]
        for r in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{files['parquet']}')").fetchall()
    }
    assert types["ChargePeriodStart"] == "TIMESTAMP WITH TIME ZONE" and types["BilledCost"].startswith(
        "DECIMAL"
    )
    samples = demo.query("SELECT count(*) FROM exports.focus_cost_and_usage WHERE NOT " + business)[0][0]
    assert samples > 0, "the demo carries reference samples, which the export leaves out unless asked"


def test_export_of_a_span_and_with_samples(demo: Deployment, tmp_path: Path) -> None:
    first, last = demo.query(
        "SELECT min(x_ChargeDate) + 1, min(x_ChargeDate) + 2 FROM exports.focus_cost_and_usage "
        "WHERE x_SourceName = 'volcano_engine'"
    )[0]
    code, output = export(
        demo, tmp_path / "span.csv", "--format", "csv", "--from", str(first), "--to", str(last)
    )
    assert code == 0, output
    expected = demo.query(
        "SELECT count(*) FROM exports.focus_cost_and_usage WHERE x_ChargeDate BETWEEN ? AND ? AND x_SourceName "
        "NOT IN (SELECT source_name FROM meta.sources WHERE is_sample)",
        [first, last],
    )[0][0]
    days = duckdb.sql(f"SELECT count(*), min(x_ChargeDate), max(x_ChargeDate) FROM '{tmp_path / 'span.csv'}'")
    assert days.fetchone() == (expected, first, last)
    code, output = export(demo, tmp_path / "all.parquet", "--samples")
    assert code == 0, output
    total = demo.query("SELECT count(*) FROM exports.focus_cost_and_usage")[0][0]
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'all.parquet'}'").fetchone()[0] == total
    code, output = export(demo, tmp_path / "bad.csv", "--from", str(last), "--to", str(first))
    assert code == 2 and "after" in output and not (tmp_path / "bad.csv").exists()


def _broken(req: Requirement, types: dict[str, str]) -> str:
    """SQL of one exported row changed as the requirement's `breaks` says."""
    replaced = ", ".join(
        f"CAST({'NULL' if v is None else sql_str(str(v))} AS {types[c]}) AS {c}"
        for c, v in req.breaks.items()
    )
    return f"SELECT * REPLACE ({replaced}) FROM focus_rows WHERE ChargeCategory = 'Usage' LIMIT 1"


def _row_requirements(types: dict[str, str]) -> list[Requirement]:
    return [r for r in requirements(types) if r.where is not None]


# The export's FOCUS columns as a CSV file types them (date/times are text there).
CARRIED = {
    c: "DECIMAL(38,10)" if focus_columns()[c].data_type == "Decimal" else "VARCHAR" for c in carried_columns()
}


@pytest.fixture(scope="module")
def rows_db(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CSV export read once into a DuckDB file (table focus_rows), for the tests to read."""
    path = tmp_path_factory.mktemp("rows") / "focus.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE TABLE focus_rows AS SELECT * FROM {csv_scan(con, str(files['csv']))}")
    return path


@pytest.mark.parametrize("req", _row_requirements(CARRIED), ids=lambda r: r.id)
def test_each_row_requirement_catches_a_row_that_breaks_it(req: Requirement, rows_db: Path) -> None:
    assert req.breaks, f"{req.id} names a change that breaks it"
    with duckdb.connect(str(rows_db), read_only=True) as con:
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE focus_rows)").fetchall())
        con.execute(f"CREATE TEMP TABLE broken AS {_broken(req, types)}")
        relation = "(SELECT * FROM focus_rows UNION ALL SELECT * FROM broken)"
        after = {o.requirement.id: o.violations for o in check(con, relation)}
    assert after[req.id] >= 1


COLUMN_BREAKS = {  # a change of the file's columns that each dataset-level requirement must catch
    "BilledCost.present": "SELECT * EXCLUDE (BilledCost) FROM {f}",
    "BilledCost.type": "SELECT * REPLACE (CAST(BilledCost AS VARCHAR) AS BilledCost) FROM {f}",
    "ServiceName.type": "SELECT * REPLACE ([ServiceName] AS ServiceName) FROM {f}",
    "ChargePeriodStart.type": "SELECT * REPLACE (CAST(ChargePeriodStart AS DATE) AS ChargePeriodStart) FROM {f}",
    "InvoiceId.present": "SELECT * EXCLUDE (InvoiceId) FROM {f}",
    "Columns.custom_prefix": "SELECT *, x_TenantId AS Tenant FROM {f}",
    "Columns.custom_last": "SELECT * EXCLUDE (BilledCost), BilledCost FROM {f}",
}


@pytest.mark.parametrize("req_id", sorted(COLUMN_BREAKS))
def test_each_column_requirement_catches_a_file_that_breaks_it(req_id: str, files: dict[str, Path]) -> None:
    scan = f"read_parquet({sql_str(str(files['parquet']))})"
    assert outcomes_of(scan)[req_id] == 0
    assert outcomes_of(f"({COLUMN_BREAKS[req_id].format(f=scan)})")[req_id] >= 1


def test_the_view_carries_every_mandatory_column_with_its_focus_type(demo: Deployment) -> None:
    types = dict(demo.query("SELECT column_name, column_type FROM (DESCRIBE exports.focus_cost_and_usage)"))
    for col in focus_columns().values():
        if col.feature_level == "Mandatory" or col.column_id in ("InvoiceId", "ServiceSubcategory"):
            assert col.column_id in types and col.column_id in carried_columns(), col.column_id
    assert [c for c in types if not c.startswith("x_")] == carried_columns()
    timestamps = {c for c, t in types.items() if t == "TIMESTAMP WITH TIME ZONE"}
    assert timestamps == {c for c in CARRIED if focus_columns()[c].data_type == "Date/Time"}


def _sample_lines(demo: Deployment, name: str) -> list[tuple]:
    """The export's rows of one sample file, summed per bill line (a line over several days is one row a day)."""
    return demo.query(
        "SELECT u.source_row, any_value(f.ChargeCategory), min(f.ChargePeriodStart), max(f.ChargePeriodEnd), "
        "sum(f.BilledCost), sum(f.EffectiveCost), any_value(f.ProviderName), any_value(f.ServiceName), "
        "any_value(f.PricingUnit), any_value(f.ChargeFrequency), any_value(f.BillingAccountName) "
        "FROM exports.focus_cost_and_usage f JOIN core.compute_usage u ON u.charge_line_id = f.x_ChargeLineId "
        "WHERE u.source_name = 'focus_samples' AND u.source_file LIKE ? GROUP BY u.source_row ORDER BY 1",
        [f"%/{name}"],
    )


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.csv")))
def test_a_focus_sample_bill_round_trips_through_ingest_and_export(demo: Deployment, sample: str) -> None:
    path = SAMPLES / sample
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        original = con.execute(
            f"SELECT * FROM read_csv({sql_str(str(path))}, header = true, all_varchar = true)"
        )
        columns = [d[0] for d in original.description]
        rows = [dict(zip(columns, r, strict=True)) for r in original.fetchall()]
        unit = focus_unit_sql("CAST($1 AS VARCHAR)")
        units = [con.execute(f"SELECT {unit}", [r.get("PricingUnit")]).fetchone()[0] for r in rows]
        before = {o.requirement.id: o.violations for o in check(con, csv_scan(con, str(path)))}
    lines = _sample_lines(demo, sample)
    assert len(lines) == len(rows)
    for (_, category, _, _, billed, effective, provider, service, pricing_unit, freq, account), row, u in zip(
        lines, rows, units, strict=True
    ):
        assert category == row["ChargeCategory"]
        assert billed == Decimal(row["BilledCost"]) and effective == Decimal(row["EffectiveCost"])
        assert provider == row.get("ProviderName", provider) and service == row.get("ServiceName", service)
        assert freq == row.get("ChargeFrequency", freq) and account == row.get("BillingAccountName", account)
        assert pricing_unit == u  # the unit as delivered, in the FOCUS Unit Format spelling
    with connect_reader(demo.settings.lake) as con:
        rows_of_sample = (
            "(SELECT f.* FROM exports.focus_cost_and_usage f JOIN core.compute_usage u "
            "ON u.charge_line_id = f.x_ChargeLineId WHERE u.source_name = 'focus_samples' "
            f"AND u.source_file LIKE {sql_str('%/' + sample)})"
        )
        after = {o.requirement.id: o.violations for o in check(con, rows_of_sample)}
    # The export breaks no requirement the original met, of those that can be checked on the original.
    introduced = {r for r, n in after.items() if n and r in before and not before[r]}
    assert introduced == set()
