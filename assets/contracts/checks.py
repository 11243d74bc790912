"""Each table's Great Expectations suite as a blocking Dagster asset check on the asset that writes it."""

import hashlib
import html
import json
from collections.abc import Collection
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
from dagster import AssetCheckExecutionContext

from assets.contracts.suites import suite_document, suite_paths
from assets.core.usage import changed_charge_dates_of
from assets.keys import COLUMNS_KEY, table_asset_keys
from assets.marts.declarations import sql_marts
from assets.marts.factory import REBUILD_TAG
from assets.partitions import run_days
from assets.resources import Lakehouse
from assets.versions import project_code_version
from warehouse.introspect import current_snapshot

if TYPE_CHECKING:
    from assets.contracts.validation import ContractOutcome

CONTRACT_CHECK = "contract"
# Tables written per day partition: their contract runs on the days of the run.
DAY_PARTITIONED = ("core.compute_usage",)
# Views of charge lines (dated by charge date) whose checks run on the charge dates whose rows may have changed
# since the check last passed (see changed_scope).
CHANGE_SCOPED = ("exports.focus_cost_and_usage",)
# Check metadata: the lake snapshot a check's rows were read from, and a digest of what it checks them against.
CHECKED_AT = "lake_snapshot"
CHECKED_VERSION = "checked_version"


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


def check_result(outcome: "ContractOutcome", checked: dict | None = None) -> dg.AssetCheckResult:
    """The Dagster result of a contract: failed criticals are errors (blocking), failed warnings warn;
    `checked`: the metadata of what it checked (see checked_since)."""
    metadata: dict[str, dg.MetadataValue] = {
        **(checked or {}),
        "validated": dg.MetadataValue.text(outcome.validated),
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
        from assets.contracts.validation import Scope, load_suite, validate

        suite = load_suite(path)
        version = json.dumps(suite_document(path), sort_keys=True, default=str)
        with lakehouse.read() as con:  # a committed snapshot: never blocks, nor is blocked by, a writer
            if table in DAY_PARTITIONED:
                # validated on the days the run wrote (its other days did not change)
                days = run_days(context.run.tags)
                return check_result(validate(con, suite, Scope(days=days) if days else None))
            if table in CHANGE_SCOPED:
                dates, checked = changed_scope(context, con, lakehouse, table, version)
                scope = Scope(dates=frozenset(dates)) if dates is not None else None
            else:  # the rows inserted since the check last passed, by the rules that judge a row on its own
                since, checked = checked_since(context, con, version)
                scope = Scope(since=since) if since is not None else None
            return check_result(validate(con, suite, scope), checked)

    return _contract


def passed_at(context: AssetCheckExecutionContext, version: str) -> int | None:
    """The lake snapshot that this check's latest evaluation of an earlier run read, if it passed checking the
    same `version` of what it checks (and the run asks for no rebuild); else None."""
    if context.run.tags.get(REBUILD_TAG):
        return None
    (key,) = context.selected_asset_check_keys
    for record in context.instance.event_log_storage.get_asset_check_execution_history(key, limit=20):
        evaluation = record.evaluation
        if record.run_id == context.run.run_id or evaluation is None:
            continue  # this run's, or one that never ran (its asset failed)
        metadata = evaluation.metadata
        version_of = metadata.get(CHECKED_VERSION)
        if not evaluation.passed or version_of is None or version_of.value != digest(version):
            return None
        return int(metadata[CHECKED_AT].value)
    return None


def digest(text: str) -> str:
    """A short digest of what a check checks rows against."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def checked_since(
    context: AssetCheckExecutionContext, con: duckdb.DuckDBPyConnection, version: str
) -> tuple[int | None, dict]:
    """The lake snapshot this check last passed at, checking the same `version` of what it checks with the same
    code (see passed_at), and the metadata that records the snapshot it reads now: a later run validates what
    changed after it."""
    version = f"{version}\0{project_code_version()}"
    metadata = {
        CHECKED_AT: dg.MetadataValue.int(current_snapshot(con)),
        CHECKED_VERSION: dg.MetadataValue.text(digest(version)),
    }
    return passed_at(context, version), metadata


def changed_scope(
    context: AssetCheckExecutionContext,
    con: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    table: str,
    version: str,
) -> tuple[set | None, dict]:
    """The charge dates whose rows of the view `table` (CHANGE_SCOPED) may have changed since this check last
    passed with the same `version` of its rules and the view's query (None: every row), and the metadata of
    checked_since."""
    mart = sql_marts()[table]
    since, metadata = checked_since(context, con, f"{version}\0{mart.code_version}")
    dates = None if since is None else changed_charge_dates_of(con, lakehouse.specs(), mart.deps, since)
    return dates, metadata


def build_contract_checks(keys: Collection[dg.AssetKey] | None = None) -> list[dg.AssetChecksDefinition]:
    """A contract check for every suite, or for those checked on one of `keys`."""
    return [
        build_contract_check(table)
        for table in suite_paths()
        if keys is None or contract_check_key(table).asset_key in keys
    ]
