"""The warehouse asset: the lake snapshot a refresh published, recorded once every table is committed.

Publishing is committing: each asset commits its tables to the DuckLake catalog, and readers see the
latest committed snapshot. This asset runs after every table asset and records the snapshot id that the
refresh ended on (every commit of the run carries the run id in lake.snapshots()).
"""

import dagster as dg
from dagster import AssetExecutionContext

from assets.keys import WAREHOUSE_KEY
from assets.resources import Lakehouse
from assets.tables import TABLES
from warehouse.introspect import current_snapshot, lake_tables, row_counts
from warehouse.transactions import read_transaction


def build_publish_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The publish asset, downstream of every table asset."""

    @dg.asset(
        key=WAREHOUSE_KEY,
        group_name="warehouse",
        deps=upstream,
        kinds={"ducklake"},
        description="The published lakehouse: the DuckLake snapshot this refresh ended on (query a past one "
        "with `AT (VERSION => n)` or `computeflow sql --snapshot n`).",
    )
    def warehouse(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        with lakehouse.connect() as con, read_transaction(con):  # one snapshot, counted and reported
            snapshot = current_snapshot(con)
            existing = lake_tables(con)
            counts = row_counts(con, [name for name in sorted(TABLES) if name in existing])
        context.log.info(f"published snapshot {snapshot} of {lakehouse.catalog_url}")
        return dg.MaterializeResult(
            metadata={
                "snapshot_id": int(snapshot),
                "catalog": lakehouse.catalog_url,
                "tables": len(counts),
                **{f"rows.{name}": n for name, n in counts.items()},
            },
            data_version=dg.DataVersion(str(snapshot)),
        )

    return warehouse
