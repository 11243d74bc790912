"""The capacity page: demand against supply, the forecast and its intervals, and capacity alerts."""

from __future__ import annotations

from assets.dashboards.page_model import Chart, Dataset, Figure, Measure, Page, TableView

ALERTS_SQL = """SELECT series_id, site_id, chip_family, provider_id, metric, threshold, first_date, probability,
                       1 AS alerts
                FROM marts.capacity_alerts {where} ORDER BY first_date, probability DESC"""

CAPACITY = Page(
    "capacity",
    "Capacity",
    "Daily demand against installed supply per site and chip family, the forecast with 80% and 95% intervals, "
    "and alerts where demand may outgrow supply.",
    datasets={
        "forecast": Dataset(
            """SELECT series_id, provider_id, forecast_date, mean, lo_80, hi_80, lo_95, hi_95, supply,
                      projected_utilization, model
               FROM marts.capacity_forecast WHERE metric = 'gpu_hours' ORDER BY series_id, forecast_date""",
            ("marts.capacity_forecast",),
            date="forecast_date",
            provider="provider_id",
            series="series_id",
        ),
        "demand": Dataset(
            """SELECT series_id, provider_id, usage_date, gpu_hours, available_gpu_hours
               FROM marts.capacity_demand_daily ORDER BY series_id, usage_date""",
            ("marts.capacity_demand_daily",),
            date="usage_date",
            provider="provider_id",
            series="series_id",
        ),
        "alerts": Dataset(
            ALERTS_SQL.format(where=""),
            ("marts.capacity_alerts",),
            provider="provider_id",
        ),
        "utilization": Dataset(
            """SELECT usage_date, site_id, sum(used_gpu_hours) AS used_gpu_hours,
                      sum(available_gpu_hours) AS available_gpu_hours
               FROM marts.utilization_daily GROUP BY ALL ORDER BY ALL""",
            ("marts.utilization_daily",),
            date="usage_date",
        ),
    },
    charts=(
        Chart(
            "forecast_band",
            "Forecast GPU-hours against supply (selected series)",
            "forecast",
            "band",
            unit="GPU-hours per day",
            extra={
                "x": "forecast_date",
                "mean": "mean",
                "supply": "supply",
                "intervals": [
                    ["lo_95", "hi_95", "95% interval", "rgba(31,78,121,0.15)"],
                    ["lo_80", "hi_80", "80% interval", "rgba(31,78,121,0.3)"],
                ],
                "history": {"dataset": "demand", "x": "usage_date", "y": "gpu_hours"},
            },
        ),
        Chart(
            "utilization_by_site",
            "Utilization by site",
            "utilization",
            "line",
            x="usage_date",
            y=(Measure("utilization", num="used_gpu_hours", den="available_gpu_hours"),),
            by="site_id",
            unit="share of available GPU-hours",
        ),
    ),
    tables=(
        TableView(
            "alerts_table",
            "Capacity alerts",
            "alerts",
            (
                "series_id",
                "site_id",
                "chip_family",
                "provider_id",
                "metric",
                "threshold",
                "first_date",
                "probability",
            ),
            note="first day demand may exceed the threshold, with its probability",
        ),
    ),
    figures=(
        Figure.total("alerts", "capacity alerts", "alerts", "alerts"),
        Figure.distinct("pools", "pools alerted", "alerts", "series_id"),
    ),
)
