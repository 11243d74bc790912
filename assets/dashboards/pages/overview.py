"""The overview (index) page: headline figures and what needs attention."""

from __future__ import annotations

from assets.dashboards.page_model import Dataset, Figure, Page, TableView
from assets.dashboards.pages.capacity import ALERTS_SQL
from assets.dashboards.pages.cost import COST
from assets.dashboards.pages.quality import CHECKS_SQL, FAILED_CHECKS

OVERVIEW = Page(
    "index",
    "Overview",
    "The headline figures and what needs attention: failed checks, sources behind the others of their kind, "
    "and pools whose demand may outgrow their capacity.",
    datasets={
        "monthly": COST.datasets["monthly"],
        "checks": Dataset(f"SELECT * FROM ({CHECKS_SQL}) WHERE outcome = 'failed'", ()),
        "behind": Dataset(
            """WITH newest AS (
                   SELECT source_name, kind, max(partition_key) AS newest_day, max(arrival) AS last_arrival
                   FROM audit.ingest_ledger
                   WHERE partition_key <> 'all' AND status NOT IN ('withdrawn', 'failed', 'rejected')
                   GROUP BY ALL)
               SELECT source_name, kind, newest_day, max(newest_day) OVER (PARTITION BY kind) AS newest_of_kind,
                      date_diff('day', CAST(newest_day AS DATE), CAST(newest_of_kind AS DATE)) AS days_behind,
                      last_arrival, 1 AS sources
               FROM newest QUALIFY days_behind > 0 ORDER BY days_behind DESC, source_name""",
            ("audit.ingest_ledger",),
            sample=("source", "source_name"),
        ),
        "alerts": Dataset(
            ALERTS_SQL.format(where="WHERE first_date IS NOT NULL"), ("marts.capacity_alerts",)
        ),
    },
    tables=(
        TableView(
            "failed_checks_table",
            "Failed checks",
            "checks",
            ("asset", "check_name", "severity", "on_failure", "failed_expectations", "evaluated_at"),
            note="the latest evaluation of each check; details on the data-quality page",
        ),
        TableView(
            "behind_table",
            "Sources behind",
            "behind",
            ("source_name", "kind", "newest_day", "newest_of_kind", "days_behind", "last_arrival"),
            sort="days_behind",
            note="the newest day a source delivered, against the newest of the sources of its kind",
        ),
        TableView(
            "alerts_table",
            "Pools near capacity",
            "alerts",
            ("series_id", "site_id", "chip_family", "metric", "threshold", "first_date", "probability"),
            note="first day demand may exceed the threshold share of supply, with its probability",
        ),
    ),
    figures=(
        Figure.total("gpu_hours", "GPU-hours", "monthly", "gpu_hours"),
        Figure.total("pflop_hours", "PFLOP-hours", "monthly", "pflop_hours"),
        Figure.total("effective_cost_cny", "effective cost (CNY)", "monthly", "effective_cost_cny"),
        *COST.figures,
        FAILED_CHECKS,
        Figure.total("sources_behind", "sources behind", "behind", "sources"),
        Figure.distinct("pools_near_capacity", "pools near capacity", "alerts", "series_id"),
    ),
)
