"""Checkpoints of the attribution engine: its carried-over ledgers after a day, kept in the lake.

A day's attribution depends on every earlier day only through the engine's ledgers (redemptions, cap use, first
use, credited cost) and its earlier attribution rows. A refresh whose charge lines changed from day F onward
restores the ledgers of the latest checkpoint before F and the attribution rows up to it, then attributes the
days after it (`attribute_day` over a range, proven equal to the whole-period run). Checkpoints after the
restored one are dropped (they were computed from the old lines), all but the newest RETAINED are pruned,
and a change older than every checkpoint attributes the whole period again.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from assets.contracts.declared import declared
from assets.subsidy.attribution import OUTPUTS
from warehouse.ducklake import qualified
from warehouse.introspect import table_exists
from warehouse.lake import sql_str

CHECKPOINTS = "meta.subsidy_checkpoints"
RETAINED = 62  # checkpoints kept, the newest
# The table's columns and their types (as declared), and those of them that store a ledger's values.
TABLE_COLUMNS = declared(CHECKPOINTS).types
COLUMNS = {c: t for c, t in TABLE_COLUMNS.items() if c not in ("through", "ledger")}
# Ledger -> stored column -> the engine's column (engine table subsidy_state_<ledger>).
LEDGERS = {
    "vouchers": {"voucher_id": "voucher_id", "units": "redeemed"},
    "caps": {"tenant_id": "tenant_id", "tier_no": "tier_no", "year": "year", "units": "used"},
    "first_use": {"tenant_id": "tenant_id", "programme": "programme", "day": "first_day"},
    "credited": {"line_id": "line_id", "units": "added"},
}
# The engine's attribution rows, from the published marts.subsidy_attribution.
ATTRIBUTION = (
    "SELECT charge_line_id AS line_id, voucher_id, tenant_id, provider_id, programme, funder, rule, "
    "amount_cny AS amount, charge_time, charge_date, line_cost_cny AS line_cost, reverses_line_id "
    "FROM {table} WHERE charge_date <= {through}"
)


def _date(day: dt.date) -> str:
    return f"DATE {sql_str(day.isoformat())}"


def latest_checkpoint(con: duckdb.DuckDBPyConnection, before: dt.date | None) -> dt.date | None:
    """The last day of the latest checkpoint before `before` (any, when None); None when there is none."""
    if not table_exists(con, CHECKPOINTS):
        return None
    where = f"WHERE through < {_date(before)}" if before else ""
    return con.execute(f"SELECT max(through) FROM {qualified(CHECKPOINTS)} {where}").fetchone()[0]


def restore_checkpoint(con: duckdb.DuckDBPyConnection, through: dt.date) -> None:
    """Create the engine's ledgers and attribution rows as they were after day `through`."""
    stored = f"{qualified(CHECKPOINTS)} WHERE through = {_date(through)}"
    for ledger, columns in LEDGERS.items():
        selected = ", ".join(f"{column} AS {engine}" for column, engine in columns.items())
        con.execute(
            f"CREATE OR REPLACE TABLE subsidy_state_{ledger} AS SELECT {selected} FROM {stored} "
            f"AND ledger = {sql_str(ledger)}"
        )
    con.execute(f"CREATE OR REPLACE TABLE subsidy_state_days AS SELECT {_date(through)} AS day")
    for table in OUTPUTS:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    query = ATTRIBUTION.format(table=qualified("marts.subsidy_attribution"), through=_date(through))
    con.execute(f"CREATE OR REPLACE TABLE subsidy_attribution AS {query}")


def take_checkpoint(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """Keep the engine's ledgers after its last attributed day (in a temp table, for `save_checkpoints`);
    returns that day (None before any)."""
    through = con.execute("SELECT max(day) FROM subsidy_state_days").fetchone()[0]
    if through is None:
        return None
    _taken(con)
    for ledger, engine in LEDGERS.items():
        values = ", ".join(
            f"CAST({engine[c]} AS {t})" if c in engine else f"CAST(NULL AS {t})" for c, t in COLUMNS.items()
        )
        con.execute(
            f"INSERT INTO __subsidy_checkpoints SELECT {_date(through)}, {sql_str(ledger)}, {values} "
            f"FROM subsidy_state_{ledger}"
        )
    return through


def save_checkpoints(con: duckdb.DuckDBPyConnection, restored: dt.date | None) -> None:
    """In the caller's commit: store the checkpoints taken, dropping those after the one the run continued from
    (`restored`; every one when the run attributed the whole period, None) and all but the newest RETAINED."""
    table = qualified(CHECKPOINTS)
    _taken(con)
    if restored is None or not table_exists(con, CHECKPOINTS):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM __subsidy_checkpoints WHERE FALSE")
    else:
        con.execute(
            f"DELETE FROM {table} WHERE through > {_date(restored)} "
            "OR through IN (SELECT through FROM __subsidy_checkpoints)"
        )
    con.execute(f"INSERT INTO {table} SELECT * FROM __subsidy_checkpoints")
    con.execute(
        f"DELETE FROM {table} WHERE through NOT IN "
        f"(SELECT DISTINCT through FROM {table} ORDER BY through DESC LIMIT {RETAINED})"
    )
    con.execute("DROP TABLE __subsidy_checkpoints")


def _taken(con: duckdb.DuckDBPyConnection) -> None:
    """The temp table of the checkpoints taken in this run."""
    columns = ", ".join(f"{c} {t}" for c, t in TABLE_COLUMNS.items())
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS __subsidy_checkpoints ({columns})")
