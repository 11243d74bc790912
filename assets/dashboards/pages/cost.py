"""The cost-reduction page: cost per PFLOP-hour over time, by tenant and chip vendor."""

from __future__ import annotations

from assets.dashboards.page_model import Chart, Dataset, Figure, Measure, Page

COST = Page(
    "cost",
    "Cost reduction",
    "Cost per PFLOP-hour over time, by tenant and chip vendor: list, effective (after discounts) and net of "
    "subsidies.",
    datasets={
        "monthly": Dataset(
            """SELECT month, tenant_id, provider_id, chip_vendor, sum(gpu_hours) AS gpu_hours,
                      sum(pflop_hours) AS pflop_hours, sum(list_cost_cny) AS list_cost_cny,
                      sum(effective_cost_cny) AS effective_cost_cny, sum(subsidy_cny) AS subsidy_cny,
                      sum(net_cost_cny) AS net_cost_cny
               FROM marts.cost_reduction_monthly GROUP BY ALL ORDER BY ALL""",
            ("marts.cost_reduction_monthly",),
            date="month",
            tenant="tenant_id",
            provider="provider_id",
            sample=("provider", "provider_id"),
        ),
    },
    charts=(
        Chart(
            "cost_per_pflop_hour",
            "Cost per PFLOP-hour",
            "monthly",
            "line",
            x="month",
            y=(
                Measure("list", num="list_cost_cny", den="pflop_hours"),
                Measure("effective", num="effective_cost_cny", den="pflop_hours"),
                Measure("net of subsidy", num="net_cost_cny", den="pflop_hours"),
            ),
            unit="CNY per PFLOP-hour",
            extra={"categorical": True},
        ),
        Chart(
            "net_cost_per_pflop_hour_by_vendor",
            "Net cost per PFLOP-hour by chip vendor",
            "monthly",
            "line",
            x="month",
            y=(Measure("net", num="net_cost_cny", den="pflop_hours"),),
            by="chip_vendor",
            unit="CNY per PFLOP-hour",
            extra={"categorical": True},
        ),
        Chart(
            "net_cost_per_pflop_hour_by_tenant",
            "Net cost per PFLOP-hour by tenant",
            "monthly",
            "line",
            x="month",
            y=(Measure("net", num="net_cost_cny", den="pflop_hours"),),
            by="tenant_id",
            unit="CNY per PFLOP-hour",
            note="The eight tenants with the most PFLOP-hours; pick a tenant above to see any other.",
            extra={"top": 8, "categorical": True},
        ),
        Chart(
            "pflop_hours_by_vendor",
            "PFLOP-hours by chip vendor",
            "monthly",
            "bar",
            x="month",
            y=(Measure("PFLOP-hours", col="pflop_hours"),),
            by="chip_vendor",
            unit="PFLOP-hours",
            extra={"categorical": True},
        ),
    ),
    figures=(
        Figure.ratio(
            "net_cost_per_pflop_hour",
            "net CNY per PFLOP-hour",
            "monthly",
            "net_cost_cny",
            "pflop_hours",
            digits=2,
        ),
        Figure.total("subsidy_cny", "subsidy (CNY)", "monthly", "subsidy_cny"),
    ),
)
