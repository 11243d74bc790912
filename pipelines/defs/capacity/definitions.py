"""Capacity planning assets: forecasts, alerts and backtests from the demand and supply marts, and their checks."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
import polars as pl
from dagster import AssetExecutionContext

from assets.capacity.tables import CAPACITY_TABLES
from assets.keys import table_asset_keys
from assets.marts.factory import mart_assets
from assets.partitions import REFIT_TAG
from assets.pools import write_pool
from assets.resources import Lakehouse
from assets.table_metadata import add_table_metadata
from assets.tables import TABLES
from assets.views import create_lake_views
from pipelines.domains import domain_definitions
from warehouse.rewrite import replace_table

if TYPE_CHECKING:
    from assets.capacity.planning import CapacityPlan

INPUTS = ("marts.capacity_demand_daily", "marts.capacity_supply_daily")
FORECAST, ALERTS, BACKTEST = CAPACITY_TABLES
KEYS = {table: dg.AssetKey(table.split(".")) for table in CAPACITY_TABLES}
DESCRIPTIONS = {
    FORECAST: "180-day forecasts of each demand series and metric (chosen model, 80%/95% intervals) with the "
    "supply of the series' pool on each day and the projected utilization.",
    ALERTS: "Per pool (site or city x chip family) and metric: the first day the forecast passes 80% and "
    "100% of supply within 180 days, with the probability.",
    BACKTEST: "Rolling-origin backtest of every candidate model per series and metric: MASE, sMAPE, interval "
    "coverage; the chosen model flagged.",
}
_NOTES_SHOWN = 40


def _write(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame | None) -> None:
    """Replace a lake table with a frame (or the table's typed empty shape when None)."""
    if frame is None:
        replace_table(con, table, f"{TABLES[table].empty_select()} LIMIT 0")
        return
    con.register("__capacity_frame", frame.to_arrow())
    try:
        replace_table(con, table, "SELECT * FROM __capacity_frame")
    finally:
        con.unregister("__capacity_frame")


def _notes_markdown(notes: pl.DataFrame) -> str:
    """A markdown table of the series whose forecast departed from the plain path."""
    noted = notes.filter(pl.col("note") != "")
    lines = ["| series | metric | model used | note |", "|---|---|---|---|"]
    lines += [
        f"| {r['series_id']} | {r['metric']} | {r['model']} | {r['note'].replace('|', '/')} |"
        for r in noted.head(_NOTES_SHOWN).iter_rows(named=True)
    ]
    if noted.height > _NOTES_SHOWN:
        lines.append(f"| ... {noted.height - _NOTES_SHOWN} more | | | |")
    return "\n".join(lines)


def _metadata(plan: "CapacityPlan") -> dict[str, dict[str, dg.MetadataValue]]:
    """Dagster metadata of each table: models used, fallbacks and notes, model quality, alerts raised."""
    from assets.capacity.planning import coverage_summary, naive_comparison

    used = plan.notes["model"].value_counts().sort("model").iter_rows()
    crossing = plan.alerts.filter(pl.col("first_date").is_not_null())
    return {
        FORECAST: {
            "series": dg.MetadataValue.int(plan.notes.height),
            "models_used": dg.MetadataValue.json({model: int(n) for model, n in used}),
            "series_with_notes": dg.MetadataValue.int(int((plan.notes["note"] != "").sum())),
            "notes": dg.MetadataValue.md(_notes_markdown(plan.notes)),
        },
        BACKTEST: {
            "naive_comparison": dg.MetadataValue.json(_finite(naive_comparison(plan.backtest))),
            "coverage": dg.MetadataValue.json(_finite(coverage_summary(plan.backtest))),
        },
        ALERTS: {
            "crossings": dg.MetadataValue.md(
                "\n".join(
                    ["| series | metric | threshold | first date | probability |", "|---|---|---|---|---|"]
                    + [
                        f"| {r['series_id']} | {r['metric']} | {r['threshold']:.0%} | {r['first_date']} "
                        f"| {_probability(r['probability'])} |"
                        for r in crossing.iter_rows(named=True)
                    ]
                )
            ),
        },
    }


def _probability(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _finite(summary: dict[str, float | int]) -> dict[str, float | int | None]:
    """JSON-safe figures: NaN as null, floats rounded."""
    return {k: (None if v != v else round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            KEYS[table],
            group_name="marts",
            deps=[k for t in INPUTS for k in table_asset_keys(t)],
            kinds={"statsforecast", "parquet"},
            description=DESCRIPTIONS[table],
            tags={REFIT_TAG: "daily"},
        )
        for table in CAPACITY_TABLES
    ],
    pool=write_pool("marts/capacity"),
)
def capacity_forecasts(
    context: AssetExecutionContext, lakehouse: Lakehouse
) -> Iterator[dg.MaterializeResult]:
    """Backtest, choose and forecast every demand series; write forecasts, alerts and backtests."""
    from assets.capacity.planning import plan_capacity

    with lakehouse.connect() as con:
        create_lake_views(con, list(INPUTS))
        demand = con.sql("SELECT * FROM marts_capacity_demand_daily ORDER BY series_id, usage_date").pl()
        supply = con.sql("SELECT * FROM marts_capacity_supply_daily").pl()
        plan = plan_capacity(demand, supply) if demand.height else None
        frames = (
            dict(zip(CAPACITY_TABLES, (plan.forecast, plan.alerts, plan.backtest), strict=True))
            if plan
            else {}
        )
        metadata = _metadata(plan) if plan else {}
        for table in CAPACITY_TABLES:
            _write(con, table, frames.get(table))
            add_table_metadata(context, con, table, KEYS[table])
            yield dg.MaterializeResult(asset_key=KEYS[table], metadata=metadata.get(table, {}))


def _read(lakehouse: Lakehouse, table: str) -> pl.DataFrame:
    with lakehouse.connect() as con:
        return con.sql(f"SELECT * FROM {TABLES[table].source(con)}").pl()


@dg.asset_check(
    asset=KEYS[BACKTEST],
    name="chosen_models_beat_seasonal_naive",
    blocking=True,
    description="Mean backtest MASE of the chosen models is no worse than seasonal naive's on the same series.",
)
def chosen_models_beat_seasonal_naive(lakehouse: Lakehouse) -> dg.AssetCheckResult:
    """Aggregate MASE of the chosen models against the weekly seasonal naive baseline."""
    from assets.capacity.planning import naive_comparison

    summary = naive_comparison(_read(lakehouse, BACKTEST))
    passed = not summary["series_compared"] or summary["mase_chosen"] <= summary["mase_seasonal_naive"]
    return dg.AssetCheckResult(
        passed=bool(passed), metadata={"summary": dg.MetadataValue.json(_finite(summary))}
    )


@dg.asset_check(
    asset=KEYS[BACKTEST],
    name="interval_coverage",
    description="Mean backtest coverage of the chosen models' 80% and 95% intervals within sane bands "
    "(assets.capacity.planning.COVERAGE_BANDS).",
)
def interval_coverage(lakehouse: Lakehouse) -> dg.AssetCheckResult:
    """Calibration of the intervals in backtest (warns, does not block)."""
    from assets.capacity.planning import coverage_in_band, coverage_summary

    summary = coverage_summary(_read(lakehouse, BACKTEST))
    return dg.AssetCheckResult(
        passed=coverage_in_band(summary),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"summary": dg.MetadataValue.json(_finite(summary))},
    )


MODEL_CHECKS = [chosen_models_beat_seasonal_naive, interval_coverage]


@dg.definitions
def defs() -> dg.Definitions:
    """Chip mix, supply, demand, utilization and queue-wait marts, the forecasts and their model checks."""
    return domain_definitions(
        [*mart_assets("capacity"), capacity_forecasts],
        asset_checks=MODEL_CHECKS,
    )
