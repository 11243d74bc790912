"""Datasets and their moves: the network-savings and dataset-flow marts (declared in warehouse/sql/marts/; the
core tables they read, core.dataset_catalog and core.data_transfers, are built in the core domain)."""

import dagster as dg

from assets.marts.factory import mart_assets
from pipelines.domains import domain_definitions


@dg.definitions
def defs() -> dg.Definitions:
    """The catalog and transfer marts."""
    return domain_definitions(mart_assets("catalog_transfers"))
