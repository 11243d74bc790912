"""Core-table assets: compute usage (daily), transfers, dataset catalog history and vouchers."""

from collections.abc import Callable, Iterator

import dagster as dg
from dagster import AssetExecutionContext

from assets.core.catalog import write_dataset_catalog
from assets.core.queries import transfers_query, union_sources, vouchers_query
from assets.core.usage import define_usage_view
from assets.deployment import deployment
from assets.ingest.spec import SourceSpec
from assets.keys import ingest_key
from assets.pools import write_pool
from assets.resources import Lakehouse
from assets.table_metadata import add_table_metadata
from assets.tables import TABLES
from pipelines.domains import domain_definitions
from warehouse.rewrite import replace_changed
from warehouse.transactions import commit


def build_compute_usage(specs: list[SourceSpec], days: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """core.compute_usage by day: the day's loaded rows of every daily usage source."""
    usage = [s for s in specs if s.kind == "usage" and s.landing.partition is not None]

    @dg.asset(
        key=dg.AssetKey(["core", "compute_usage"]),
        group_name="core",
        partitions_def=days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[ingest_key(s) for s in usage],
        kinds={"duckdb", "ducklake"},
        description="One charge line (job x charge period) per row, FOCUS columns plus chips, GPU- and PFLOP-hours.",
        pool=write_pool(dg.AssetKey(["core", "compute_usage"])),
    )
    def compute_usage(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        with lakehouse.connect() as con:
            define_usage_view(con, lakehouse.specs())
            add_table_metadata(context, con, "core.compute_usage")
        return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})

    return compute_usage


def build_usage_statements(specs: list[SourceSpec]) -> dg.AssetsDefinition:
    """core.compute_usage rows of whole-statement files (sources with no day in the path)."""
    statements = [s for s in specs if s.kind == "usage" and s.landing.partition is None]

    @dg.asset(
        key=dg.AssetKey(["core", "compute_usage_statements"]),
        group_name="core",
        deps=[ingest_key(s) for s in statements],
        kinds={"duckdb", "ducklake"},
        description="core.compute_usage rows of whole-statement files (monthly bills, traces) with no day in the path.",
        pool=write_pool(dg.AssetKey(["core", "compute_usage_statements"])),
    )
    def compute_usage_statements(
        context: AssetExecutionContext, lakehouse: Lakehouse
    ) -> dg.MaterializeResult:
        with lakehouse.connect() as con:
            define_usage_view(con, lakehouse.specs())
            add_table_metadata(context, con, "core.compute_usage")
        return dg.MaterializeResult()

    return compute_usage_statements


def _build_whole(
    name: str,
    kind: str,
    query: Callable[[str], str],
    sources: list[SourceSpec],
    description: str,
    key: str,
) -> dg.AssetsDefinition:
    """An unpartitioned core table built by one query over every source of a kind; a refresh rewrites only the
    groups of rows (by `key`) that changed."""

    @dg.asset(
        key=dg.AssetKey(["core", name]),
        group_name="core",
        deps=[ingest_key(s) for s in sources],
        kinds={"duckdb", "ducklake"},
        description=description,
        pool=write_pool(dg.AssetKey(["core", name])),
    )
    def _core(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        table = TABLES[f"core.{name}"]
        with lakehouse.connect() as con:
            union = union_sources(con, sources, kind)
            with commit(con, f"core.{name}"):
                rewritten = replace_changed(
                    con, table.name, query(union) if union else f"{table.empty_select()} LIMIT 0", key
                )
            add_table_metadata(context, con, table.name)
        return dg.MaterializeResult(metadata={f"{key}s_rewritten": "all" if rewritten is None else rewritten})

    return _core


def build_dataset_catalog(sources: list[SourceSpec]) -> dg.AssetsDefinition:
    """core.dataset_catalog (versions with history, terms normalised) and core.dataset_terms (the lookup)."""
    reference = ("licenses", "modalities", "task_categories")

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                dg.AssetKey(["core", "dataset_catalog"]),
                group_name="core",
                deps=[*(ingest_key(s) for s in sources), *(dg.AssetKey(["ref", r]) for r in reference)],
                kinds={"duckdb", "ducklake"},
                description="Dataset versions with history (valid_from / valid_to) across catalog snapshots; "
                "licences, modalities, languages and tasks normalised beside the raw values.",
            ),
            dg.AssetSpec(
                dg.AssetKey(["core", "dataset_terms"]),
                group_name="core",
                deps=[dg.AssetKey(["ref", r]) for r in reference],
                kinds={"duckdb", "ducklake"},
                description="Every raw licence, modality, language and task value of the catalogs and the "
                "normalised term it maps to (NULL when unmapped), with how many datasets carry it.",
            ),
        ],
        pool=write_pool("core/dataset_catalog"),
    )
    def dataset_catalog(
        context: AssetExecutionContext, lakehouse: Lakehouse
    ) -> Iterator[dg.MaterializeResult]:
        with lakehouse.connect() as con:
            unmapped = write_dataset_catalog(con, sources)
            for name in ("dataset_catalog", "dataset_terms"):
                key = dg.AssetKey(["core", name])
                add_table_metadata(context, con, f"core.{name}", key)
                metadata = {"unmapped_terms": unmapped} if name == "dataset_terms" else {}
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)

    return dataset_catalog


def build_core_assets(specs: list[SourceSpec], days: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """Every core-table asset (core.compute_usage over the day partitions `days`)."""

    def of_kind(kind: str) -> list[SourceSpec]:
        return [s for s in specs if s.kind == kind]

    return [
        build_compute_usage(specs, days),
        build_usage_statements(specs),
        _build_whole(
            "data_transfers",
            "transfers",
            transfers_query,
            of_kind("transfers"),
            "One dataset transfer per row, with duration, throughput and cost.",
            key="partition_key",
        ),
        build_dataset_catalog(of_kind("catalog")),
        _build_whole(
            "vouchers",
            "vouchers",
            vouchers_query,
            of_kind("vouchers"),
            "One compute subsidy voucher per row.",
            key="voucher_id",
        ),
    ]


@dg.definitions
def defs() -> dg.Definitions:
    """The core tables of the deployment's sources."""
    _settings, specs, days = deployment()
    return domain_definitions(build_core_assets(specs, days))
