"""Schedules, freshness checks and the dashboards asset on top of the lakehouse definitions."""

import dagster as dg

from assets.capacity.definitions import CAPACITY_ASSETS, CAPACITY_CHECKS
from assets.contracts.checks import build_contract_checks
from assets.dashboards.definitions import build_dashboards_asset
from assets.marts.definitions import MART_ASSETS
from assets.marts.subsidy import subsidy_marts
from pipelines.automation import daily_refresh, freshness_sensor, mart_freshness_checks


@dg.definitions
def automation() -> dg.Definitions:
    """The daily refresh, freshness of every mart, and the dashboard site downstream of the warehouse."""
    marts = [
        key
        for a in [*MART_ASSETS, subsidy_marts, *CAPACITY_ASSETS]
        for key in a.keys
        if key.path[0] == "marts"
    ]
    checks = mart_freshness_checks(marts)
    check_keys = [key for c in [*build_contract_checks(), *CAPACITY_CHECKS, *checks] for key in c.check_keys]
    return dg.Definitions(
        assets=[build_dashboards_asset(check_keys)],
        asset_checks=checks,
        schedules=[daily_refresh],
        sensors=[freshness_sensor(checks)],
    )
