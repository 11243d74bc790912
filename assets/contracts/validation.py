"""Validate a published table against its Great Expectations suite, in DuckDB over the lake's files.

Every table of the warehouse catalog is a view in the validating connection (named like `core_compute_usage`),
so suites can reconcile one table with another. GX computes its metrics in SQL: nothing is loaded into pandas.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import duckdb_engine
import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from assets.contracts.gx_duckdb import URL_SCHEME, enable_regex
from assets.contracts.suites import suite_document
from assets.core.usage import described_dates
from assets.tables import DATED_BY, TABLES
from warehouse.introspect import change_feed, current_snapshot, lake_tables
from warehouse.lake import sql_dates, sql_ident, sql_str

SAMPLES = 5
# The columns a Scope's dates select by: the charge date of a charge line, of its attribution and its export line.
CHARGE_DATED = ("charge_date", "x_ChargeDate")
ROW_QUERY = "unexpected_rows_expectation"
# A row query that returns whole rows: `SELECT * FROM {batch} WHERE <condition>`.
WHOLE_ROWS = re.compile(
    r"^\s*SELECT \* FROM \{batch\} WHERE (?P<condition>.+)$", flags=re.IGNORECASE | re.DOTALL
)

logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation: what it checks, whether it held, and samples of what broke it."""

    expectation: str
    why: str
    severity: str
    success: bool
    unexpected: int | None = None
    observed: object = None
    samples: list = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class ContractOutcome:
    """All expectation results of one table."""

    table: str
    outcomes: list[ExpectationOutcome]
    seconds: float
    validated: str = "every row"  # which rows

    @property
    def failed(self) -> list[ExpectationOutcome]:
        """Expectations that did not hold."""
        return [o for o in self.outcomes if not o.success]

    @property
    def passed(self) -> bool:
        """Whether every critical expectation held (warnings do not fail a contract)."""
        return not any(o.severity == "critical" for o in self.failed)


def load_suite(path: Path) -> gx.ExpectationSuite:
    """A GX suite from its JSON file; an unknown table or a bad expectation names the file."""
    document = suite_document(path)
    try:
        return gx.ExpectationSuite(**document)
    except Exception as exc:  # GX raises several types for a malformed configuration
        raise ValueError(f"{path}: {exc}") from None


def create_table_views(con: duckdb.DuckDBPyConnection, names: set[str], scope: Scope | None = None) -> None:
    """A view per named lake table (e.g. core_compute_usage), visible to every cursor of the connection, holding
    only the rows in `scope` where the table can be scoped."""
    existing = lake_tables(con)
    for name, table in TABLES.items():
        if name not in names or (not table.columns and name not in existing):
            continue  # a table without a fixed shape that nothing has written yet
        view = f"memory.main.{name.replace('.', '_')}"
        con.execute(f"CREATE OR REPLACE VIEW {view} AS {_rows(con, name, scope, existing)}")


@dataclass(frozen=True)
class Scope:
    """The rows a contract validates, when not all: those of the day partitions `days` (first, last), those
    charged on `dates` (rows dated by charge date, see assets.tables.DATED_BY), or those that the commits after
    lake snapshot `since` inserted (see validate)."""

    days: tuple[str, str] | None = None
    dates: frozenset | None = None
    since: int | None = None

    def describe(self) -> str:
        """Which rows a contract of this scope validates (of a table it can scope)."""
        if self.days is not None:
            return f"rows of the day partitions {self.days[0]} to {self.days[1]}"
        return described_dates(set(self.dates or ()))


def _rows(
    con: duckdb.DuckDBPyConnection, name: str, scope: Scope | None, existing: set[str] | None = None
) -> str:
    """SELECT of a lake table's rows, only those in `scope` where it has the column the scope names."""
    source = TABLES[name].source(con, existing)
    query = f"SELECT * FROM {source}"
    if scope is None:
        return query
    columns = {r[0] for r in con.execute(f"DESCRIBE {query}").fetchall()}
    if scope.days is not None and "partition_key" in columns:
        first, last = (sql_str(d) for d in scope.days)
        return f"{query} WHERE partition_key BETWEEN {first} AND {last}"
    dated = DATED_BY.get(name)
    if scope.dates is not None and dated in columns and dated in CHARGE_DATED:
        return f"{query} WHERE {sql_ident(dated)} IN ({sql_dates(scope.dates)})"
    return query


def _label(config: object) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "unexpected_rows_query")}
    target = (
        kwargs.get("column") or kwargs.get("column_list") or (kwargs.get("column_A"), kwargs.get("column_B"))
    )
    return f"{config.type}({target})" if target and target != (None, None) else config.type


def _outcome(result: object) -> ExpectationOutcome:
    config = result.expectation_config
    found = result.result or {}
    info = result.exception_info or {}
    errors = [
        v.get("exception_message") for v in info.values() if isinstance(v, dict) and v.get("raised_exception")
    ]
    if info.get("raised_exception"):
        errors.append(info.get("exception_message"))
    details = found.get("details") or {}
    samples = details.get("unexpected_rows") or found.get("partial_unexpected_index_list")
    samples = samples or found.get("partial_unexpected_list") or []
    return ExpectationOutcome(
        expectation=_label(config),
        why=str((config.meta or {}).get("why", "")),
        severity=str(getattr(config.severity, "value", config.severity) or "critical"),
        success=bool(result.success),
        unexpected=found.get("unexpected_count"),
        observed=found.get("observed_value"),
        samples=[dict(s) if isinstance(s, dict) else s for s in list(samples)[:SAMPLES]],
        error="; ".join(str(e) for e in errors if e) or None,
    )


def validate(
    con: duckdb.DuckDBPyConnection, suite: gx.ExpectationSuite, scope: Scope | None = None
) -> ContractOutcome:
    """Run a suite against its table in the lake; `con` gets a view per warehouse table it names. With a
    `scope` of days or dates, the suite runs on the rows in it, and so do the tables it reconciles with. With a
    scope `since` a lake snapshot, the expectations that judge each row on its own values run on the rows
    inserted since (DuckLake's change feed: all of them when the table was created or replaced since; every
    row of a view), and the others (unique keys, aggregates, reconciliations) on the whole table.

    The validated rows are read from the lake once, into a table of the connection's in-memory database
    (spilling to disk past the memory limit), and every expectation's query runs on that copy: each scan of a
    lake table costs catalog lookups per source table, and a suite runs dozens of queries."""
    start = time.perf_counter()
    table = suite.meta["table"]
    view = table.replace(".", "_")
    text = json.dumps(suite.to_json_dict(), default=str)
    create_table_views(con, {n for n in TABLES if n != table and n.replace(".", "_") in text}, scope)
    inserted = _inserted(con, table, scope.since) if scope is not None and scope.since is not None else None
    whole = f"{view}__whole"
    con.execute(f"DROP VIEW IF EXISTS memory.main.{view}")
    rows = _rows(con, table, scope)
    con.execute(f"CREATE OR REPLACE TABLE memory.main.{view} AS {inserted or rows}")
    validated = "every row" if scope is None or rows == _rows(con, table, None) else scope.describe()
    try:
        if inserted is None:
            outcomes = run_suite(con, suite, view)
        else:
            count = con.execute(f"SELECT count(*) FROM memory.main.{view}").fetchone()[0]
            validated = (
                f"the {count} row(s) inserted since lake snapshot {scope.since} by the rules on each row's "
                "own values; every row by the others"
            )
            con.execute(f"CREATE OR REPLACE VIEW memory.main.{whole} AS {_rows(con, table, None)}")
            outcomes = run_suite(con, suite, view, whole)
    finally:
        con.execute(f"DROP TABLE IF EXISTS memory.main.{view}")
        con.execute(f"DROP VIEW IF EXISTS memory.main.{whole}")
    return ContractOutcome(table, outcomes, time.perf_counter() - start, validated)


def _inserted(con: duckdb.DuckDBPyConnection, table: str, since: int) -> str | None:
    """SELECT of the rows of the lake table that the commits after snapshot `since` inserted (or updated) and
    that it still holds (all its rows when it was created or replaced since), or None when the change feed cannot
    be read (a view)."""
    now = current_snapshot(con)
    if now <= since:
        return f"{_rows(con, table, None)} LIMIT 0"
    query = (
        f"SELECT * EXCLUDE (snapshot_id, rowid, change_type) FROM {change_feed(table, since, now)} "
        "QUALIFY row_number() OVER (PARTITION BY rowid ORDER BY snapshot_id DESC, "
        "change_type IN ('delete', 'update_preimage')) = 1 AND change_type IN ('insert', 'update_postimage')"
    )
    try:
        con.execute(f"DESCRIBE {query}")
    except duckdb.Error:
        return None
    return query


# Expectations that judge each row on its own values (of any other table, a row query's condition reads none).
PER_ROW = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_between",
    "expect_column_pair_values_a_to_be_greater_than_b",
)


def is_per_row(config: ExpectationConfiguration) -> bool:
    """Whether an expectation's verdict on a row depends on that row's values only (one that holds when `mostly`
    a share of the rows pass judges them together)."""
    if config.type in PER_ROW:
        return config.kwargs.get("mostly", 1) == 1
    if config.type != ROW_QUERY:
        return False
    found = WHOLE_ROWS.match(config.kwargs["unexpected_rows_query"])
    return bool(found) and not re.search(
        r"\bselect\b|\{batch\}", found.group("condition"), flags=re.IGNORECASE
    )


def finite_numbers(described: list[tuple[str, str]]) -> list[gx.expectations.Expectation]:
    """Every table's contract: its floating-point columns (of its `described` names and types) hold no NaN and
    no infinity (one row query)."""
    columns = [name for name, kind in described if kind in ("DOUBLE", "FLOAT")]
    if not columns:
        return []
    broken = " OR ".join(f"NOT isfinite({sql_ident(c)})" for c in columns)
    return [
        gx.expectations.UnexpectedRowsExpectation(
            unexpected_rows_query=f"SELECT * FROM {{batch}} WHERE {broken}",
            meta={"why": f"numbers are finite: no NaN or infinity in {', '.join(columns)}"},
            severity="critical",
        )
    ]


def narrowed(
    config: ExpectationConfiguration, columns: list[str], row_id: list[str]
) -> ExpectationConfiguration:
    """A row query `SELECT * FROM {batch} WHERE <condition>` that returns, of each offending row, its row id and
    the columns its condition names, not the whole row: a scan for a condition then reads those columns only,
    where a whole row reads every column of every row it tests (on a large table, from disk once the copy
    spills). Any other query is kept as it is."""
    found = WHOLE_ROWS.match(config.kwargs["unexpected_rows_query"])
    if not found:
        return config
    condition = found.group("condition")
    kept = [
        c for c in columns if c in row_id or re.search(rf"\b{re.escape(c)}\b", condition, flags=re.IGNORECASE)
    ]
    config = copy.deepcopy(config)
    select = ", ".join(sql_ident(c) for c in kept)
    config.kwargs["unexpected_rows_query"] = f"SELECT {select} FROM {{batch}} WHERE {condition}"
    return config


def _validate(
    batch: object, table: str, configs: list[ExpectationConfiguration], result_format: object
) -> list:
    """The results of `configs` of the contract of `table` on `batch` (no store: nothing kept), in the order
    Great Expectations gives (it runs table-wide expectations first)."""
    if not configs:
        return []
    return batch.validate(
        gx.ExpectationSuite(name=table, expectations=configs), result_format=result_format
    ).results


def _key(config: ExpectationConfiguration) -> str:
    """What identifies an expectation among a suite's, whatever result format it ran with."""
    kwargs = {k: v for k, v in config.kwargs.items() if k != "result_format"}
    return json.dumps([config.type, kwargs, config.meta], sort_keys=True, default=str)


def run_suite(
    con: duckdb.DuckDBPyConnection, suite: gx.ExpectationSuite, view: str, whole: str | None = None
) -> list[ExpectationOutcome]:
    """The outcomes of a suite's expectations on the table (or view) `view` of the in-memory database; with
    `whole`, those that judge rows together (see is_per_row) run on `whole` instead."""
    table = suite.meta["table"]
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_sql(
        name="lake",
        connection_string=f"{URL_SCHEME}:///:memory:",
        kwargs={"creator": lambda: duckdb_engine.ConnectionWrapper(con.cursor())},
    )
    enable_regex(source)
    configs = [e.configuration for e in suite.expectations]
    described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE memory.main.{view}").fetchall()]
    configs += [e.configuration for e in finite_numbers(described)]
    row_id = list(suite.meta.get("row_id") or [])
    on = (
        {view: configs}
        if whole is None
        else {
            view: [c for c in configs if is_per_row(c)],
            whole: [c for c in configs if not is_per_row(c)],
        }
    )
    outcomes: list[ExpectationOutcome] = []
    for name, expectations in on.items():
        asset = source.add_query_asset(name=name, query=f"SELECT * FROM {name}")
        batch = asset.get_batch(asset.build_batch_request())
        queries = [c for c in expectations if c.type == ROW_QUERY]
        if row_id:
            queries = [narrowed(q, [n for n, _ in described], row_id) for q in queries]
        # Every expectation is first judged pass or fail only (no counts, no samples: a query less or two each);
        # those that fail are run again for what the check reports of them. Row-level expectations report counts
        # and a few offending keys; row queries (whose output is already only the offending rows, at most 200)
        # return those rows.
        judged = _validate(
            batch, table, [c for c in expectations if c.type != ROW_QUERY] + queries, "BOOLEAN_ONLY"
        )
        failed = [r.expectation_config for r in judged if not r.success]
        detailed = {}
        for part, result_format in (
            (
                [c for c in failed if c.type != ROW_QUERY],
                {
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": SAMPLES,
                    "unexpected_index_column_names": row_id,
                },
            ),
            ([c for c in failed if c.type == ROW_QUERY], {"result_format": "COMPLETE"}),
        ):
            detailed.update(
                (_key(r.expectation_config), r) for r in _validate(batch, table, part, result_format)
            )
        outcomes += [_outcome(r if r.success else detailed[_key(r.expectation_config)]) for r in judged]
    return outcomes
