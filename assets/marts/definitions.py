"""Mart assets: run a mart's SQL over views of its input tables and replace the lake table <schema>.<name>."""

import re
from dataclasses import dataclass

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from assets.core.usage import changed_charge_dates
from assets.pools import write_pool
from assets.resources import Lakehouse
from assets.table_metadata import add_table_metadata
from assets.tables import TABLE_ASSETS
from assets.views import create_lake_views
from warehouse.ducklake import (
    commit,
    current_snapshot,
    define_view,
    qualified,
    replace_changed,
    table_exists,
)
from warehouse.settings import REPO_ROOT

SQL_DIR = REPO_ROOT / "warehouse" / "sql"
LAKE_SNAPSHOT = "lake_snapshot"  # materialization metadata: the lake snapshot a mart was computed from
REBUILD_TAG = "computeflow/rebuild"  # run tag: marts rebuild whole (computeflow refresh --full)


@dataclass(frozen=True)
class Mart:
    """A mart: its SQL file (warehouse/sql/<schema>/<name>.sql) and the published tables it reads."""

    name: str
    inputs: tuple[str, ...]
    description: str
    schema: str = "marts"
    view: bool = False  # a DuckLake view over its inputs: computed when read, nothing written on a refresh
    # The column whose values group the rows (a day, a month, a dataset): a refresh rewrites only the groups
    # whose rows changed, so that what it writes follows what changed, not the length of history.
    key: str = ""
    # For a mart whose rows of one key come from core.compute_usage's charge lines with that value in this
    # column alone: a refresh computes only the keys whose charge lines changed (DuckLake's change feed).
    local: str = ""

    @property
    def sql(self) -> str:
        """The mart's query (its inputs named like core_compute_usage)."""
        return (SQL_DIR / self.schema / f"{self.name}.sql").read_text(encoding="utf-8")

    def view_sql(self) -> str:
        """The mart's query with its inputs named as the lake names them (core.compute_usage), for a view."""
        query = self.sql
        for name in sorted(self.inputs, key=len, reverse=True):
            query = re.sub(rf"\b{name.replace('.', '_')}\b", name, query)
        return query


MARTS = (
    Mart(
        "chip_mix",
        ("core.compute_usage",),
        "Daily GPU-hours and PFLOP-hours by site, provider and chip vendor, with the domestic share.",
        key="usage_date",
        local="charge_date",
    ),
    Mart(
        "network_savings",
        ("core.data_transfers", "ref.rate_cards", "ref.fx_rates"),
        "Per elastic-network transfer: duration at the base bandwidth against the actual one, hours saved, "
        "billed cost against the counterfactual cost without the boost, and the saving.",
        key="transfer_date",
    ),
    Mart(
        "network_savings_monthly",
        ("marts.network_savings",),
        "Network savings per tenant and month: hours saved, billed against counterfactual cost, saving in percent.",
        key="month",
    ),
    Mart(
        "dataset_flow",
        ("core.dataset_catalog", "core.data_transfers", "core.compute_usage"),
        "Per dataset: bytes moved to each site, transfer cost, GPU- and PFLOP-hours of the training that used it, "
        "tenants, licence, and commercial use under a non-commercial licence.",
        key="dataset_id",
    ),
    Mart(
        "cost_reduction_monthly",
        (
            "core.compute_usage",
            "marts.subsidy_attribution",
            "ref.rate_cards",
            "ref.fx_rates",
            "ref.chips",
            "ref.providers",
        ),
        "Per tenant, provider, chip vendor and month: GPU- and PFLOP-hours, list, billed, effective and net "
        "cost, subsidy, cost per PFLOP-hour, and the reduction against the tenant's first three months and an "
        "overseas reference rate card.",
        key="month",
    ),
    Mart(
        "focus_cost_and_usage",
        (
            "core.compute_usage",
            "marts.subsidy_attribution",
            "ref.providers",
            "ref.tenants",
            "ref.focus_service_subcategories",
            "meta.sources",  # which rows are reference samples: its conformance check and export leave them out
        ),
        "core.compute_usage as a FOCUS 1.2 cost and usage export (PascalCase columns, x_ columns of our own "
        "including the subsidy); a view, always in step with the charge lines and the subsidy attribution.",
        schema="exports",
        view=True,
    ),
    Mart(
        "capacity_supply_daily",
        ("ref.capacity_plan", "ref.chips", "core.compute_usage"),
        "Cards and available GPU-hours and PFLOP-hours of each site's pool per day and chip family, installed "
        "or planned, from ref.capacity_plan; site 'all' for the city.",
        key="supply_date",
    ),
    Mart(
        "capacity_demand_daily",
        ("core.compute_usage", "marts.capacity_supply_daily"),
        "Daily GPU-hours and PFLOP-hours demand per series (site x chip family x provider, and the providers "
        "and sites summed), gap-free to the last complete day, with the supply of the site's pool.",
        key="usage_date",
    ),
    Mart(
        "utilization_daily",
        ("marts.capacity_demand_daily", "marts.capacity_supply_daily"),
        "Used against available GPU-hours per day, site and chip family: idle hours and utilization.",
        key="usage_date",
    ),
    Mart(
        "queue_wait",
        ("core.compute_usage",),
        "Queue wait (submit to start) of jobs whose source records a submit time, per day, site and provider.",
        key="submit_date",
    ),
)


def table_asset_keys(table: str) -> list[dg.AssetKey]:
    """The assets whose lake files make up a published table."""
    return [dg.AssetKey(list(k)) for k in TABLE_ASSETS.get(table, (tuple(table.split(".")),))]


def build_mart(mart: Mart) -> dg.AssetsDefinition:
    """The asset of one mart."""

    @dg.asset(
        key=dg.AssetKey([mart.schema, mart.name]),
        group_name="marts",
        deps=[k for t in mart.inputs for k in table_asset_keys(t)],
        kinds={"duckdb", "ducklake"},
        description=mart.description,
        pool=write_pool(dg.AssetKey([mart.schema, mart.name])),
    )
    def _mart(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        name = f"{mart.schema}.{mart.name}"
        with lakehouse.connect() as con:
            if mart.view:
                define_view(con, name, mart.view_sql())
                result = dg.MaterializeResult(metadata={"view": True})
            else:
                create_lake_views(con, list(mart.inputs))
                result = _by_key(context, lakehouse, con, mart)
            add_table_metadata(context, con, name)
            return result

    return _mart


def _by_key(
    context: AssetExecutionContext, lakehouse: Lakehouse, con: duckdb.DuckDBPyConnection, mart: Mart
) -> dg.MaterializeResult:
    """In one commit, rewrite the groups of the mart's rows that changed; the whole table when the last build
    cannot be compared with (first build, code changed, `--full`). A mart local to the charge day computes only
    the days whose charge lines changed since the lake snapshot it was last built from (DuckLake's change
    feed), the whole table when the feed cannot tell."""
    name = f"{mart.schema}.{mart.name}"
    since = built_from(context)
    with commit(con, f"{name} by {mart.key}"):
        snapshot = current_snapshot(con)
        days = (
            set() if not mart.local or since is None else changed_charge_dates(con, lakehouse.specs(), since)
        )
        if since is None or days is None or not table_exists(con, name):
            con.execute(f"CREATE OR REPLACE TABLE {qualified(name)} AS {mart.sql}")
            rewritten: int | None = None
        elif mart.local and not days:
            rewritten = 0
        else:
            within = ""
            if mart.local:
                listed = ", ".join(f"DATE '{d.isoformat()}'" for d in sorted(days))
                con.execute(
                    "CREATE OR REPLACE TEMP VIEW core_compute_usage AS SELECT * FROM "
                    f"{qualified('core.compute_usage')} WHERE {mart.local} IN ({listed})"
                )
                within = f"{mart.key} IN ({listed})"
            rewritten = replace_changed(con, name, mart.sql, mart.key, within)
    return dg.MaterializeResult(
        metadata={
            f"{mart.key}s_rewritten": "all" if rewritten is None else rewritten,
            LAKE_SNAPSHOT: snapshot,
        }
    )


def built_from(context: AssetExecutionContext, key: dg.AssetKey | None = None) -> int | None:
    """The lake snapshot the asset's (or, in a multi-asset, `key`'s) last materialization was computed from, if
    its code has not changed since and the run does not ask for a rebuild."""
    key = key or context.asset_key
    if context.run.tags.get(REBUILD_TAG):
        return None
    if context.instance.get_latest_materialization_code_versions([key]).get(
        key
    ) != context.assets_def.code_versions_by_key.get(key):
        return None
    event = context.instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    entry = materialization.metadata.get(LAKE_SNAPSHOT) if materialization else None
    return int(entry.value) if entry is not None else None


MART_ASSETS = [build_mart(m) for m in MARTS]
