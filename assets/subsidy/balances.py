"""Daily voucher balances: issued, redeemed, expired and outstanding."""

from __future__ import annotations

import datetime as dt

import duckdb

from warehouse.lake import sql_str

from .money import money


def write_balances(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """Daily issued, redeemed (net of reversals), expired and outstanding per voucher over [start, end]."""
    first, last = (f"DATE {sql_str(d.isoformat())}" for d in (start, end))
    con.execute(
        f"""
        INSERT INTO subsidy_voucher_balances
        WITH days AS (
            SELECT CAST(generate_series AS DATE) AS d FROM generate_series({first}, {last}, INTERVAL 1 DAY)
        ),
        net AS (SELECT voucher_id, day AS d, sum(units) AS units FROM __sub_net GROUP BY ALL),
        final AS (SELECT voucher_id, sum(redeemed) AS redeemed FROM subsidy_state_vouchers GROUP BY ALL),
        grid AS (
            SELECT v.voucher_id, days.d, coalesce(n.units, 0) AS net
            FROM __sub_vouchers v JOIN days ON days.d >= v.valid_from
            LEFT JOIN net n ON n.voucher_id = v.voucher_id AND n.d = days.d
        ),
        later AS (
            SELECT voucher_id, d, coalesce(sum(net) OVER (
                       PARTITION BY voucher_id ORDER BY d DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                   ), 0) AS later
            FROM grid
        ),
        cumulative AS (
            SELECT l.d, v.*, coalesce(f.redeemed, 0) - l.later AS redeemed
            FROM later l JOIN __sub_vouchers v USING (voucher_id) LEFT JOIN final f USING (voucher_id)
        )
        SELECT d, voucher_id, tenant_id, programme, funder, {money("face_units")}, {money("redeemed")},
               {money("CASE WHEN d > valid_to THEN face_units - redeemed ELSE 0 END")},
               {money("CASE WHEN d > valid_to THEN 0 ELSE face_units - redeemed END")}
        FROM cumulative
        """
    )
