"""Core-table assets: compute usage (daily), transfers, dataset catalog history and vouchers."""

from collections.abc import Callable

import dagster as dg
from dagster import AssetExecutionContext

from assets.core.queries import (
    catalog_history_query,
    compute_usage_query,
    transfers_query,
    union_sources,
    vouchers_query,
)
from assets.ingest.definitions import WRITE_POOL, ingest_key
from assets.ingest.spec import SourceSpec
from assets.partitions import DAILY
from pipelines.resources import Lakehouse
from warehouse.lake import parquet_rows


def build_compute_usage(specs: list[SourceSpec]) -> dg.AssetsDefinition:
    """core.compute_usage, one Parquet file per day, from every usage source of that day."""
    usage = [s for s in specs if s.kind == "usage" and s.landing.partition is not None]

    @dg.asset(
        key=dg.AssetKey(["core", "compute_usage"]),
        group_name="core",
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[ingest_key(s) for s in usage],
        kinds={"duckdb", "parquet"},
        description="One charge line (job x charge period) per row, FOCUS columns plus chips, GPU- and PFLOP-hours.",
        pool=WRITE_POOL,
    )
    def compute_usage(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        lake = lakehouse.lake
        total = 0
        with lakehouse.connect() as con:
            for key in context.partition_keys:
                relative = f"core/compute_usage/day={key}/data.parquet"
                union = union_sources(con, lake, usage, "usage", key)
                if union is None:
                    lake.remove(relative)
                    continue
                lake.write_query(con, compute_usage_query(union), relative)
                total += parquet_rows(con, lake, relative)
        return dg.MaterializeResult(metadata={"rows": total, "days": len(context.partition_keys)})

    return compute_usage


def _build_whole(
    name: str, kind: str, query: Callable[[str], str], sources: list[SourceSpec], description: str
) -> dg.AssetsDefinition:

    @dg.asset(
        key=dg.AssetKey(["core", name]),
        group_name="core",
        deps=[ingest_key(s) for s in sources],
        kinds={"duckdb", "parquet"},
        description=description,
        pool=WRITE_POOL,
    )
    def _core(lakehouse: Lakehouse) -> dg.MaterializeResult:
        lake = lakehouse.lake
        relative = f"core/{name}/data.parquet"
        with lakehouse.connect() as con:
            union = union_sources(con, lake, sources, kind)
            if union is None:
                lake.remove(relative)
                return dg.MaterializeResult(metadata={"rows": 0})
            lake.write_query(con, query(union), relative)
            return dg.MaterializeResult(metadata={"rows": parquet_rows(con, lake, relative)})

    return _core


def build_core_assets(specs: list[SourceSpec]) -> list[dg.AssetsDefinition]:
    """Every core-table asset."""

    def of_kind(kind: str) -> list[SourceSpec]:
        return [s for s in specs if s.kind == kind]

    statements = [s for s in of_kind("usage") if s.landing.partition is None]
    return [
        build_compute_usage(specs),
        _build_whole(
            "compute_usage_statements",
            "usage",
            compute_usage_query,
            statements,
            "core.compute_usage rows from whole-statement files (monthly bills, traces) whose paths carry no day.",
        ),
        _build_whole(
            "data_transfers",
            "transfers",
            transfers_query,
            of_kind("transfers"),
            "One dataset transfer per row, with duration, throughput and cost.",
        ),
        _build_whole(
            "dataset_catalog",
            "catalog",
            catalog_history_query,
            of_kind("catalog"),
            "Dataset versions with history (valid_from / valid_to) across catalog snapshots.",
        ),
        _build_whole(
            "vouchers",
            "vouchers",
            vouchers_query,
            of_kind("vouchers"),
            "One compute subsidy voucher per row.",
        ),
    ]
