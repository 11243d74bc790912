"""The Dagster code location: pipelines/defs, one folder per domain (see the README's layout section)."""

import warnings

import dagster as dg

from warehouse.settings import REPO_ROOT

warnings.filterwarnings("ignore", category=dg.BetaWarning)


def build_definitions() -> dg.Definitions:
    """Load pipelines/defs for the deployment the COMPUTEFLOW_* environment describes.

    A bad source spec fails here, loudly, naming the file and the key.
    """
    return dg.load_from_defs_folder(path_within_project=REPO_ROOT)


@dg.definitions
def defs() -> dg.Definitions:
    """The code location's definitions, built when Dagster loads the location (not on import)."""
    return build_definitions()
