"""The FOCUS 1.2 export: the exports.focus_cost_and_usage view (declared in warehouse/sql/exports/) and its
conformance to FOCUS 1.2 as a Dagster asset check."""

import dagster as dg

from assets.contracts.checks import changed_scope
from assets.core.usage import described_dates
from assets.exports.focus_file import EXPORT_TABLE, export_query
from assets.exports.focus_rules import Outcome, check, requirements
from assets.marts.factory import mart_assets
from assets.resources import Lakehouse
from pipelines.domains import domain_definitions
from warehouse.lake import sql_dates

FOCUS_KEY = dg.AssetKey(EXPORT_TABLE.split("."))


def conformance_result(outcomes: list[Outcome], checked: dict | None = None) -> dg.AssetCheckResult:
    """Passed when every requirement holds; a broken MUST is an error, a broken SHOULD a warning; `checked`: the
    metadata of what it checked (see changed_scope)."""
    broken = [o for o in outcomes if not o.passed]
    rows = ["| requirement | level | violations | detail |", "|---|---|---|---|"]
    rows += [f"| {o.requirement.id} | {o.requirement.level} | {o.violations} | {o.detail} |" for o in broken]
    must = any(o.requirement.level == "MUST" for o in broken)
    return dg.AssetCheckResult(
        passed=not broken,
        severity=dg.AssetCheckSeverity.ERROR if must else dg.AssetCheckSeverity.WARN,
        metadata={
            **(checked or {}),
            "requirements": len(outcomes),
            "met": len(outcomes) - len(broken),
            "broken": dg.MetadataValue.md("\n".join(rows)),
        },
    )


@dg.asset_check(
    asset=FOCUS_KEY,
    name="focus_1_2_conformance",
    description="Every FOCUS 1.2 requirement of the columns the export carries (assets/exports/focus_rules.py).",
)
def focus_conformance(context: dg.AssetCheckExecutionContext, lakehouse: Lakehouse) -> dg.AssetCheckResult:
    """Check the export's rows and columns against the FOCUS 1.2 requirements: the rows of the charge dates that
    may have changed since the check last passed (every row the first time, or when the rules or the export's
    query changed)."""
    with lakehouse.read() as con:  # the city's charges; reference samples are held to their own files
        rows = f"({export_query(con)})"
        schema = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {rows}").fetchall()}
        rules = "\n".join(f"{r.id} {r.level}: {r.where}" for r in requirements(schema))
        dates, checked = changed_scope(context, con, lakehouse, EXPORT_TABLE, rules)
        validated = "every row" if dates is None else described_dates(dates)
        checked["validated"] = dg.MetadataValue.text(validated)
        if dates is not None:
            rows = f"(SELECT * FROM {rows} WHERE x_ChargeDate IN ({sql_dates(dates)}))"
        return conformance_result(check(con, rows), checked)


@dg.definitions
def defs() -> dg.Definitions:
    """The FOCUS export view and its conformance check."""
    return domain_definitions(mart_assets("exports"), asset_checks=[focus_conformance])
