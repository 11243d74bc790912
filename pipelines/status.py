"""Row counts and headline figures of the lakehouse (reference samples left out unless asked)."""

from __future__ import annotations

import duckdb

from assets.dictionary.sources import is_sample
from warehouse.lake import first_row, scalar

# Headline figures, grouped by the rows they aggregate (one query each): (FROM clause, [(label, aggregate,
# format)]); {source}, {provider} and {tenant} keep the reference samples out unless asked.
HEADLINES = (
    (
        "core.compute_usage WHERE {source}",
        (
            ("Charge lines", "count(*) FILTER (WHERE coalesce(period_part, 1) = 1)", "{:,}"),
            ("GPU-hours", "sum(gpu_hours)", "{:,.0f}"),
            ("PFLOP-hours", "sum(pflop_hours)", "{:,.0f}"),
            ("Effective cost (CNY)", "sum(effective_cost_cny)", "{:,.2f}"),
            (
                "Domestic-chip share of GPU-hours",
                "sum(gpu_hours) FILTER (WHERE is_domestic_chip) / sum(gpu_hours)",
                "{:.1%}",
            ),
            ("Tenants with usage", "count(DISTINCT tenant_id)", "{:,}"),
        ),
    ),
    ("core.dataset_catalog WHERE is_current AND {source}", (("Datasets (current)", "count(*)", "{:,}"),)),
    (
        "core.data_transfers WHERE status = 'completed' AND {source}",
        (("Bytes transferred (TB)", "sum(bytes) / 1e12", "{:,.1f}"),),
    ),
    ("core.vouchers WHERE {source}", (("Voucher face value (CNY)", "sum(face_value_cny)", "{:,.2f}"),)),
    ("audit.quarantine WHERE {source}", (("Rows quarantined", "count(*)", "{:,}"),)),
    (
        "marts.subsidy_attribution WHERE {provider}",
        (("Subsidy redeemed (CNY)", "sum(amount_cny)", "{:,.2f}"),),
    ),
    (
        "marts.voucher_balances "
        "WHERE balance_date = (SELECT max(balance_date) FROM marts.voucher_balances) AND {tenant}",
        (("Voucher balance outstanding (CNY)", "sum(outstanding_cny)", "{:,.2f}"),),
    ),
    (
        "marts.cost_reduction_monthly WHERE pflop_hours > 0 AND {provider}",
        (
            ("Net cost per PFLOP-hour (CNY)", "sum(net_cost_cny) / sum(pflop_hours)", "{:,.2f}"),
            (
                "Net cost below the overseas reference card",
                "1 - sum(net_cost_cny) FILTER (WHERE reference_cost_per_pflop_hour IS NOT NULL) / "
                "sum(reference_cost_per_pflop_hour * pflop_hours)",
                "{:.1%}",
            ),
            (
                "Cost per PFLOP-hour below tenants' first 3 months",
                "1 - sum(effective_cost_cny) FILTER (WHERE NOT in_own_baseline) / "
                "sum(own_baseline_effective_cost_per_pflop_hour * pflop_hours) FILTER (WHERE NOT in_own_baseline)",
                "{:.1%}",
            ),
        ),
    ),
    (
        "marts.capacity_alerts "
        "WHERE level = 'site' AND metric = 'gpu_hours' AND threshold = 1.0 AND first_date IS NOT NULL",
        (("Site pools projected past capacity within 180 days", "count(*)", "{:,}"),),
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
    for rows, headlines in HEADLINES:
        aggregates = ", ".join(aggregate for _, aggregate, _ in headlines)
        try:
            values = first_row(con, f"SELECT {aggregates} FROM {rows.format(**keep)}")
        except duckdb.CatalogException:
            figures += [(label, "n/a (table not published)") for label, _, _ in headlines]
            continue
        for (label, _, fmt), value in zip(headlines, values, strict=True):
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
