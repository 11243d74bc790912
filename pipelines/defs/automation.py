"""The daily schedule and the dashboards asset on top of the lakehouse definitions."""

import dagster as dg

from assets.capacity.definitions import CAPACITY_CHECKS
from assets.contracts.checks import build_contract_checks
from assets.dashboards.definitions import build_dashboards_asset
from assets.ingest.check import load_checked_specs
from assets.ingest.definitions import FILES_CHECK, ingest_key
from assets.versions import with_code_version
from pipelines.automation import daily_refresh
from pipelines.maintenance import lake_maintenance, lake_maintenance_schedule
from warehouse.settings import Settings


@dg.definitions
def automation() -> dg.Definitions:
    """The daily refresh, the nightly lake maintenance and the dashboard site downstream of the warehouse."""
    checks = [spec for c in [*build_contract_checks(), *CAPACITY_CHECKS] for spec in c.check_specs]
    specs = load_checked_specs(Settings.from_env().sources_dir)
    checks += [dg.AssetCheckSpec(FILES_CHECK, asset=ingest_key(spec)) for spec in specs]
    return dg.Definitions(
        assets=with_code_version([build_dashboards_asset(checks)]),
        jobs=[lake_maintenance],
        schedules=[daily_refresh, lake_maintenance_schedule],
    )
