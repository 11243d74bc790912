"""The Dagster code location: every asset of the lakehouse, its resources and jobs."""

from __future__ import annotations

import warnings

import dagster as dg

from assets.core.definitions import build_core_assets
from assets.ingest.check import load_checked_specs
from assets.ingest.definitions import build_ingest_assets
from assets.marts.definitions import MART_ASSETS
from assets.publish import build_publish_asset
from assets.reference.definitions import REFERENCE_ASSETS
from pipelines.resources import Lakehouse
from pipelines.settings import Settings

warnings.filterwarnings("ignore", category=dg.BetaWarning)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Definitions for a deployment; a bad source spec fails here, loudly, naming file and key."""
    settings = settings or Settings.from_env()
    specs = load_checked_specs(settings.sources_dir)
    tables = [*REFERENCE_ASSETS, *build_ingest_assets(specs), *build_core_assets(specs), *MART_ASSETS]
    publish = build_publish_asset([key for a in tables for key in a.keys])
    return dg.Definitions(
        assets=[*tables, publish],
        resources={"lakehouse": Lakehouse.from_settings(settings)},
        jobs=[
            dg.define_asset_job(
                "refresh_all",
                selection=dg.AssetSelection.all(),
                description="Ingest new files, rebuild core tables and marts, publish.",
            )
        ],
    )


defs = build_definitions()
