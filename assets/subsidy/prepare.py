"""The engine's inputs: policy tables, vouchers by tier, and charge lines by kind and epoch."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from warehouse.lake import sql_ident, sql_str, sql_values

from .money import MAX_UNITS, PPM, UNIT, units, values
from .policy import ANY_FUNDER, Policy


@dataclass(frozen=True)
class Columns:
    """Input columns that may differ between callers; the others have their core.compute_usage/vouchers names."""

    line_id: str = "charge_line_id"
    cost: str = "billed_cost_cny"
    face_value: str = "face_value_cny"
    corrects: str | None = None  # the line id a credit or correction corrects, when the feed links them
    subcategory: str | None = None  # FOCUS ServiceSubcategory, when the lines carry it


def _category_sql(policy: Policy, columns: Columns) -> str:
    """SQL of a line's eligibility category: by its FOCUS ServiceSubcategory where the policy names it (model
    APIs inside "AI and Machine Learning"), else by its ServiceCategory; NULL when the policy knows neither."""
    by_category = " ".join(
        f"WHEN {sql_str(service)} THEN {sql_str(cat)}" for service, cat in policy.service_categories.items()
    )
    value = f"CASE service_category {by_category} END"
    if columns.subcategory and policy.service_subcategories:
        by_sub = " ".join(
            f"WHEN {sql_str(sub)} THEN {sql_str(cat)}" for sub, cat in policy.service_subcategories.items()
        )
        value = f"coalesce(CASE {sql_ident(columns.subcategory)} {by_sub} END, {value})"
    return value


def policy_tables(con: duckdb.DuckDBPyConnection, policy: Policy) -> None:
    """__sub_tiers (one row per tier, in order), __sub_categories and __sub_tier_categories."""
    tiers = [
        (
            no,
            name,
            tier.rule,
            int(tier.max_ratio * PPM),
            None if tier.annual_cap is None else int(tier.annual_cap * UNIT),
        )
        for no, (name, _programme, tier) in enumerate(policy.tiers())
    ]
    eligible = {cat for programme in policy.programmes.values() for cat in programme.categories}
    known = {*policy.service_categories.values(), *policy.service_subcategories.values()}
    categories = [(cat, cat in eligible) for cat in sorted(known)]
    pairs = [
        (no, cat) for no, (_, programme, _t) in enumerate(policy.tiers()) for cat in programme.categories
    ]
    for table, rows, names in (
        ("__sub_tiers", tiers, "tier_no, programme, rule, max_ppm, cap_units"),
        ("__sub_categories", categories, "category, eligible"),
        ("__sub_tier_categories", pairs, "tier_no, category"),
    ):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {values(rows, names)}")


def _tier_case(policy: Policy) -> str:
    """CASE expression of a voucher's tier from its programme and funder (a named funder before '*')."""
    named, anyone = [], []
    for no, (name, _programme, tier) in enumerate(policy.tiers()):
        funders = sql_values(f for f in tier.funders if f != ANY_FUNDER)
        if funders:
            named.append(f"WHEN programme = {sql_str(name)} AND funder IN ({funders}) THEN {no}")
        if ANY_FUNDER in tier.funders:
            anyone.append(f"WHEN programme = {sql_str(name)} THEN {no}")
    return "CASE " + " ".join(named + anyone) + " END"


def prepare_vouchers(con: duckdb.DuckDBPyConnection, vouchers: str, policy: Policy, columns: Columns) -> None:
    """__sub_vouchers: every voucher with its tier, units, effective ratio and its tenant's annual cap."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_vouchers AS
        WITH v AS (
            SELECT CAST(voucher_id AS VARCHAR) AS voucher_id, CAST(tenant_id AS VARCHAR) AS tenant_id,
                   CAST(programme AS VARCHAR) AS programme, CAST(funder AS VARCHAR) AS funder,
                   valid_from, valid_to, coalesce({units(sql_ident(columns.face_value))}, 0) AS face_units,
                   CAST(round(coverage_ratio * {PPM}) AS BIGINT) AS ratio_ppm,
                   {units("annual_cap")} AS cap_units
            FROM {vouchers}
        ),
        tiered AS (SELECT *, {_tier_case(policy)} AS tier_no FROM v)
        SELECT v.* REPLACE (
                   least(coalesce(v.ratio_ppm, t.max_ppm), t.max_ppm) AS ratio_ppm,
                   least(t.cap_units, min(v.cap_units) OVER (PARTITION BY v.tenant_id, v.tier_no)) AS cap_units),
               t.rule
        FROM tiered v LEFT JOIN __sub_tiers t USING (tier_no)
        """
    )


def prepare_lines(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    policy: Policy,
    affiliations: str | None,
    columns: Columns,
    days: tuple[dt.date, dt.date] | None,
) -> int:
    """__sub_days (each tenant's days numbered by epoch) and __sub_work (the lines, grouped by epoch).

    Lines are in units, with their category and kind: 'candidate' (paid, eligible, the tenant holds a voucher for
    it), 'reversal' (billed cost < 0) or the reason the line can never be subsidised. Returns the epoch count.
    """
    local_day = (
        f"CAST(timezone({sql_str(policy.timezone)}, CAST(charge_period_start AS TIMESTAMPTZ)) AS DATE)"
    )
    # Lines without a cost (a workload trace loaded as unpriced) are no charge: nothing to subsidise or explain.
    where = f"WHERE {sql_ident(columns.cost)} IS NOT NULL"
    if days is not None:
        where += f" AND {local_day} BETWEEN DATE {sql_str(days[0].isoformat())} AND DATE {sql_str(days[1].isoformat())}"
    corrects = sql_ident(columns.corrects) if columns.corrects else "CAST(NULL AS VARCHAR)"
    source = (
        f"SELECT {sql_ident(columns.line_id)} AS line_id, CAST(tenant_id AS VARCHAR) AS tenant_id, "
        "CAST(provider_id AS VARCHAR) AS provider_id, charge_period_start AS charge_time, "
        f"{local_day} AS day, {units(sql_ident(columns.cost))} AS units, charge_category, "
        f"{_category_sql(policy, columns)} AS category, "
        f"{corrects} AS corrects FROM {lines} {where}"
    )
    paid = sql_values(policy.paid_charge_categories)
    affiliated = "SELECT NULL AS tenant_id, NULL AS provider_id WHERE FALSE"
    if policy.exclude_affiliated_providers and affiliations is not None:
        affiliated = (
            "SELECT DISTINCT CAST(tenant_id AS VARCHAR) AS tenant_id, CAST(provider_id AS VARCHAR) AS provider_id "
            f"FROM {affiliations}"
        )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_days AS
        WITH days AS (SELECT tenant_id, day, bool_or(units < 0) AS credit FROM ({source}) GROUP BY ALL),
        bounds AS (
            SELECT tenant_id, valid_from AS start FROM __sub_vouchers WHERE tier_no IS NOT NULL
            UNION SELECT tenant_id, valid_to + 1 FROM __sub_vouchers WHERE tier_no IS NOT NULL
            UNION SELECT tenant_id, make_date(year(day), 1, 1) FROM days
            UNION SELECT tenant_id, day + 1 FROM days WHERE credit
        ),
        dated AS (
            SELECT d.tenant_id, d.day, b.start
            FROM days d ASOF JOIN bounds b ON d.tenant_id = b.tenant_id AND d.day >= b.start
        )
        SELECT tenant_id, day, dense_rank() OVER (PARTITION BY tenant_id ORDER BY start) AS epoch FROM dated;
        CREATE OR REPLACE TEMP TABLE __sub_work AS
        WITH held AS (
            SELECT DISTINCT v.tenant_id, c.category FROM __sub_vouchers v JOIN __sub_tier_categories c USING (tier_no)
        )
        SELECT l.* EXCLUDE (charge_category), e.epoch,
               CASE WHEN l.units < 0 AND t.tenant_id IS NULL THEN 'nothing_to_reverse'
                    WHEN l.units < 0 THEN 'reversal'
                    WHEN coalesce(l.units, 0) = 0 OR coalesce(l.charge_category NOT IN ({paid}), TRUE) THEN 'not_paid'
                    WHEN NOT coalesce(m.eligible, FALSE) THEN 'ineligible_category'
                    WHEN a.tenant_id IS NOT NULL THEN 'affiliated_provider'
                    WHEN h.tenant_id IS NULL THEN 'no_valid_voucher'
                    ELSE 'candidate' END AS kind
        FROM ({source}) l LEFT JOIN __sub_categories m ON m.category = l.category
        LEFT JOIN ({affiliated}) a ON a.tenant_id = l.tenant_id AND a.provider_id = l.provider_id
        LEFT JOIN held h ON h.tenant_id = l.tenant_id AND h.category = l.category
        LEFT JOIN (SELECT DISTINCT tenant_id FROM held) t ON t.tenant_id = l.tenant_id
        LEFT JOIN __sub_days e ON e.tenant_id = l.tenant_id AND e.day = l.day
        ORDER BY e.epoch
        """
    )
    epochs, largest = con.execute(
        "SELECT (SELECT coalesce(max(epoch), 0) FROM __sub_days), (SELECT max(abs(units)) FROM __sub_work)"
    ).fetchone()
    if largest is not None and largest >= MAX_UNITS:
        raise ValueError(
            f"a charge line of {largest / UNIT} is too large to attribute (limit {MAX_UNITS / UNIT})"
        )
    return epochs
