"""Reference, core, mart and warehouse assets (with their tables' column schemas), the lakehouse resource and the
refresh job."""

import dagster as dg

from assets.capacity.definitions import CAPACITY_ASSETS, CAPACITY_CHECKS
from assets.contracts.checks import build_contract_checks
from assets.core.definitions import build_core_assets
from assets.dictionary.definitions import build_dictionary_asset
from assets.dictionary.sources import build_sources_asset
from assets.exports.focus_check import focus_conformance
from assets.ingest.check import load_checked_specs
from assets.ingest.definitions import ingest_key
from assets.marts.definitions import MART_ASSETS
from assets.marts.subsidy import subsidy_marts
from assets.publish import build_publish_asset
from assets.reference.definitions import REFERENCE_ASSETS
from assets.resources import Lakehouse
from assets.table_metadata import with_column_schema
from assets.versions import with_code_version
from pipelines.automation import REFRESH_JOB, deployment_days, with_mart_freshness
from warehouse.settings import Settings


@dg.definitions
def lakehouse() -> dg.Definitions:
    """Everything downstream of ingest, for the deployment the environment describes."""
    settings = Settings.from_env()
    specs = load_checked_specs(settings.sources_dir)
    tables = [
        *REFERENCE_ASSETS,
        *build_core_assets(specs, deployment_days(settings, specs)),
        *MART_ASSETS,
        subsidy_marts,
        *CAPACITY_ASSETS,
        build_sources_asset(specs),
    ]
    upstream = [key for a in tables for key in a.keys] + [ingest_key(s) for s in specs]
    dictionary = build_dictionary_asset(upstream)
    tables.append(dictionary)
    upstream.append(dictionary.key)
    return dg.Definitions(
        assets=with_mart_freshness(
            with_code_version(with_column_schema([*tables, build_publish_asset(upstream)]))
        ),
        asset_checks=[*build_contract_checks(), *CAPACITY_CHECKS, focus_conformance],
        resources={"lakehouse": Lakehouse.from_settings(settings)},
        jobs=[
            dg.define_asset_job(
                REFRESH_JOB,
                selection=dg.AssetSelection.all(),
                description="Ingest new files, rebuild core tables and marts, publish the warehouse.",
            )
        ],
    )
