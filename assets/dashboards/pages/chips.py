"""The chip-mix page: GPU- and PFLOP-hours by chip vendor and the domestic chips' share."""

from __future__ import annotations

from assets.dashboards.page_model import Chart, Dataset, Figure, Measure, Page

CHIPS = Page(
    "chips",
    "Chip mix",
    "GPU- and PFLOP-hours by chip vendor and the domestic chips' share, by site and provider.",
    datasets={
        "daily": Dataset(
            """SELECT usage_date, site_id, provider_id, chip_vendor, is_domestic_chip, gpu_hours, pflop_hours,
                      CASE WHEN is_domestic_chip THEN gpu_hours ELSE 0 END AS domestic_gpu_hours,
                      CASE WHEN is_domestic_chip THEN pflop_hours ELSE 0 END AS domestic_pflop_hours,
                      effective_cost_cny
               FROM marts.chip_mix ORDER BY ALL""",
            ("marts.chip_mix",),
            date="usage_date",
            provider="provider_id",
            sample=("provider", "provider_id"),
        ),
    },
    charts=(
        Chart(
            "domestic_share",
            "Domestic chips' share",
            "daily",
            "line",
            x="usage_date",
            y=(
                Measure("of GPU-hours", num="domestic_gpu_hours", den="gpu_hours"),
                Measure("of PFLOP-hours", num="domestic_pflop_hours", den="pflop_hours"),
            ),
            unit="share",
        ),
        Chart(
            "domestic_share_by_site",
            "Domestic share of GPU-hours by site",
            "daily",
            "line",
            x="usage_date",
            y=(Measure("domestic share", num="domestic_gpu_hours", den="gpu_hours"),),
            by="site_id",
            unit="share",
        ),
        Chart(
            "gpu_hours_by_vendor",
            "GPU-hours by chip vendor",
            "daily",
            "area",
            x="usage_date",
            y=(Measure("GPU-hours", col="gpu_hours"),),
            by="chip_vendor",
            unit="GPU-hours",
        ),
        Chart(
            "pflop_hours_by_provider",
            "PFLOP-hours by provider",
            "daily",
            "hbar",
            x="provider_id",
            y=(Measure("PFLOP-hours", col="pflop_hours"),),
            unit="PFLOP-hours",
        ),
    ),
    figures=(
        Figure.ratio(
            "domestic_share_gpu_hours",
            "domestic share of GPU-hours",
            "daily",
            "domestic_gpu_hours",
            "gpu_hours",
            digits=1,
            percent=True,
        ),
        Figure.total("gpu_hours", "GPU-hours", "daily", "gpu_hours"),
        Figure.total("pflop_hours", "PFLOP-hours", "daily", "pflop_hours"),
    ),
)
