"""The FOCUS 1.2 export: the exports.focus_cost_and_usage view (declared in warehouse/sql/exports/) and its
conformance to FOCUS 1.2 as a Dagster asset check."""

import dagster as dg

from assets.exports.focus_file import EXPORT_TABLE, export_query
from assets.exports.focus_rules import Outcome, check
from assets.marts.factory import mart_assets
from assets.resources import Lakehouse
from pipelines.domains import domain_definitions

FOCUS_KEY = dg.AssetKey(EXPORT_TABLE.split("."))


def conformance_result(outcomes: list[Outcome]) -> dg.AssetCheckResult:
    """Passed when every requirement holds; a broken MUST is an error, a broken SHOULD a warning."""
    broken = [o for o in outcomes if not o.passed]
    rows = ["| requirement | level | violations | detail |", "|---|---|---|---|"]
    rows += [f"| {o.requirement.id} | {o.requirement.level} | {o.violations} | {o.detail} |" for o in broken]
    must = any(o.requirement.level == "MUST" for o in broken)
    return dg.AssetCheckResult(
        passed=not broken,
        severity=dg.AssetCheckSeverity.ERROR if must else dg.AssetCheckSeverity.WARN,
        metadata={
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
def focus_conformance(lakehouse: Lakehouse) -> dg.AssetCheckResult:
    """Check the export's rows and columns against the FOCUS 1.2 requirements."""
    with lakehouse.read() as con:  # the city's charges; reference samples are held to their own files
        return conformance_result(check(con, f"({export_query(con)})"))


@dg.definitions
def defs() -> dg.Definitions:
    """The FOCUS export view and its conformance check."""
    return domain_definitions(mart_assets("exports"), asset_checks=[focus_conformance])
