"""Each table's Great Expectations suite as a blocking Dagster asset check on the asset that writes it."""

import html
import json
from collections.abc import Collection
from typing import TYPE_CHECKING

import dagster as dg
from dagster import AssetCheckExecutionContext

from assets.contracts.suites import suite_document, suite_paths
from assets.keys import COLUMNS_KEY, table_asset_keys
from assets.partitions import run_days
from assets.resources import Lakehouse

if TYPE_CHECKING:
    from assets.contracts.validation import ContractOutcome

CONTRACT_CHECK = "contract"
# Tables written per day partition: their contract runs on the days of the run.
DAY_PARTITIONED = ("core.compute_usage",)


def _cell(value: object) -> str:
    """Text for a markdown table cell: outside text is HTML-escaped and cannot break the table."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return html.escape(text).replace("|", "&#124;").replace("\n", " ")


def failures_markdown(outcome: "ContractOutcome") -> str:
    """A markdown table of the expectations that failed, with why they exist and sample offending rows."""
    lines = ["| expectation | severity | unexpected | why | sample rows |", "|---|---|---|---|---|"]
    for o in outcome.failed:
        count = o.unexpected if o.unexpected is not None else o.observed
        samples = "<br>".join(_cell(s) for s in o.samples) or _cell(o.error or "")
        lines.append(
            f"| {_cell(o.expectation)} | {o.severity} | {_cell(count)} | {_cell(o.why)} | {samples} |"
        )
    return "\n".join(lines)


def check_result(outcome: "ContractOutcome") -> dg.AssetCheckResult:
    """The Dagster result of a contract: failed criticals are errors (blocking), failed warnings warn."""
    metadata: dict[str, dg.MetadataValue] = {
        "expectations": dg.MetadataValue.int(len(outcome.outcomes)),
        "failed": dg.MetadataValue.int(len(outcome.failed)),
        "seconds": dg.MetadataValue.float(round(outcome.seconds, 3)),
    }
    if outcome.failed:
        metadata["failed_expectations"] = dg.MetadataValue.md(failures_markdown(outcome))
    return dg.AssetCheckResult(
        passed=not outcome.failed,
        severity=dg.AssetCheckSeverity.ERROR if not outcome.passed else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def contract_check_key(table: str) -> dg.AssetCheckKey:
    """Where a table's contract is checked: `contract` on the (first) asset that writes it, as
    `contract_<schema>_<table>` when that asset is named for another table; the audit tables, which every ingest
    asset writes, on meta/columns (which runs after all of them and before the publish)."""
    named = f"{CONTRACT_CHECK}_{table.replace('.', '_')}"
    if table.split(".")[0] == "audit":
        return dg.AssetCheckKey(COLUMNS_KEY, named)
    key = table_asset_keys(table)[0]
    return dg.AssetCheckKey(key, CONTRACT_CHECK if ".".join(key.path) == table else named)


def build_contract_check(table: str) -> dg.AssetChecksDefinition:
    """The contract check of one table, on the (first) asset that writes it."""
    path = suite_paths()[table]
    meta = suite_document(path).get("meta", {})

    key = contract_check_key(table)

    @dg.asset_check(
        asset=key.asset_key,
        name=key.name,
        blocking=True,
        description=f"Great Expectations suite {path.name}: {meta.get('description', '')}",
    )
    def _contract(context: AssetCheckExecutionContext, lakehouse: Lakehouse) -> dg.AssetCheckResult:
        # Great Expectations is imported when a check runs, not when the code location loads.
        from assets.contracts.validation import load_suite, validate

        # A day-partitioned table is validated on the days the run wrote (its other days did not change).
        days = run_days(context.run.tags) if table in DAY_PARTITIONED else None
        with lakehouse.read() as con:  # a committed snapshot: never blocks, nor is blocked by, a writer
            return check_result(validate(con, load_suite(path), days))

    return _contract


def build_contract_checks(keys: Collection[dg.AssetKey] | None = None) -> list[dg.AssetChecksDefinition]:
    """A contract check for every suite, or for those checked on one of `keys`."""
    return [
        build_contract_check(table)
        for table in suite_paths()
        if keys is None or contract_check_key(table).asset_key in keys
    ]
