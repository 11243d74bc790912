"""Reversal of credits and corrections: the subsidised lines they credit and those lines' attributions."""

from __future__ import annotations

import duckdb

from warehouse.lake import sql_values

from .allocate import pieces
from .money import money, units


def settle_credits(con: duckdb.DuckDBPyConnection, epoch: int, tiers: list[int], previous: list[int]) -> None:
    """Reverse attributions for the epoch's credits (all on its last day), one credit per tenant at a time.

    A credit looks for subsidised lines latest first: this epoch's, the previous epoch's, then any older ones;
    each later search runs only for what is still due.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_credits AS
        SELECT line_id, tenant_id, provider_id, charge_time, day, -units AS amount, corrects,
               row_number() OVER (PARTITION BY tenant_id ORDER BY charge_time, line_id) AS rank
        FROM __sub_work WHERE epoch = {epoch} AND kind = 'reversal';
        CREATE OR REPLACE TEMP TABLE __sub_settled AS SELECT line_id FROM __sub_credits WHERE FALSE;
        """
    )
    searches = [
        *([lambda t: _epoch_search(epoch, tiers, t)] if tiers else []),
        *([lambda t: _epoch_search(epoch - 1, previous, t, "_previous")] if previous else []),
        lambda t: _older_search(t, "__sub_epoch_previous" if epoch > 1 else "__sub_epoch"),
    ]
    ranks = con.execute("SELECT coalesce(max(rank), 0) FROM __sub_credits").fetchone()[0]
    for rank in range(1, ranks + 1):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __sub_due AS SELECT line_id, tenant_id, provider_id, charge_time, day, "
            f"amount AS due, corrects FROM __sub_credits WHERE rank = {rank}"
        )
        for search in searches:
            tenants = _due_tenants(con)
            if tenants:
                _reverse(con, *search(tenants))
                con.execute("DELETE FROM __sub_due WHERE due <= 0")
    con.execute(
        f"""
        INSERT INTO subsidy_unattributed
        SELECT line_id, tenant_id, provider_id, charge_time, day, {money("-amount")}, 'nothing_to_reverse'
        FROM __sub_credits ANTI JOIN __sub_settled USING (line_id)
        """
    )


def _due_tenants(con: duckdb.DuckDBPyConnection) -> str | None:
    """The tenants of __sub_due ever subsidised (the state ledgers include this epoch), as an SQL list literal
    (a filter table scans can use), or None if none: the others have no subsidised line to reverse."""
    query = (
        "SELECT DISTINCT tenant_id FROM __sub_due SEMI JOIN subsidy_state_first_use USING (tenant_id) "
        "ORDER BY tenant_id"
    )
    tenants = con.execute(query).fetchall()
    return f"({sql_values(t for (t,) in tenants)})" if tenants else None


def _epoch_search(epoch: int, tiers: list[int], tenants: str, suffix: str = "") -> tuple[str, str]:
    """The subsidised lines of `tenants` in an epoch (its step and pool tables end in `suffix`), and their
    attribution pieces restricted to the lines __sub_hits reaches."""
    lines = (
        "SELECT s.rid, w.line_id, w.tenant_id, w.provider_id, w.charge_time, w.units "
        f"FROM __sub_step{suffix} s JOIN __sub_work w ON w.rowid = s.rid AND w.epoch = {epoch} "
        f"WHERE s.taken > 0 AND s.tenant_id IN {tenants}"
    )
    hit = "(SELECT l.rid FROM __sub_lines l SEMI JOIN __sub_hits h ON h.target = l.line_id)"
    rows = (
        "SELECT line_id, tenant_id, provider_id, charge_time, units, voucher_id, amount, day "
        f"FROM ({pieces(epoch, tiers, hit, suffix)})"
    )
    return lines, rows


def _older_search(tenants: str, epochs: str) -> tuple[str, str]:
    """Attribution rows of `tenants` charged before their epoch in `epochs` (the lines a credit reaches last),
    and those of the lines __sub_hits reaches."""
    lines = (
        f"SELECT a.line_id, a.tenant_id, a.provider_id, a.charge_time, {units('a.line_cost')} AS units, "
        f"a.voucher_id, {units('a.amount')} AS amount, a.charge_date AS day "
        f"FROM subsidy_attribution a JOIN {epochs} e ON a.tenant_id = e.tenant_id AND a.charge_date < e.day "
        f"WHERE a.reverses_line_id IS NULL AND a.tenant_id IN {tenants}"
    )
    return lines, "SELECT * FROM __sub_lines SEMI JOIN __sub_hits h ON h.target = __sub_lines.line_id"


def _reverse(con: duckdb.DuckDBPyConnection, subsidised: str, pieces: str) -> None:
    """Credit lines of `subsidised` for what __sub_due still owes; reverse their `pieces` in proportion.

    `subsidised` selects subsidised lines (line_id, tenant_id, provider_id, charge_time, units, more columns
    allowed) into __sub_lines; `pieces`, the attribution rows of the lines credited (__sub_hits), into __sub_rows.
    A linked credit adds its whole amount to its line; an unlinked one spreads over the tenant's lines from the
    same provider, latest first, up to each line's cost not yet credited.
    """
    before = "(l.charge_time < c.charge_time OR (l.charge_time = c.charge_time AND l.line_id < c.line_id))"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_lines AS {subsidised};
        CREATE OR REPLACE TEMP TABLE __sub_hits AS
        WITH c AS (SELECT * FROM __sub_due),
        lines AS (SELECT DISTINCT line_id, tenant_id, provider_id, charge_time, units FROM __sub_lines),
        credited AS (SELECT line_id, sum(added) AS credited FROM subsidy_state_credited GROUP BY line_id),
        linked AS (
            SELECT c.line_id AS credit_id, l.line_id AS target, c.due AS added
            FROM c JOIN lines l ON l.line_id = c.corrects AND l.tenant_id = c.tenant_id WHERE {before}
        ),
        open AS (
            SELECT c.line_id AS credit_id, c.due, l.line_id AS target, l.charge_time,
                   l.units - coalesce(k.credited, 0) AS rest
            FROM c JOIN lines l ON l.tenant_id = c.tenant_id AND l.provider_id IS NOT DISTINCT FROM c.provider_id
            LEFT JOIN credited k ON k.line_id = l.line_id
            WHERE c.corrects IS NULL AND {before} AND l.units > coalesce(k.credited, 0)
        ),
        ranked AS (
            SELECT *, sum(rest) OVER (PARTITION BY credit_id ORDER BY charge_time DESC, target DESC) AS upto
            FROM open
        )
        SELECT * FROM linked
        UNION ALL
        SELECT credit_id, target, CAST(least(due, upto) - (upto - rest) AS BIGINT) FROM ranked WHERE upto - rest < due;
        CREATE OR REPLACE TEMP TABLE __sub_rows AS {pieces};
        CREATE OR REPLACE TEMP TABLE __sub_reversal AS
        WITH a AS (
            SELECT h.credit_id, h.target, r.voucher_id, r.day, r.units, h.added, CAST(r.amount AS HUGEINT) AS alloc,
                   coalesce(k.credited, 0) AS credited
            FROM __sub_hits h JOIN __sub_rows r ON r.line_id = h.target
            LEFT JOIN (SELECT line_id, sum(added) AS credited FROM subsidy_state_credited GROUP BY line_id) k
                ON k.line_id = h.target
        )
        SELECT credit_id, target, voucher_id, day AS target_day,
               CAST((alloc * least(credited + added, units) + units - 1) // units
                    - (alloc * least(credited, units) + units - 1) // units AS BIGINT) AS units
        FROM a;
        INSERT INTO subsidy_attribution
        SELECT r.credit_id, r.voucher_id, c.tenant_id, c.provider_id, v.programme, v.funder, 'reversal',
               {money("-r.units")}, c.charge_time, c.day, {money("-c.amount")}, r.target
        FROM __sub_reversal r JOIN __sub_credits c ON c.line_id = r.credit_id JOIN __sub_vouchers v USING (voucher_id)
        WHERE r.units > 0;
        INSERT INTO __sub_net
        SELECT r.voucher_id, c.day, -sum(r.units) FROM __sub_reversal r JOIN __sub_credits c ON c.line_id = r.credit_id
        GROUP BY ALL;
        INSERT INTO subsidy_state_credited SELECT target, added FROM __sub_hits;
        INSERT INTO subsidy_state_vouchers SELECT voucher_id, -sum(units) FROM __sub_reversal GROUP BY voucher_id;
        INSERT INTO subsidy_state_caps
        SELECT v.tenant_id, v.tier_no, year(r.target_day), -sum(r.units)
        FROM __sub_reversal r JOIN __sub_vouchers v USING (voucher_id) GROUP BY ALL;
        INSERT INTO __sub_settled SELECT DISTINCT credit_id FROM __sub_reversal WHERE units > 0;
        UPDATE __sub_due d SET due = d.due - h.added
        FROM (SELECT credit_id, sum(added) AS added FROM __sub_hits GROUP BY ALL) h WHERE d.line_id = h.credit_id;
        """
    )
