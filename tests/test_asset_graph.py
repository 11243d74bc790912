"""A snapshot of the code location: every asset spec (key, group, deps, partitions, automation, freshness),
check, job, schedule and sensor, on the shipped source specs. A change to the graph shows as a diff of
tests/snapshots/asset_graph.json; after a deliberate one, rewrite it with COMPUTEFLOW_UPDATE_SNAPSHOTS=1."""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import build_definitions

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _partitions(spec: dg.AssetSpec) -> dict | None:
    days = spec.partitions_def
    if days is None:
        return None
    assert isinstance(days, dg.DailyPartitionsDefinition)
    return {
        "daily_from": days.start.date().isoformat(),
        "timezone": days.timezone,
        "end_offset": days.end_offset,
    }


def graph_snapshot(defs: dg.Definitions) -> dict:
    """What the snapshot holds of a Definitions: specs, checks, jobs, schedules and sensors, sorted."""
    specs = sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.path)
    graph = defs.resolve_asset_graph()
    checks = sorted(
        (graph.get_check_spec(k) for k in graph.asset_check_keys), key=lambda c: (c.asset_key.path, c.name)
    )
    return {
        "assets": {
            spec.key.to_user_string(): {
                "group": spec.group_name,
                "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
                "kinds": sorted(spec.kinds),
                "partitions": _partitions(spec),
                "automation_condition": str(spec.automation_condition) if spec.automation_condition else None,
                "freshness": str(spec.freshness_policy) if spec.freshness_policy else None,
                "tags": dict(sorted(spec.tags.items())),
            }
            for spec in specs
        },
        "checks": [
            {"asset": c.asset_key.to_user_string(), "name": c.name, "blocking": c.blocking} for c in checks
        ],
        "jobs": sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")),
        "schedules": {
            s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name}
            for s in sorted(defs.schedules or [], key=lambda s: s.name)
        },
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


@pytest.fixture(scope="module")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.Definitions]:
    """The code location on an empty home, its day partitions from a fixed start."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COMPUTEFLOW_HOME", str(tmp_path_factory.mktemp("home")))
    mp.setenv("COMPUTEFLOW_PARTITION_START", "2025-08-01")
    try:
        yield build_definitions()
    finally:
        mp.undo()


def test_the_asset_graph_matches_its_snapshot(definitions: dg.Definitions) -> None:
    found = graph_snapshot(definitions)
    if os.environ.get("COMPUTEFLOW_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert found == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_every_dependency_is_an_asset_of_the_location(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    assert [
        k.to_user_string() for k in graph.get_all_asset_keys() if not graph.get(k).is_materializable
    ] == []


def test_every_mart_has_a_code_version_of_its_own(definitions: dg.Definitions) -> None:
    from assets.marts.declarations import sql_marts

    versions = {s.key: s.code_version for s in definitions.resolve_all_asset_specs()}
    for table, mart in sql_marts().items():
        assert versions[dg.AssetKey(table.split("."))] == mart.code_version
