"""The subsidy programme page: vouchers issued, redeemed and expired, by funder, programme and provider."""

from __future__ import annotations

from assets.dashboards.page_model import Chart, Dataset, Figure, Measure, Page, TableView

SUBSIDY = Page(
    "subsidy",
    "Subsidy programme",
    "Vouchers issued, redeemed and expired over time, by funder, programme and provider.",
    datasets={
        "balances": Dataset(
            """SELECT balance_date, tenant_id, funder, programme,
                      sum(issued_cny) AS issued_cny, sum(redeemed_cny) AS redeemed_cny,
                      sum(expired_cny) AS expired_cny, sum(outstanding_cny) AS outstanding_cny
               FROM marts.voucher_balances GROUP BY ALL ORDER BY ALL""",
            ("marts.voucher_balances",),
            date="balance_date",
            tenant="tenant_id",
            sample=("tenant", "tenant_id"),
        ),
        "redemptions": Dataset(
            """SELECT charge_date, tenant_id, provider_id, funder, programme, sum(amount_cny) AS amount_cny
               FROM marts.subsidy_attribution GROUP BY ALL ORDER BY ALL""",
            ("marts.subsidy_attribution",),
            date="charge_date",
            tenant="tenant_id",
            provider="provider_id",
            sample=("provider", "provider_id"),
        ),
        "unattributed": Dataset(
            """SELECT charge_date, tenant_id, provider_id, reason, count(*) AS charge_lines,
                      sum(cost_cny) AS cost_cny
               FROM marts.subsidy_unattributed GROUP BY ALL ORDER BY ALL""",
            ("marts.subsidy_unattributed",),
            date="charge_date",
            tenant="tenant_id",
            provider="provider_id",
            sample=("provider", "provider_id"),
        ),
        "vouchers": Dataset(
            """SELECT issued_date, tenant_id, programme, funder, source_name, sum(face_value_cny) AS face_value_cny
               FROM core.vouchers GROUP BY ALL ORDER BY ALL""",
            ("core.vouchers",),
            date="issued_date",
            tenant="tenant_id",
            sample=("source", "source_name"),
        ),
    },
    charts=(
        Chart(
            "balances_over_time",
            "Voucher balances over time",
            "balances",
            "line",
            x="balance_date",
            y=(
                Measure("issued", col="issued_cny"),
                Measure("redeemed", col="redeemed_cny"),
                Measure("expired", col="expired_cny"),
                Measure("outstanding", col="outstanding_cny"),
            ),
            unit="CNY",
        ),
        Chart(
            "redeemed_by_funder",
            "Redeemed per day by funder",
            "redemptions",
            "bar",
            x="charge_date",
            y=(Measure("redeemed", col="amount_cny"),),
            by="funder",
            unit="CNY",
        ),
        Chart(
            "redeemed_by_provider",
            "Redeemed per day by provider",
            "redemptions",
            "bar",
            x="charge_date",
            y=(Measure("redeemed", col="amount_cny"),),
            by="provider_id",
            unit="CNY",
        ),
        Chart(
            "outstanding_by_programme",
            "Outstanding by programme",
            "balances",
            "area",
            x="balance_date",
            y=(Measure("outstanding", col="outstanding_cny"),),
            by="programme",
            unit="CNY",
        ),
    ),
    tables=(
        TableView(
            "unattributed_table",
            "Charges no voucher paid for, and why",
            "unattributed",
            ("charge_date", "tenant_id", "provider_id", "reason", "charge_lines", "cost_cny"),
            sort="cost_cny",
        ),
    ),
    figures=(
        Figure.total("face_value_cny", "voucher face value issued (CNY)", "vouchers", "face_value_cny"),
        Figure.total("redeemed_cny", "redeemed (CNY)", "redemptions", "amount_cny"),
    ),
)
