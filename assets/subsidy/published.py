"""The published subsidy tables: the attribution engine over core usage and vouchers, shaped for the warehouse.

Inputs are the temp views core_compute_usage, core_vouchers and ref_tenants (assets.views and the ref views
of a lakehouse connection). A day's attribution depends on every earlier day (balances, caps, first use,
credits); a run attributes the whole period, or continues from a checkpoint (assets.subsidy.checkpoints).
Both are deterministic, so a re-run writes the same rows.
"""

from __future__ import annotations

import duckdb

from .attribution import load_affiliations
from .policy import Policy

INPUTS = ("core.compute_usage", "core.vouchers", "ref.tenants")

# Published table -> query over the engine's tables (and core_vouchers), in a stable order.
QUERIES = {
    "subsidy_attribution": """
        SELECT line_id AS charge_line_id, voucher_id, tenant_id, provider_id, programme, funder, rule,
               amount AS amount_cny, charge_date, charge_time, line_cost AS line_cost_cny, reverses_line_id
        FROM subsidy_attribution
        ORDER BY charge_time, charge_line_id, rule, voucher_id, reverses_line_id NULLS FIRST
    """,
    "subsidy_unattributed": """
        SELECT line_id AS charge_line_id, tenant_id, provider_id, charge_date, cost AS cost_cny, reason,
               charge_time
        FROM subsidy_unattributed
        ORDER BY charge_time, charge_line_id
    """,
    # The engine's balances start at a voucher's validity; a voucher issued earlier is outstanding (and not
    # yet usable) from its issue date.
    "voucher_balances": """
        WITH engine AS (
            SELECT balance_date, voucher_id, tenant_id, programme, funder, issued AS issued_cny,
                   redeemed AS redeemed_cny, expired AS expired_cny, outstanding AS outstanding_cny
            FROM subsidy_voucher_balances
        ),
        pending AS (
            SELECT d.balance_date, v.voucher_id, v.tenant_id, v.programme, v.funder, v.face_value_cny,
                   CAST(0 AS DECIMAL(18,4)), CAST(0 AS DECIMAL(18,4)), v.face_value_cny
            FROM (SELECT DISTINCT balance_date FROM engine) d
            JOIN core_vouchers v ON coalesce(v.issued_date, v.valid_from) <= d.balance_date
                AND d.balance_date < v.valid_from
        )
        SELECT b.*, v.funder_name, v.is_cash, v.valid_from, v.valid_to,
               b.balance_date BETWEEN v.valid_from AND v.valid_to AS is_valid
        FROM (SELECT * FROM engine UNION ALL SELECT * FROM pending) b JOIN core_vouchers v USING (voucher_id)
        ORDER BY balance_date, voucher_id
    """,
}


def load_all_affiliations(con: duckdb.DuckDBPyConnection, policy: Policy) -> str:
    """The policy's affiliations plus the affiliated providers of ref.tenants, as a table; returns its name."""
    table = load_affiliations(con, policy)
    con.execute(
        f"INSERT INTO {table} SELECT tenant_id, affiliated_provider_id, 'ref.tenants' FROM ref_tenants "
        "WHERE affiliated_provider_id IS NOT NULL"
    )
    return table
