"""The code location's one resource: the lakehouse (landing zone, DuckLake catalog and data) the COMPUTEFLOW_*
environment describes."""

import dagster as dg

from assets.resources import Lakehouse
from warehouse.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    """The `lakehouse` resource every asset, check, sensor and schedule uses."""
    return dg.Definitions(resources={"lakehouse": Lakehouse.from_settings(Settings.from_env())})
