"""Row counts and headline figures of the lakehouse (reference samples left out unless asked)."""

from __future__ import annotations

import duckdb

from assets.dictionary.sources import is_sample
from warehouse.lake import scalar

HEADLINES = (
    (
        "Charge lines",
        "SELECT count(*) FILTER (WHERE coalesce(period_part, 1) = 1) FROM core.compute_usage WHERE {source}",
        "{:,}",
    ),
    ("GPU-hours", "SELECT sum(gpu_hours) FROM core.compute_usage WHERE {source}", "{:,.0f}"),
    ("PFLOP-hours", "SELECT sum(pflop_hours) FROM core.compute_usage WHERE {source}", "{:,.0f}"),
    (
        "Effective cost (CNY)",
        "SELECT sum(effective_cost_cny) FROM core.compute_usage WHERE {source}",
        "{:,.2f}",
    ),
    (
        "Domestic-chip share of GPU-hours",
        "SELECT sum(gpu_hours) FILTER (WHERE is_domestic_chip) / sum(gpu_hours) FROM core.compute_usage "
        "WHERE {source}",
        "{:.1%}",
    ),
    ("Tenants with usage", "SELECT count(DISTINCT tenant_id) FROM core.compute_usage WHERE {source}", "{:,}"),
    ("Datasets (current)", "SELECT count(*) FROM core.dataset_catalog WHERE is_current AND {source}", "{:,}"),
    (
        "Bytes transferred (TB)",
        "SELECT sum(bytes) / 1e12 FROM core.data_transfers WHERE status = 'completed' AND {source}",
        "{:,.1f}",
    ),
    ("Voucher face value (CNY)", "SELECT sum(face_value_cny) FROM core.vouchers WHERE {source}", "{:,.2f}"),
    ("Rows quarantined", "SELECT count(*) FROM audit.quarantine WHERE {source}", "{:,}"),
    (
        "Subsidy redeemed (CNY)",
        "SELECT sum(amount_cny) FROM marts.subsidy_attribution WHERE {provider}",
        "{:,.2f}",
    ),
    (
        "Voucher balance outstanding (CNY)",
        "SELECT sum(outstanding_cny) FROM marts.voucher_balances "
        "WHERE balance_date = (SELECT max(balance_date) FROM marts.voucher_balances) AND {tenant}",
        "{:,.2f}",
    ),
    (
        "Net cost per PFLOP-hour (CNY)",
        "SELECT sum(net_cost_cny) / sum(pflop_hours) FROM marts.cost_reduction_monthly WHERE pflop_hours > 0 "
        "AND {provider}",
        "{:,.2f}",
    ),
    (
        "Net cost below the overseas reference card",
        "SELECT 1 - sum(net_cost_cny) / sum(reference_cost_per_pflop_hour * pflop_hours) "
        "FROM marts.cost_reduction_monthly "
        "WHERE pflop_hours > 0 AND reference_cost_per_pflop_hour IS NOT NULL AND {provider}",
        "{:.1%}",
    ),
    (
        "Cost per PFLOP-hour below tenants' first 3 months",
        "SELECT 1 - sum(effective_cost_cny) / sum(own_baseline_effective_cost_per_pflop_hour * pflop_hours) "
        "FROM marts.cost_reduction_monthly WHERE pflop_hours > 0 AND NOT in_own_baseline AND {provider}",
        "{:.1%}",
    ),
    (
        "Site pools projected past capacity within 180 days",
        "SELECT count(*) FROM marts.capacity_alerts "
        "WHERE level = 'site' AND metric = 'gpu_hours' AND threshold = 1.0 AND first_date IS NOT NULL",
        "{:,}",
    ),
)


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """(schema.table, rows) for every table in the warehouse."""
    names = con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() ORDER BY 1"
    ).fetchall()
    return [(n, int(scalar(con, f"SELECT count(*) FROM {n}"))) for (n,) in names]


def headline_figures(con: duckdb.DuckDBPyConnection, samples: bool = False) -> list[tuple[str, str]]:
    """Headline figures, formatted, of the city's business (and of the reference samples too if `samples`); a
    figure whose table is missing is reported as such."""
    keep = {
        key: "true" if samples else f"NOT {is_sample(key, column)}"
        for key, column in (("source", "source_name"), ("provider", "provider_id"), ("tenant", "tenant_id"))
    }
    figures = []
    for label, query, fmt in HEADLINES:
        try:
            value = scalar(con, query.format(**keep))
        except duckdb.CatalogException:
            figures.append((label, "n/a (table not published)"))
            continue
        figures.append((label, "n/a" if value is None else fmt.format(value)))
    return figures


def unaccepted_files(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(source, day, file, status, reason) of every landed file the lake holds as rejected or failed: files
    that the last refresh of their source refused, whose other sources went on."""
    try:
        return con.execute(
            "SELECT source_name, partition_key, source_file, status, detail FROM audit.ingest_ledger "
            "WHERE status IN ('rejected', 'failed') ORDER BY 1, 2, 3"
        ).fetchall()
    except duckdb.CatalogException:
        return []
