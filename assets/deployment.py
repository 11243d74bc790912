"""What every domain of a deployment shares: its checked source specs and its day partitions."""

import dagster as dg

from assets.ingest.check import load_checked_specs
from assets.ingest.engine import first_partition_day
from assets.ingest.spec import SourceSpec
from assets.partitions import daily_partitions
from warehouse.lake import Location
from warehouse.settings import Settings


def deployment_days(settings: Settings, specs: list[SourceSpec]) -> dg.DailyPartitionsDefinition:
    """The day partitions of a deployment: from COMPUTEFLOW_PARTITION_START, or else from the first landed day,
    to today."""
    return daily_partitions(
        first_partition_day(specs, Location(settings.landing_url), settings.partition_start)
    )


def deployment() -> tuple[Settings, list[SourceSpec], dg.DailyPartitionsDefinition]:
    """The deployment the COMPUTEFLOW_* environment describes: settings, source specs (a bad spec fails here,
    naming the file and the key) and day partitions."""
    settings = Settings.from_env()
    specs = load_checked_specs(settings.sources_dir)
    return settings, specs, deployment_days(settings, specs)
