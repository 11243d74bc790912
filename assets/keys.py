"""Asset keys of the lakehouse, shared by every domain: which asset writes a table, and the keys and check names
that more than one domain refers to."""

import dagster as dg

from assets.ingest.spec import SourceSpec
from assets.tables import TABLE_ASSETS

FILES_CHECK = (
    "files_accepted"  # an ingest asset's own check: every landed file of the refreshed days accepted
)
SOURCES_KEY = dg.AssetKey(["meta", "sources"])
COLUMNS_KEY = dg.AssetKey(["meta", "columns"])
WAREHOUSE_KEY = dg.AssetKey(["warehouse"])
DASHBOARDS_KEY = dg.AssetKey(["dashboards"])


def ingest_key(spec: SourceSpec) -> dg.AssetKey:
    """Asset key of a source's ingest asset."""
    return dg.AssetKey(["ingest", spec.name])


def table_asset_keys(table: str) -> list[dg.AssetKey]:
    """The assets whose lake files make up a published table."""
    return [dg.AssetKey(list(k)) for k in TABLE_ASSETS.get(table, (tuple(table.split(".")),))]
