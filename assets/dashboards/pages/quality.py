"""The data-quality page: rows rejected, files refused and the latest result of every check."""

from __future__ import annotations

from assets.dashboards.page_model import Chart, Dataset, Figure, Measure, Page, TableView

# The latest result of every check (the site's `checks` table): outcome, and the severity of a failure.
CHECKS_SQL = """SELECT asset, check_name, CASE WHEN passed THEN 'passed' ELSE 'failed' END AS outcome,
                       CASE WHEN NOT passed THEN severity END AS severity,
                       CASE WHEN blocking THEN 'blocks downstream' ELSE 'does not block' END AS on_failure,
                       failed_expectations, evaluated_at, CASE WHEN passed THEN 0 ELSE 1 END AS failed
                FROM checks ORDER BY passed, asset, check_name"""
# On the overview too: there, of the failed checks only.
FAILED_CHECKS = Figure.total("failed_checks", "failed checks", "checks", "failed")

QUALITY = Page(
    "quality",
    "Data quality",
    "Rows rejected per source and rule (skipped rows, which a source's rules leave out on purpose, counted "
    "apart), files per source, landed files not loaded and why, and the latest result of every check.",
    datasets={
        "ledger": Dataset(
            """SELECT partition_key AS day, source_name, sum(rows_read) AS rows_read,
                      sum(rows_quarantined - rows_skipped) AS rows_rejected
               FROM audit.ingest_ledger WHERE partition_key <> 'all' GROUP BY ALL ORDER BY ALL""",
            ("audit.ingest_ledger",),
            date="day",
            sample=("source", "source_name"),
        ),
        "sources": Dataset(
            """SELECT source_name, count(*) AS files, sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,
                      sum(rows_quarantined - rows_skipped) AS rows_rejected, sum(rows_skipped) AS rows_skipped,
                      sum(rows_held) AS rows_held,
                      round(sum(rows_quarantined - rows_skipped) / nullif(sum(rows_read), 0), 6) AS rejected_share,
                      count(*) FILTER (WHERE status IN ('failed', 'rejected')) AS files_refused
               FROM audit.ingest_ledger GROUP BY ALL ORDER BY ALL""",
            ("audit.ingest_ledger",),
            sample=("source", "source_name"),
        ),
        "rules": Dataset(
            """SELECT source_name, rule, count(*) AS rows_quarantined
               FROM audit.quarantine GROUP BY ALL ORDER BY ALL""",
            ("audit.quarantine",),
            sample=("source", "source_name"),
        ),
        "refused": Dataset(
            """SELECT source_name, partition_key AS day, source_file, status, detail AS reason
               FROM audit.ingest_ledger WHERE status IN ('failed', 'rejected') ORDER BY ALL""",
            ("audit.ingest_ledger",),
            sample=("source", "source_name"),
        ),
        "checks": Dataset(CHECKS_SQL, ()),
    },
    charts=(
        Chart(
            "rejected_rate",
            "Rejected share of rows read, per source and day",
            "ledger",
            "line",
            x="day",
            y=(Measure("rejected share", num="rows_rejected", den="rows_read"),),
            by="source_name",
            unit="share of rows read",
            note="Sources delivered by day; whole-file sources are in the table below.",
        ),
        Chart(
            "quarantined_by_rule",
            "Quarantined rows by rule (skipped rows included)",
            "rules",
            "hbar",
            x="rule",
            y=(Measure("rows", col="rows_quarantined"),),
            by="source_name",
            unit="rows",
        ),
    ),
    tables=(
        TableView(
            "sources_table",
            "Files and rows per source",
            "sources",
            (
                "source_name",
                "files",
                "files_refused",
                "rows_read",
                "rows_loaded",
                "rows_rejected",
                "rows_skipped",
                "rows_held",
                "rejected_share",
            ),
            sort="rows_rejected",
        ),
        TableView(
            "refused_table",
            "Landed files not loaded (their source kept its last good rows; their rows are in audit.quarantine)",
            "refused",
            ("source_name", "day", "source_file", "status", "reason"),
            limit=500,
        ),
        TableView(
            "checks_table",
            "Checks (latest evaluation)",
            "checks",
            (
                "asset",
                "check_name",
                "outcome",
                "severity",
                "on_failure",
                "failed_expectations",
                "evaluated_at",
            ),
            note="severity: of the failure (none when passed); on_failure: whether a failure holds back what is "
            "downstream",
            limit=500,
        ),
    ),
    figures=(
        Figure.total("rows_rejected", "rows rejected", "sources", "rows_rejected"),
        Figure.ratio(
            "rejected_share",
            "of rows read rejected",
            "sources",
            "rows_rejected",
            "rows_read",
            digits=2,
            percent=True,
        ),
        Figure.total("rows_quarantined", "rows in audit.quarantine", "rules", "rows_quarantined"),
        FAILED_CHECKS,
    ),
)
