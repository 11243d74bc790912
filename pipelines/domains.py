"""What every domain folder of the code location (pipelines/defs/<domain>/) does with its assets: the project's
code version (a mart keeps the digest of its SQL and YAML), Dagster's column schema of the table each writes,
the marts' freshness policy, and the contract checks of the tables it writes."""

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from assets.contracts.checks import build_contract_checks
from assets.table_metadata import with_column_schema
from assets.versions import with_code_version

# A mart older than a day and a bit has missed a daily refresh: Dagster's freshness daemon marks it failing.
MART_MAX_AGE = timedelta(hours=26)
MART_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=MART_MAX_AGE)


def with_mart_freshness(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The assets, each mart (a key under `marts/`) with the marts' freshness policy."""
    return list(
        dg.map_asset_specs(
            lambda spec: (
                dg.apply_freshness_policy(spec, MART_FRESHNESS) if spec.key.path[0] == "marts" else spec
            ),
            assets,
        )
    )


def domain_definitions(
    assets: Sequence[dg.AssetsDefinition], asset_checks: Sequence[dg.AssetChecksDefinition] = (), **kwargs
) -> dg.Definitions:
    """A domain's definitions: its assets (code version, column schema, marts' freshness), its own checks and
    the contract check of every table its assets write."""
    keys = {key for a in assets for key in a.keys}
    return dg.Definitions(
        assets=with_mart_freshness(with_code_version(with_column_schema(list(assets)))),
        asset_checks=[*asset_checks, *build_contract_checks(keys)],
        **kwargs,
    )
