"""Subsidy marts: one run of the attribution engine writes the attribution, unattributed and balance tables."""

from collections.abc import Iterator

import dagster as dg

from assets.marts.definitions import table_asset_keys
from assets.pools import write_pool
from assets.resources import Lakehouse
from assets.subsidy.policy import load_policy
from assets.subsidy.published import INPUTS, QUERIES, attribute_usage
from assets.views import create_lake_views
from warehouse.ducklake import commit, qualified, table_rows
from warehouse.lake import scalar

DESCRIPTIONS = {
    "subsidy_attribution": "One row per charge line and voucher that paid part of it (reversals negative), "
    "with the policy rule that allowed it.",
    "subsidy_unattributed": "Every charge line that got no subsidy, with the reason.",
    "voucher_balances": "Daily issued, redeemed, expired and outstanding amount of every voucher.",
}


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
def subsidy_marts(lakehouse: Lakehouse) -> Iterator[dg.MaterializeResult]:
    """Attribute the whole period's charge lines to the vouchers under the subsidy policy file."""
    with lakehouse.connect() as con:
        create_lake_views(con, [t for t in INPUTS if not t.startswith("ref.")])
        attribute_usage(con, load_policy())
        with commit(con, "subsidy marts"):
            for name, query in QUERIES.items():
                con.execute(f"CREATE OR REPLACE TABLE {qualified('marts.' + name)} AS {query}")
        for name in QUERIES:
            metadata = {"rows": table_rows(con, f"marts.{name}")}
            if name == "subsidy_attribution":
                metadata["subsidy_cny"] = float(
                    scalar(con, "SELECT coalesce(sum(amount), 0) FROM subsidy_attribution")
                )
            yield dg.MaterializeResult(asset_key=["marts", name], metadata=metadata)
