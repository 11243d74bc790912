"""What each dashboard page shows: datasets queried from the published warehouse, charts, tables and figures.

A dataset is a SQL query at the finest grain the page's filters need; the browser filters and sums it. Its
`date`, `tenant`, `provider` and `series` name the columns the page's filters apply to (None: not filtered);
`sample` says how its rows are told apart as reference samples' (meta.sources), which the page leaves out unless
asked. Headline figures are measures over a dataset, computed in the browser under the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assets.dictionary.sources import SAMPLE_KEY_TABLES, SampleKey

# Columns whose ids have a name in the reference tables (shown beside the id; the Chinese name where there is one).
NAMED_COLUMNS = {
    "tenant_id": "tenant",
    "provider_id": "provider",
    "site_id": "site",
    "site": "site",
}


@dataclass(frozen=True)
class Dataset:
    """Rows embedded in a page, and the columns its filters act on."""

    sql: str
    needs: tuple[str, ...]
    date: str | None = None
    tenant: str | None = None
    provider: str | None = None
    series: str | None = None
    sample: tuple[SampleKey, str] | None = None

    @property
    def tables(self) -> tuple[str, ...]:
        """The warehouse tables the dataset reads (meta.sources and what tells samples apart included)."""
        if self.sample is None:
            return self.needs
        return tuple(dict.fromkeys((*self.needs, "meta.sources", *SAMPLE_KEY_TABLES[self.sample[0]])))


@dataclass(frozen=True)
class Measure:
    """A value over rows: the sum of `col`, the ratio sum(num) / sum(den), or the count of distinct `distinct`."""

    label: str
    col: str | None = None
    num: str | None = None
    den: str | None = None
    distinct: str | None = None


@dataclass(frozen=True)
class Chart:
    """A chart over one dataset: kind line, bar (stacked), hbar, area, band (forecast) or sankey."""

    id: str
    title: str
    dataset: str
    kind: str
    x: str | None = None
    y: tuple[Measure, ...] = ()
    by: str | None = None
    unit: str = ""
    note: str = ""
    where: dict | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TableView:
    """A table of dataset rows (largest `sort` first)."""

    id: str
    title: str
    dataset: str
    columns: tuple[str, ...]
    sort: str | None = None
    limit: int = 200
    note: str = ""
    group: tuple[str, ...] = ()
    top: int | None = None


@dataclass(frozen=True)
class Figure:
    """A headline figure: a measure over one dataset's rows under the page's filters, with its format."""

    key: str
    label: str
    dataset: str
    value: Measure
    digits: int = 0
    percent: bool = False


@dataclass(frozen=True)
class Page:
    """One dashboard page."""

    name: str
    title: str
    summary: str
    datasets: dict[str, Dataset]
    charts: tuple[Chart, ...] = ()
    tables: tuple[TableView, ...] = ()
    figures: tuple[Figure, ...] = ()

    @property
    def needs(self) -> tuple[str, ...]:
        """Every warehouse table the page reads."""
        return tuple(dict.fromkeys(t for d in self.datasets.values() for t in d.tables))


TOP_FLOWS = 12
# The latest result of every check (the site's `checks` table): outcome, and the severity of a failure.
CHECKS_SQL = """SELECT asset, check_name, CASE WHEN passed THEN 'passed' ELSE 'failed' END AS outcome,
                       CASE WHEN NOT passed THEN severity END AS severity,
                       CASE WHEN blocking THEN 'blocks downstream' ELSE 'does not block' END AS on_failure,
                       failed_expectations, evaluated_at, CASE WHEN passed THEN 0 ELSE 1 END AS failed
                FROM checks ORDER BY passed, asset, check_name"""
ALERTS_SQL = """SELECT series_id, site_id, chip_family, provider_id, metric, threshold, first_date, probability,
                       1 AS alerts
                FROM marts.capacity_alerts {where} ORDER BY first_date, probability DESC"""

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
        Figure(
            "face_value_cny", "voucher face value issued (CNY)", "vouchers", Measure("", col="face_value_cny")
        ),
        Figure("redeemed_cny", "redeemed (CNY)", "redemptions", Measure("", col="amount_cny")),
    ),
)

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
        Figure(
            "net_cost_per_pflop_hour",
            "net CNY per PFLOP-hour",
            "monthly",
            Measure("", num="net_cost_cny", den="pflop_hours"),
            digits=2,
        ),
        Figure("subsidy_cny", "subsidy (CNY)", "monthly", Measure("", col="subsidy_cny")),
    ),
)

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
        Figure("saving_cny", "saved (CNY)", "daily", Measure("", col="saving_cny"), digits=2),
        Figure("hours_saved", "transfer hours saved", "daily", Measure("", col="hours_saved")),
    ),
)

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
        Figure(
            "domestic_share_gpu_hours",
            "domestic share of GPU-hours",
            "daily",
            Measure("", num="domestic_gpu_hours", den="gpu_hours"),
            digits=1,
            percent=True,
        ),
        Figure("gpu_hours", "GPU-hours", "daily", Measure("", col="gpu_hours")),
        Figure("pflop_hours", "PFLOP-hours", "daily", Measure("", col="pflop_hours")),
    ),
)

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
        Figure("alerts", "capacity alerts", "alerts", Measure("", col="alerts")),
        Figure("pools", "pools alerted", "alerts", Measure("", distinct="series_id")),
    ),
)

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
        Figure("rows_rejected", "rows rejected", "sources", Measure("", col="rows_rejected")),
        Figure(
            "rejected_share",
            "of rows read rejected",
            "sources",
            Measure("", num="rows_rejected", den="rows_read"),
            digits=2,
            percent=True,
        ),
        Figure("rows_quarantined", "rows in audit.quarantine", "rules", Measure("", col="rows_quarantined")),
        Figure("failed_checks", "failed checks", "checks", Measure("", col="failed")),
    ),
)

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
        Figure("datasets_moved", "datasets moved", "moves", Measure("", distinct="dataset")),
        Figure("gb_moved", "GB moved", "moves", Measure("", col="gb_moved"), digits=1),
        Figure(
            "non_commercial_gpu_hours",
            "GPU-hours under non-commercial licences",
            "datasets",
            Measure("", col="non_commercial_gpu_hours"),
        ),
    ),
)

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
        Figure("gpu_hours", "GPU-hours", "monthly", Measure("", col="gpu_hours")),
        Figure("pflop_hours", "PFLOP-hours", "monthly", Measure("", col="pflop_hours")),
        Figure(
            "effective_cost_cny", "effective cost (CNY)", "monthly", Measure("", col="effective_cost_cny")
        ),
        *COST.figures,
        Figure("failed_checks", "failed checks", "checks", Measure("", col="failed")),
        Figure("sources_behind", "sources behind", "behind", Measure("", col="sources")),
        Figure("pools_near_capacity", "pools near capacity", "alerts", Measure("", distinct="series_id")),
    ),
)

PAGES = (SUBSIDY, COST, NETWORK, CHIPS, CAPACITY, QUALITY, FLOWS)
