"""Mart assets: run a mart's SQL over views of its input tables and replace the lake table <schema>.<name>
(rewriting only the groups of rows that changed)."""

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from assets.core.usage import changed_charge_dates
from assets.keys import table_asset_keys
from assets.marts.declarations import Mart, marts_of
from assets.pools import write_pool
from assets.resources import Lakehouse
from assets.table_metadata import add_table_metadata
from assets.views import create_lake_views
from warehouse.ducklake import qualified
from warehouse.introspect import current_snapshot, table_exists
from warehouse.lake import sql_dates
from warehouse.rewrite import define_view, replace_changed
from warehouse.settings import REPO_ROOT
from warehouse.transactions import commit

LAKE_SNAPSHOT = "lake_snapshot"  # materialization metadata: the lake snapshot a mart was computed from
REBUILD_TAG = "computeflow/rebuild"  # run tag: marts rebuild whole (computeflow refresh --full)


def build_mart(mart: Mart) -> dg.AssetsDefinition:
    """The asset of one mart."""
    key = dg.AssetKey(mart.table.split("."))

    @dg.asset(
        key=key,
        group_name="marts",
        deps=[k for t in mart.deps for k in table_asset_keys(t)],
        kinds={"duckdb", "ducklake"},
        description=mart.description,
        code_version=mart.code_version,
        metadata={
            "sql": str(mart.sql_path.relative_to(REPO_ROOT)),
            "declared_in": str(mart.yaml_path.relative_to(REPO_ROOT)),
        },
        pool=write_pool(key),
    )
    def _mart(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        with lakehouse.connect() as con:
            if mart.view:
                define_view(con, mart.table, mart.view_sql())
                result = dg.MaterializeResult(metadata={"view": True})
            else:
                create_lake_views(con, list(mart.inputs))
                result = _by_key(context, lakehouse, con, mart)
            add_table_metadata(context, con, mart.table)
            return result

    return _mart


def _by_key(
    context: AssetExecutionContext, lakehouse: Lakehouse, con: duckdb.DuckDBPyConnection, mart: Mart
) -> dg.MaterializeResult:
    """In one commit, rewrite the groups of the mart's rows that changed; the whole table when the last build
    cannot be compared with (first build, code changed, `--full`). A mart local to the charge day computes only
    the days whose charge lines changed since the lake snapshot it was last built from (DuckLake's change
    feed), the whole table when the feed cannot tell."""
    name = mart.table
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
                listed = sql_dates(days)
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


def mart_assets(domain: str) -> list[dg.AssetsDefinition]:
    """The assets of one domain's SQL marts."""
    return [build_mart(m) for m in marts_of(domain)]
