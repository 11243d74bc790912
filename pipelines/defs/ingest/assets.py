"""Dagster assets built from source specs: one asset per source, daily-partitioned when its files are."""

import contextlib

import dagster as dg
from dagster import AssetExecutionContext

from assets.ingest.engine import UNPARTITIONED, Ingestor, commit_batches, landed_listing
from assets.ingest.spec import SourceSpec
from assets.keys import FILES_CHECK, ingest_key
from assets.landing_versions import NO_FILES, listing_versions, record_versions
from assets.pools import write_pool
from assets.reference.tables import INGEST_REFERENCE
from assets.resources import Lakehouse
from assets.table_metadata import add_table_metadata
from assets.tables import ingest_table
from assets.versions import spec_code_version


def build_ingest_asset(spec: SourceSpec, days: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The ingest asset of one source spec (over the day partitions `days` when its files carry a day)."""
    partitioned = spec.landing.partition is not None

    @dg.asset(
        key=ingest_key(spec),
        group_name=f"ingest_{spec.kind}",
        description=spec.description or f"{spec.kind} files of source {spec.name}",
        partitions_def=days if partitioned else None,
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        deps=[dg.AssetKey(["ref", name]) for name in INGEST_REFERENCE],
        kinds={"duckdb", "ducklake"},
        tags={"computeflow/kind": spec.kind},
        metadata={
            "landing_glob": spec.landing.glob,
            "format": spec.format.type,
            "provider_id": spec.provider_id,
        },
        pool=write_pool(ingest_key(spec)),
        code_version=spec_code_version(spec),
        check_specs=[
            dg.AssetCheckSpec(
                FILES_CHECK,
                asset=ingest_key(spec),
                description="Every landed file of the refreshed days was accepted: none rejected by its "
                "source's limits and none that could not be read. A failure here stops only this source: "
                "its table keeps its last good rows and the other sources go on downstream.",
            )
        ],
    )
    def _ingest(context: AssetExecutionContext, lakehouse: Lakehouse) -> dg.MaterializeResult:
        keys = context.partition_keys if partitioned else [UNPARTITIONED]
        totals = {"files": 0, "rows_read": 0, "rows_loaded": 0, "rows_quarantined": 0, "files_reloaded": 0}
        errors: list[str] = []
        try:
            listing = landed_listing(spec, lakehouse.landing)
            versions = listing_versions(lakehouse.landing, listing)
            with (
                lakehouse.connect() as con,
                contextlib.closing(
                    Ingestor(con, spec, lakehouse.landing, lakehouse.scratch_path, context.run.run_id)
                ) as ingestor,
            ):
                errors += _load(context, ingestor, listing, keys, versions, totals)
                add_table_metadata(context, con, ingest_table(spec.name))
        except Exception as exc:  # nothing of this source was committed by this run
            errors.append(f"{type(exc).__name__}: {exc}")
        context.log.info(f"{spec.name}: {totals}")
        for error in errors:
            context.log.error(f"source {spec.name}: {error}")
        check = dg.AssetCheckResult(
            check_name=FILES_CHECK,
            passed=not errors,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"source {spec.name}: " + "; ".join(errors) if errors else None,
            metadata={"errors": len(errors), "first_error": errors[0] if errors else ""},
        )
        return dg.MaterializeResult(metadata=totals, check_results=[check])

    return _ingest


def _load(
    context: AssetExecutionContext,
    ingestor: Ingestor,
    listing: dict[str, dict[str, dict]],
    keys: list[str],
    versions: dict[str, str],
    totals: dict[str, int],
) -> list[str]:
    """Ingest the partitions `keys` of the landed files `listing`, a few partitions per lake commit, adding
    their counts to `totals` and recording the committed partitions' landing versions; returns the errors."""
    errors: list[str] = []
    paths = {key: list(listing.get(key, {})) for key in keys}
    sizes = {key: sum(int(info.get("size") or 0) for info in listing.get(key, {}).values()) for key in keys}
    batches = commit_batches(keys, sizes)
    # a commit's files are staged on threads of their own, a few together, while the commit before it writes and
    # commits (a single file has nothing to overlap with: it is staged in turn, on the step's thread)
    ahead = sum(map(len, paths.values())) > 1
    for batch in batches[:1] if ahead else []:
        ingestor.stage_ahead([(key, paths[key]) for key in batch])
    for batch, upcoming in zip(batches, [*batches[1:], []], strict=True):
        if ahead and upcoming:
            ingestor.stage_ahead([(key, paths[key]) for key in upcoming])
        committed: dict[str, str] = {}
        for key, result in zip(batch, ingestor.run_together([(k, paths[k]) for k in batch]), strict=True):
            if isinstance(result, Exception):  # the partition's commit rolled back: its old rows stay
                errors.append(f"partition {key}: {type(result).__name__}: {result}")
                continue
            # the files as listed before loading: a file replaced meanwhile differs next time
            committed[key] = versions.get(key, NO_FILES)
            errors += result.errors
            for row in result.rows:
                totals["files"] += 1
                totals["rows_read"] += row.rows_read
                totals["rows_loaded"] += row.rows_loaded
                totals["rows_quarantined"] += row.rows_quarantined
                totals["files_reloaded"] += int(row.run_id == context.run.run_id)
        if committed:
            record_versions(context, committed)
    return errors


def build_ingest_assets(specs: list[SourceSpec], days: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """Ingest assets for every spec."""
    return [build_ingest_asset(s, days) for s in specs]
