"""Dagster component type: every source spec in a folder becomes an ingest asset and a landing sensor."""

from pathlib import Path

import dagster as dg

from assets.deployment import deployment_days
from assets.ingest.check import load_checked_specs
from pipelines.defs.automation.definitions import REFRESH_JOB
from pipelines.defs.ingest.assets import build_ingest_assets
from pipelines.defs.ingest.sensors import build_landing_sensor
from warehouse.settings import REPO_ROOT, Settings


class SourceSpecsComponent(dg.Component, dg.Resolvable, dg.Model):
    """Turns the YAML source specs of a folder into Dagster definitions, with no Python per source.

    Each spec yields one ingest asset (daily-partitioned when its file paths carry a day); one sensor watches
    every spec's landing glob and requests a run of the partitions whose files are new or changed and of
    everything downstream. A spec that
    does not validate fails the load with an error naming the file and the key.
    """

    sources_dir: str | None = None

    def resolved_dir(self) -> Path:
        """The spec folder: the attribute (relative to the repository), else COMPUTEFLOW_SOURCES_DIR."""
        if self.sources_dir:
            path = Path(self.sources_dir)
            return path if path.is_absolute() else REPO_ROOT / path
        return Settings.from_env().sources_dir

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """Ingest assets and the landing sensor of every spec."""
        specs = load_checked_specs(self.resolved_dir())
        days = deployment_days(Settings.from_env(), specs)
        return dg.Definitions(
            assets=build_ingest_assets(specs, days), sensors=[build_landing_sensor(specs, REFRESH_JOB)]
        )
