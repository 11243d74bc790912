"""The network-savings page: what the elastic network's bandwidth boost saved."""

from __future__ import annotations

from assets.dashboards.page_model import Chart, Dataset, Figure, Measure, Page, TableView

NETWORK = Page(
    "network",
    "Network savings",
    "What the elastic network's bandwidth boost saved: hours and money against the base bandwidth, per tenant "
    "and month.",
    datasets={
        "monthly": Dataset(
            """SELECT month || '-01' AS month, tenant_id, transfers, failed_transfers, bytes_moved / 1e12 AS tb_moved,
                      hours_saved, billed_cost_cny, counterfactual_cost_cny, saving_cny
               FROM marts.network_savings_monthly ORDER BY ALL""",
            ("marts.network_savings_monthly",),
            date="month",
            tenant="tenant_id",
            sample=("tenant", "tenant_id"),
        ),
        "daily": Dataset(
            """SELECT transfer_date, tenant_id, provider_id, source_name, count(*) AS transfers,
                      sum(hours_saved) AS hours_saved, sum(billed_cost_cny) AS billed_cost_cny,
                      sum(counterfactual_cost_cny) AS counterfactual_cost_cny, sum(saving_cny) AS saving_cny
               FROM marts.network_savings GROUP BY ALL ORDER BY ALL""",
            ("marts.network_savings",),
            date="transfer_date",
            tenant="tenant_id",
            provider="provider_id",
            sample=("source", "source_name"),
        ),
    },
    charts=(
        Chart(
            "billed_vs_counterfactual",
            "Billed cost against the cost without the boost",
            "daily",
            "line",
            x="transfer_date",
            y=(
                Measure("billed", col="billed_cost_cny"),
                Measure("without boost", col="counterfactual_cost_cny"),
            ),
            unit="CNY",
        ),
        Chart(
            "hours_saved",
            "Transfer hours saved per day",
            "daily",
            "bar",
            x="transfer_date",
            y=(Measure("hours saved", col="hours_saved"),),
            by="tenant_id",
            unit="hours",
            note="The ten tenants that saved the most hours; pick a tenant above to see any other.",
            extra={"top": 10},
        ),
        Chart(
            "saving_by_tenant",
            "Saving per tenant and month",
            "monthly",
            "bar",
            x="month",
            y=(Measure("saving", col="saving_cny"),),
            by="tenant_id",
            unit="CNY",
            note="The ten tenants that saved the most; negative where a boosted transfer was too small to need "
            "the boost.",
            extra={"top": 10, "categorical": True},
        ),
    ),
    tables=(
        TableView(
            "network_monthly_table",
            "Per tenant and month",
            "monthly",
            ("month", "tenant_id", "transfers", "failed_transfers", "tb_moved", "hours_saved", "saving_cny"),
            sort="saving_cny",
        ),
    ),
    figures=(
        Figure.total("saving_cny", "saved (CNY)", "daily", "saving_cny", digits=2),
        Figure.total("hours_saved", "transfer hours saved", "daily", "hours_saved"),
    ),
)
