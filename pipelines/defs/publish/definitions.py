"""What a refresh publishes: meta.sources, the data dictionary (meta.columns, after every other table) and the
warehouse snapshot (after everything)."""

import dagster as dg

from assets.deployment import deployment
from assets.keys import ingest_key, table_asset_keys
from assets.tables import TABLES
from pipelines.defs.publish.dictionary import build_dictionary_asset
from pipelines.defs.publish.sources import build_sources_asset
from pipelines.defs.publish.warehouse import build_publish_asset
from pipelines.domains import domain_definitions

_WRITTEN_BY_EVERY_INGEST = "audit"  # the audit tables: every ingest asset writes them


@dg.definitions
def defs() -> dg.Definitions:
    """meta.sources, meta.columns downstream of every asset that writes a table, and the warehouse asset
    downstream of them all."""
    _settings, specs, _days = deployment()
    writers = {
        key
        for table in TABLES
        if table != "meta.columns" and table.split(".")[0] != _WRITTEN_BY_EVERY_INGEST
        for key in table_asset_keys(table)
    }
    upstream = sorted(writers | {ingest_key(s) for s in specs}, key=lambda k: k.path)
    dictionary = build_dictionary_asset(upstream)
    published = [build_sources_asset(specs), dictionary]
    return domain_definitions([*published, build_publish_asset([*upstream, dictionary.key])])
