"""The dataset-flows page: which datasets moved to which computing centre, and how much training used them."""

from __future__ import annotations

from assets.dashboards.page_model import Chart, Dataset, Figure, Measure, Page, TableView

TOP_FLOWS = 12  # the largest flows, which the sankey and the table show one by one (the others grouped)

FLOWS = Page(
    "flows",
    "Dataset flows",
    "Which datasets moved to which computing centre, at what cost, and how much training used them.",
    datasets={
        "moves": Dataset(
            """SELECT dataset_id AS dataset, coalesce(destination_site_id, '?') AS site, tenant_id, provider_id,
                      source_name, transfer_date, count(*) AS transfers,
                      coalesce(sum(bytes) FILTER (WHERE status = 'completed'), 0) / 1e9 AS gb_moved,
                      sum(billed_cost_cny) AS cost_cny
               FROM marts.network_savings WHERE dataset_id IS NOT NULL GROUP BY ALL ORDER BY ALL""",
            ("marts.network_savings",),
            date="transfer_date",
            tenant="tenant_id",
            provider="provider_id",
            sample=("source", "source_name"),
        ),
        "datasets": Dataset(
            """SELECT dataset_id, name, license_spdx, commercial_use, transfers, bytes_moved / 1e9 AS gb_moved,
                      transfer_cost_cny, gpu_hours, training_cost_cny, tenant_count, non_commercial_gpu_hours,
                      commercial_use_conflict
               FROM marts.dataset_flow ORDER BY ALL""",
            ("marts.dataset_flow",),
            sample=("dataset", "dataset_id"),
        ),
    },
    charts=(
        Chart(
            "dataset_to_site",
            "Datasets to computing centres (GB moved)",
            "moves",
            "sankey",
            note=f"The {TOP_FLOWS} largest flows; the others are grouped per computing centre.",
            extra={"source": "dataset", "target": "site", "value": "gb_moved", "top": TOP_FLOWS},
        ),
        Chart(
            "gb_moved_by_site",
            "GB moved per day by destination",
            "moves",
            "bar",
            x="transfer_date",
            y=(Measure("GB", col="gb_moved"),),
            by="site",
            unit="GB",
        ),
    ),
    tables=(
        TableView(
            "flows_table",
            "Flows: dataset to computing centre",
            "moves",
            ("dataset", "site", "transfers", "gb_moved", "cost_cny"),
            sort="gb_moved",
            group=("dataset", "site"),
            top=TOP_FLOWS,
            note="the largest flows first; the others summed in the last row",
        ),
        TableView(
            "datasets_table",
            "Datasets",
            "datasets",
            (
                "dataset_id",
                "name",
                "license_spdx",
                "commercial_use",
                "gb_moved",
                "transfer_cost_cny",
                "gpu_hours",
                "non_commercial_gpu_hours",
                "commercial_use_conflict",
            ),
            sort="gpu_hours",
            note="non_commercial_gpu_hours: training charged while the licence forbade commercial use",
        ),
    ),
    figures=(
        Figure.distinct("datasets_moved", "datasets moved", "moves", "dataset"),
        Figure.total("gb_moved", "GB moved", "moves", "gb_moved", digits=1),
        Figure.total(
            "non_commercial_gpu_hours",
            "GPU-hours under non-commercial licences",
            "datasets",
            "non_commercial_gpu_hours",
        ),
    ),
)
