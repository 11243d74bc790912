"""The dashboards asset: regenerates the static dashboard site after every warehouse publish."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.contracts.checks import build_contract_checks
from assets.dashboards.site import build_site
from assets.deployment import deployment
from assets.keys import DASHBOARDS_KEY, FILES_CHECK, WAREHOUSE_KEY, ingest_key
from assets.resources import Lakehouse
from pipelines.defs.capacity.definitions import MODEL_CHECKS
from pipelines.defs.exports.definitions import focus_conformance
from pipelines.domains import domain_definitions


def latest_check_results(instance: dg.DagsterInstance, checks: list[dg.AssetCheckSpec]) -> list[dict]:
    """The latest evaluation of each check that has run: asset, check, passed, severity, whether a failure
    blocks downstream, failures, time."""
    results = []
    for check in checks:
        key = check.key
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
        event = history[0].event if history else None
        if event is None or event.dagster_event is None:
            continue
        evaluation = event.dagster_event.event_specific_data
        failed = evaluation.metadata.get("failed")
        results.append(
            {
                "asset": key.asset_key.to_user_string(),
                "check_name": key.name,
                "passed": evaluation.passed,
                "severity": evaluation.severity.value,
                "blocking": check.blocking,
                "failed_expectations": failed.value
                if failed is not None
                else (0 if evaluation.passed else 1),
                "evaluated_at": datetime.fromtimestamp(event.timestamp, UTC),
            }
        )
    return results


def every_check() -> list[dg.AssetCheckSpec]:
    """Every check of the code location: the contracts, each source's `files_accepted`, the capacity model checks
    and the FOCUS conformance check."""
    _settings, specs, _days = deployment()
    defined = [*build_contract_checks(), *MODEL_CHECKS, focus_conformance]
    return [
        *(spec for c in defined for spec in c.check_specs),
        *(dg.AssetCheckSpec(FILES_CHECK, asset=ingest_key(s)) for s in specs),
    ]


@dg.definitions
def defs() -> dg.Definitions:
    """The dashboards asset; its overview and data-quality pages report the latest result of every check of the
    code location."""
    checks = sorted(every_check(), key=lambda c: c.key)

    @dg.asset(
        key=DASHBOARDS_KEY,
        group_name="dashboards",
        deps=[WAREHOUSE_KEY],
        kinds={"html"},
        description="The static dashboard site (COMPUTEFLOW_HOME/dashboards), computed from the published "
        "warehouse: subsidies, cost reduction, network savings, chip mix, capacity, data quality and dataset "
        "flows.",
    )
    def dashboards(context: dg.AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        results = latest_check_results(context.instance, checks)
        out_dir = Path(lakehouse.dashboards_path)
        pages = build_site(lakehouse.lake, out_dir, results, datetime.now(UTC))
        for page in pages:
            if page.missing:
                context.log.warning(f"dashboard {page.name}: missing {', '.join(page.missing)}")
        return dg.MaterializeResult(
            metadata={
                "index": dg.MetadataValue.path(str(out_dir / "index.html")),
                "checks_reported": len(results),
                **{f"rows.{p.name}": p.rows for p in pages},
                "missing_tables": ", ".join(sorted({t for p in pages for t in p.missing})) or "none",
            }
        )

    return domain_definitions([dashboards])
