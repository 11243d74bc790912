"""The warehouse asset: publishes every core, ref, audit and mart table to the served DuckDB file."""

from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from assets.ingest.definitions import WRITE_POOL
from pipelines.resources import Lakehouse
from warehouse.publish import publish

WAREHOUSE_KEY = dg.AssetKey(["warehouse"])


def build_publish_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The publish asset, downstream of every table asset."""

    @dg.asset(
        key=WAREHOUSE_KEY,
        group_name="warehouse",
        deps=upstream,
        kinds={"duckdb"},
        pool=WRITE_POOL,
        description="The served DuckDB warehouse, rebuilt beside the old one and swapped in atomically.",
    )
    def warehouse(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        counts = publish(lakehouse.lake, Path(lakehouse.warehouse_path))
        context.log.info(f"published {lakehouse.warehouse_path}: {counts}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(lakehouse.warehouse_path),
                "tables": len(counts),
                **{f"rows.{name}": n for name, n in counts.items()},
            }
        )

    return warehouse
