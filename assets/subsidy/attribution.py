"""Set-based attribution of subsidy vouchers to charge lines, for a whole period or day by day.

The rule, as a line-by-line greedy (tests/test_attribution.py holds it in plain Python): lines go in (charge
time, line id) order; a paid, eligible line takes, programme by programme and tier by tier (city before
district), from its tenant's vouchers of the tier valid on its day, earliest-expiring first, at most
min(ratio x cost, programme line ratio x cost - programme's takes, cost - all takes, voucher balance, tier
annual cap left); the ratio is the lowest coverage ratio of the tier's vouchers valid that day, never above the
policy's. After a day's lines, its credits and corrections (billed cost < 0) credit the corrected line, or else
the tenant's latest subsidised lines from the same provider, and reverse their attributions in proportion
(rounded up); the returned balance and annual cap are usable from the next day.

The SQL computes the same result without a per-line loop. Per tenant, days split into epochs at every validity
start and end of its vouchers, every 1 January and the day after every credit; inside an epoch the valid
vouchers, the cap year and the balances (but for the epoch's own takes) do not change. Within an epoch and a
tier the greedy is a stream: line i owns [D(i-1), D(i)) of the running sum of demands, voucher v owns
[B(v-1), B(v)) of the running sum of balances (earliest-expiring first), both cut at the cap left, and the take
of line i from voucher v is the length of the intersection. When earlier tiers cannot cut a later tier's
demand (city 30% + district <= 70%), one window gives every tier's running sums; otherwise tiers chain. The
Python loop runs over epochs (all tenants' k-th epochs together), then over the epoch's credits one per tenant
at a time; small ledgers carry redemptions, cap use, first use and credited cost between epochs and days. A run
is one transaction.

The steps live beside this module (each imports only those before it): money (integer units and ratios), prepare
(policy, vouchers, lines), allocate (epochs and tiers), reverse (credits) and balances; this module runs them.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from warehouse.lake import sql_ident, sql_str

from .allocate import REASONS, allocate, open_epoch
from .balances import write_balances
from .money import money
from .policy import Policy
from .prepare import Columns, policy_tables, prepare_lines, prepare_vouchers
from .reverse import settle_credits

__all__ = ["OUTPUTS", "REASONS", "Columns", "attribute", "attribute_day", "load_affiliations"]

OUTPUTS = ("subsidy_attribution", "subsidy_unattributed", "subsidy_voucher_balances")
STATE = (
    "subsidy_state_vouchers",
    "subsidy_state_caps",
    "subsidy_state_first_use",
    "subsidy_state_credited",
    "subsidy_state_days",
)


def attribute(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    vouchers: str,
    policy: Policy,
    affiliations: str | None = None,
    *,
    columns: Columns = Columns(),
) -> None:
    """Attribute a whole period: drop earlier outputs and state, then create them from `lines`.

    `lines`, `vouchers` and `affiliations` name relations (tables, views or parenthesised queries). Creates
    subsidy_attribution, subsidy_unattributed, subsidy_voucher_balances and the subsidy_state_* tables.
    """
    _run(con, lines, vouchers, policy, affiliations, columns, None)


def attribute_day(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    vouchers: str,
    policy: Policy,
    affiliations: str | None,
    day: dt.date,
    last: dt.date | None = None,
    *,
    columns: Columns = Columns(),
) -> None:
    """Attribute the lines of one local charge day (or of the days `day` to `last`), continuing from the state
    left by earlier days.

    Days must come in increasing order; running every day of a period, one by one or in consecutive ranges
    after a whole-period run of its first days, gives the whole-period result.
    """
    if _table_exists(con, "subsidy_state_days"):
        done = con.execute("SELECT max(day) FROM subsidy_state_days").fetchone()[0]
        if done is not None and day <= done:
            raise ValueError(f"day {day} is not after the last attributed day {done}")
    _run(con, lines, vouchers, policy, affiliations, columns, (day, last or day))


def load_affiliations(
    con: duckdb.DuckDBPyConnection, policy: Policy, table: str = "subsidy_affiliations"
) -> str:
    """Load the policy's affiliations CSV into `table` and return its name."""
    if policy.affiliations is None:
        raise ValueError(f"policy {policy.name!r} names no affiliations file")
    con.execute(
        f"CREATE OR REPLACE TABLE {sql_ident(table)} AS SELECT * FROM read_csv("
        f"{sql_str(str(policy.affiliations))}, header = true, "
        "columns = {'tenant_id': 'VARCHAR', 'provider_id': 'VARCHAR', 'relation': 'VARCHAR'})"
    )
    return table


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    query = (
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND database_name = current_database()"
    )
    return con.execute(query, [table]).fetchone()[0] > 0


def _run(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    vouchers: str,
    policy: Policy,
    affiliations: str | None,
    columns: Columns,
    days: tuple[dt.date, dt.date] | None,
) -> None:
    """In one transaction: (for a whole period) drop earlier results, prepare the inputs, run the epochs in order,
    write balances and fold the state."""
    con.execute("BEGIN TRANSACTION")
    try:
        for table in OUTPUTS + STATE if days is None else ():
            con.execute(f"DROP TABLE IF EXISTS {table}")
        policy_tables(con, policy)
        prepare_vouchers(con, vouchers, policy, columns)
        epochs = prepare_lines(con, lines, policy, affiliations, columns, days)
        _create_outputs(con)
        start, end = days or con.execute("SELECT min(day), max(day) FROM __sub_work").fetchone()
        previous: list[int] = []
        for epoch in range(1, epochs + 1):
            tiers = open_epoch(con, epoch, policy)
            allocate(con, epoch, policy, tiers)
            settle_credits(con, epoch, tiers, previous)
            for table in ("__sub_step", "__sub_pool", "__sub_epoch"):
                con.execute(
                    f"DROP TABLE IF EXISTS {table}_previous; ALTER TABLE {table} RENAME TO {table}_previous"
                )
            previous = tiers
        if start is not None:
            write_balances(con, start, end)
            con.execute("INSERT INTO subsidy_state_days VALUES (?)", [end])
        _compact_state(con)
        scratch = (
            "SELECT DISTINCT table_name FROM duckdb_columns() WHERE database_name = 'temp' "
            "AND starts_with(table_name, '__sub_')"
        )
        for (table,) in con.execute(scratch).fetchall():
            con.execute(f"DROP TABLE {table}")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _create_outputs(con: duckdb.DuckDBPyConnection) -> None:
    """Output tables and state ledgers where absent (line ids keep the input's type); lines never subsidised."""
    null = "CAST(NULL AS DECIMAL(18,4))"
    con.execute(
        f"""
        CREATE TABLE IF NOT EXISTS subsidy_attribution AS
        SELECT i.line_id, v.voucher_id, i.tenant_id, i.provider_id, v.programme, v.funder, v.rule,
               {null} AS amount, i.charge_time, i.day AS charge_date, {null} AS line_cost,
               i.line_id AS reverses_line_id
        FROM __sub_work i, __sub_vouchers v WHERE FALSE;
        CREATE TABLE IF NOT EXISTS subsidy_unattributed AS
        SELECT line_id, tenant_id, provider_id, charge_time, day AS charge_date, {null} AS cost, kind AS reason
        FROM __sub_work WHERE FALSE;
        CREATE TABLE IF NOT EXISTS subsidy_voucher_balances AS
        SELECT CAST(NULL AS DATE) AS balance_date, voucher_id, tenant_id, programme, funder, {null} AS issued,
               {null} AS redeemed, {null} AS expired, {null} AS outstanding
        FROM __sub_vouchers WHERE FALSE;
        CREATE TABLE IF NOT EXISTS subsidy_state_vouchers (voucher_id VARCHAR, redeemed BIGINT);
        CREATE TABLE IF NOT EXISTS subsidy_state_caps (tenant_id VARCHAR, tier_no INTEGER, year INTEGER, used BIGINT);
        CREATE TABLE IF NOT EXISTS subsidy_state_first_use (tenant_id VARCHAR, programme VARCHAR, first_day DATE);
        CREATE TABLE IF NOT EXISTS subsidy_state_credited AS SELECT line_id, units AS added FROM __sub_work WHERE FALSE;
        CREATE TABLE IF NOT EXISTS subsidy_state_days (day DATE);
        CREATE OR REPLACE TEMP TABLE __sub_net (voucher_id VARCHAR, day DATE, units BIGINT);
        INSERT INTO subsidy_unattributed
        SELECT line_id, tenant_id, provider_id, charge_time, day, {money("units")}, kind FROM __sub_work
        WHERE kind NOT IN ('candidate', 'reversal');
        """
    )


def _compact_state(con: duckdb.DuckDBPyConnection) -> None:
    """Fold the state ledgers (appended to during the run) into one row per key."""
    for table, keys, value in (
        ("subsidy_state_vouchers", "voucher_id", "sum(redeemed) AS redeemed"),
        ("subsidy_state_caps", "tenant_id, tier_no, year", "sum(used) AS used"),
        ("subsidy_state_first_use", "tenant_id, programme", "min(first_day) AS first_day"),
        ("subsidy_state_credited", "line_id", "sum(added) AS added"),
    ):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {keys}, {value} FROM {table} GROUP BY {keys}")
