"""Subsidy marts: the attribution engine writes the attribution, unattributed and balance tables.

The first build (and a code change, `--full`, or a change to the vouchers or tenants) attributes the whole
period. Otherwise a refresh continues from the engine's latest checkpoint before the first charge day whose
lines changed (DuckLake's change feed of the usage tables) and rewrites only the days after it.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from assets.core.usage import changed_charge_dates
from assets.ingest.targets import LOCAL_TZ
from assets.keys import table_asset_keys
from assets.marts.factory import LAKE_SNAPSHOT, built_from, mart_assets
from assets.pools import write_pool
from assets.resources import Lakehouse
from assets.subsidy.attribution import Columns, attribute, attribute_day
from assets.subsidy.checkpoints import (
    latest_checkpoint,
    restore_checkpoint,
    save_checkpoints,
    take_checkpoint,
)
from assets.subsidy.policy import Policy, load_policy
from assets.subsidy.published import INPUTS, QUERIES, load_all_affiliations
from assets.table_metadata import add_table_metadata
from assets.tables import DATED_BY
from assets.views import create_lake_views
from pipelines.domains import domain_definitions
from warehouse.ducklake import qualified
from warehouse.introspect import current_snapshot, table_changed
from warehouse.lake import scalar
from warehouse.transactions import commit

DESCRIPTIONS = {
    "subsidy_attribution": "One row per charge line and voucher that paid part of it (reversals negative), "
    "with the policy rule that allowed it.",
    "subsidy_unattributed": "Every charge line that got no subsidy, with the reason.",
    "voucher_balances": "Daily issued, redeemed, expired and outstanding amount of every voucher.",
}
ATTRIBUTION_KEY = dg.AssetKey(["marts", "subsidy_attribution"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            dg.AssetKey(["marts", name]),
            group_name="marts",
            deps=[k for t in INPUTS for k in table_asset_keys(t)],
            kinds={"duckdb", "ducklake"},
            description=description,
        )
        for name, description in DESCRIPTIONS.items()
    ],
    pool=write_pool("marts/subsidy"),
)
def subsidy_marts(context: AssetExecutionContext, lakehouse: Lakehouse) -> Iterator[dg.MaterializeResult]:
    """Attribute the charge lines to the vouchers under the subsidy policy file, from the first changed day."""
    policy = load_policy()
    with lakehouse.connect() as con:
        create_lake_views(con, [t for t in INPUTS if not t.startswith("ref.")])
        snapshot = current_snapshot(con)
        restored = _continue_from(context, con, lakehouse, policy)
        through = _attribute(con, policy, restored)
        with commit(con, "subsidy marts"):
            for name, query in QUERIES.items():
                table = qualified("marts." + name)
                if restored is None:
                    con.execute(f"CREATE OR REPLACE TABLE {table} AS {query}")
                else:  # the days after the checkpoint (the table's day column): none left when their lines are gone
                    after = f"{DATED_BY['marts.' + name]} > DATE '{restored.isoformat()}'"
                    con.execute(f"DELETE FROM {table} WHERE {after}")
                    if through is not None and through > restored:
                        con.execute(f"INSERT INTO {table} SELECT * FROM ({query}) WHERE {after}")
            save_checkpoints(con, restored)
        for name in QUERIES:
            key = dg.AssetKey(["marts", name])
            add_table_metadata(context, con, f"marts.{name}", key)
            metadata = {
                "attributed_from": "all"
                if restored is None
                else (restored + dt.timedelta(days=1)).isoformat(),
                "attributed_through": through.isoformat() if through else "",
                LAKE_SNAPSHOT: snapshot,
            }
            if name == "subsidy_attribution":
                metadata["subsidy_cny"] = float(
                    scalar(con, f"SELECT coalesce(sum(amount_cny), 0) FROM {qualified('marts.' + name)}")
                )
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def _continue_from(
    context: AssetExecutionContext, con: duckdb.DuckDBPyConnection, lakehouse: Lakehouse, policy: Policy
) -> dt.date | None:
    """The checkpoint day to continue from, or None to attribute the whole period: when the last build cannot
    be continued (first build, code changed, `--full`, charge days in another time zone than the policy's), the
    vouchers or tenants changed, or the first changed charge day is older than every checkpoint."""
    since = built_from(context, ATTRIBUTION_KEY)
    if since is None or policy.timezone != LOCAL_TZ:
        return None
    if any(table_changed(con, name, since) for name in ("core.vouchers", "ref.tenants")):
        return None
    days = changed_charge_dates(con, lakehouse.specs(), since)
    if days is None:
        return None
    return latest_checkpoint(con, min(days) if days else None)


def _attribute(con: duckdb.DuckDBPyConnection, policy: Policy, restored: dt.date | None) -> dt.date | None:
    """Attribute the whole period (`restored` None) or the days after checkpoint `restored`, in two parts: up to
    the newest delivered day (the charge day of the latest day partition), then the days after it (lines that
    came in the same deliveries or from undated sources); a checkpoint is taken after each, so that the next
    delivery continues from the first. Returns the last day attributed."""
    local_day = f"CAST(timezone('{policy.timezone}', charge_period_start) AS DATE)"
    delivered, last = con.execute(
        f"SELECT max(TRY_CAST(partition_key AS DATE)), max({local_day}) FROM core_compute_usage"
    ).fetchone()
    affiliations = load_all_affiliations(con, policy)
    if restored is None:
        lines = "core_compute_usage"
        if delivered is not None and last is not None and delivered < last:
            lines = f"(SELECT * FROM core_compute_usage WHERE {local_day} <= DATE '{delivered.isoformat()}')"
        attribute(con, lines, "core_vouchers", policy, affiliations, columns=USAGE_COLUMNS)
    else:
        restore_checkpoint(con, restored)
        if delivered is not None and restored < delivered:
            _attribute_days(con, policy, affiliations, _next(restored), delivered)
    done = take_checkpoint(con)
    if last is not None and (done is None or done < last):
        first = (
            _next(done)
            if done
            else con.execute(f"SELECT min({local_day}) FROM core_compute_usage").fetchone()[0]
        )
        _attribute_days(con, policy, affiliations, first, last)
        done = take_checkpoint(con)
    return done


# core.compute_usage carries FOCUS ServiceSubcategory: model-API lines are told from rented GPU time by it
USAGE_COLUMNS = Columns(subcategory="service_subcategory")


def _attribute_days(
    con: duckdb.DuckDBPyConnection, policy: Policy, affiliations: str | None, first: dt.date, last: dt.date
) -> None:
    """Attribute the charge lines of the days `first` to `last`, continuing from the state of the days before."""
    attribute_day(
        con, "core_compute_usage", "core_vouchers", policy, affiliations, first, last, columns=USAGE_COLUMNS
    )


def _next(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


@dg.definitions
def defs() -> dg.Definitions:
    """The subsidy attribution marts and the cost-reduction mart."""
    return domain_definitions([subsidy_marts, *mart_assets("subsidy")])
