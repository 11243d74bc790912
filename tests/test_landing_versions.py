"""Landing versions recorded in Dagster: one observation per commit, read back per partition, newest first."""

import dagster as dg

from assets.ingest.engine import UNPARTITIONED
from assets.landing_versions import (
    LANDING_VERSION,
    LANDING_VERSIONS,
    changed_partitions,
    recorded_versions,
)

KEY = dg.AssetKey(["ingest", "telecom_sh"])


def observe(instance: dg.DagsterInstance, metadata: dict, partition: str | None = None) -> None:
    instance.report_runless_asset_event(
        dg.AssetObservation(asset_key=KEY, partition=partition, metadata=metadata)
    )


def test_the_newest_version_of_each_partition_wins_across_commits_and_the_older_per_partition_form() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        observe(instance, {LANDING_VERSION: "old-1"}, partition="2025-08-01")  # as earlier releases recorded
        observe(instance, {LANDING_VERSION: "old-2"}, partition="2025-08-02")
        observe(
            instance, {LANDING_VERSIONS: dg.MetadataValue.json({"2025-08-02": "a-2", "2025-08-03": "a-3"})}
        )
        observe(instance, {LANDING_VERSIONS: dg.MetadataValue.json({"2025-08-03": "b-3"})})
        observe(instance, {"rows": 5})  # an observation without versions is no version
        recorded = recorded_versions(instance, KEY)
    assert recorded == {"2025-08-01": "old-1", "2025-08-02": "a-2", "2025-08-03": "b-3"}
    current = {"2025-08-01": "old-1", "2025-08-02": "a-2", "2025-08-03": "a-3", "2025-08-04": "new"}
    assert changed_partitions(current, recorded) == ["2025-08-03", "2025-08-04"]


def test_an_unpartitioned_asset_records_under_its_one_key() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        observe(instance, {LANDING_VERSION: "before"})
        observe(instance, {LANDING_VERSIONS: dg.MetadataValue.json({UNPARTITIONED: "after"})})
        assert recorded_versions(instance, KEY) == {UNPARTITIONED: "after"}
