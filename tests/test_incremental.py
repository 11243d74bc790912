"""A refresh does work in proportion to what changed: a new day runs that day (and what depends on it), and the
result equals a full rebuild from landing."""

import datetime as dt
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest.check import load_checked_specs
from assets.ingest.engine import landed_files
from assets.partitions import REFIT_TAG, last_daily_tick
from assets.subsidy.checkpoints import CHECKPOINTS
from pipelines.definitions import build_definitions
from pipelines.defs.capacity.definitions import KEYS
from pipelines.plan import landed_days, landed_listings, plan_refresh
from pipelines.refresh import refresh_job
from tests.conftest import FRESH_DAYS, FRESH_SCALE, Deployment, make_deployment, settings_for
from tests.test_end_to_end import snapshot
from warehouse.ducklake import LakeConfig, connect_reader
from warehouse.lake import Location

pytestmark = pytest.mark.slow  # refreshes small demo lakehouses day by day

# The demo of the refreshed template: its lake, refreshed from an empty lake in one run, is the full rebuild of
# this module's landing zone.
DAYS, SCALE = FRESH_DAYS, FRESH_SCALE
FORECASTS = list(KEYS.values())  # refitted once a day, not on every delivery


def materializations(deployment: Deployment, run_id: str) -> list[dg.DagsterEvent]:
    """The materialization events of a run."""
    records = deployment.instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    return [record.event_log_entry.dagster_event for record in records.records]


def materialized(deployment: Deployment, run_id: str) -> dict[dg.AssetKey, set[str | None]]:
    """Asset key -> the partitions a run materialized (None for an unpartitioned asset)."""
    found: dict[dg.AssetKey, set[str | None]] = {}
    for event in materializations(deployment, run_id):
        found.setdefault(event.asset_key, set()).add(event.partition)
    return found


def metadata_of(deployment: Deployment, run_id: str, key: dg.AssetKey) -> dict[str, object]:
    """The metadata values of an asset's materialization in a run."""
    for event in materializations(deployment, run_id):
        if event.asset_key == key:
            return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
    raise AssertionError(f"{key} was not materialized")


def latest_checkpoint(lake: LakeConfig) -> list[tuple]:
    """The rows of the subsidy engine's latest checkpoint in a lake."""
    with connect_reader(lake) as con:
        rows = con.execute(
            f"SELECT * FROM {CHECKPOINTS} WHERE through = (SELECT max(through) FROM {CHECKPOINTS})"
        ).fetchall()
    return sorted(rows, key=repr)


def rewritten(deployment: Deployment, run_id: str) -> dict[str, int | str]:
    """Table -> the groups of rows (days, months, datasets) that a run rewrote in it ("all" when whole)."""
    found = {}
    for event in materializations(deployment, run_id):
        metadata = event.step_materialization_data.materialization.metadata
        for name, entry in metadata.items():
            if name.endswith("s_rewritten"):
                found[".".join(event.asset_key.path)] = entry.value
    return found


def hold_back_last_day(deployment: Deployment, held: Path) -> tuple[str, set[str]]:
    """Move the last landed day's files of every daily source out of the landing zone; the day and the sources
    that had files on it."""
    landing = Location(deployment.settings.landing_url)
    specs = [s for s in load_checked_specs(deployment.settings.sources_dir) if s.landing.partition]
    last = max(day for spec in specs for day in landed_files(spec, landing))
    sources = set()
    for spec in specs:
        for path in landed_files(spec, landing).get(last, []):
            target = held / landing.relative(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)  # a move keeps the file's modification time
            sources.add(spec.name)
    return last, sources


def land(held: Path, landing: Path) -> None:
    """Move held files back into the landing zone."""
    for path in held.rglob("*"):
        if path.is_file():
            target = landing / path.relative_to(held)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target)


def test_new_days_run_those_days_and_equal_a_full_rebuild(tmp_path: Path, refreshed_template: Path) -> None:
    deployment = make_deployment(tmp_path / "home", days=DAYS, scale=SCALE)
    landing = Path(deployment.settings.landing_url)
    last, sources = hold_back_last_day(deployment, tmp_path / "held")
    assert len(sources) >= 3, sources
    day_before, _ = hold_back_last_day(deployment, tmp_path / "late")  # delivered late, after the last day
    delivered = (dt.date.fromisoformat(day_before) - dt.timedelta(days=1)).isoformat()
    started = time.time()
    assert deployment.refresh(checks=False).success
    land(tmp_path / "held", landing)

    outcome = deployment.refresh(checks=False)
    assert outcome.success, outcome.failures
    assert outcome.partition_range == (last, last)
    runs = materialized(deployment, outcome.run_id)
    ingested = {key.path[1] for key in runs if key.path[0] == "ingest"}
    assert ingested == sources  # only the sources that delivered the new day ...
    assert all(runs[ingest_key_of(name)] == {last} for name in sources)  # ... and only that day
    assert runs[dg.AssetKey(["core", "compute_usage"])] == {last}
    assert not [key for key in runs if key.path[0] == "ref"]  # reference data did not change
    assert {dg.AssetKey(["marts", "chip_mix"]), dg.AssetKey("warehouse"), dg.AssetKey("dashboards")} <= set(
        runs
    )
    assert dg.AssetKey(["core", "data_transfers"]) in runs or "elastic_net" not in sources
    assert dg.AssetKey(["core", "vouchers"]) not in runs  # the voucher ledger did not change
    subsidy = metadata_of(deployment, outcome.run_id, dg.AssetKey(["marts", "subsidy_attribution"]))
    assert (
        subsidy["attributed_from"] == day_before
    )  # continued from the checkpoint after the newest delivered day
    groups = rewritten(deployment, outcome.run_id)  # the marts rewrote the groups of rows that changed only
    # chip_mix rewrote exactly the charge days of the new day's lines (a job that runs past midnight puts lines
    # on the next day too), out of the many days it holds
    new_days = deployment.query(
        "SELECT DISTINCT charge_date FROM core.compute_usage WHERE partition_key = ?", [last]
    )
    (mix_days,) = deployment.query("SELECT count(DISTINCT usage_date) FROM marts.chip_mix")[0]
    assert groups["marts.chip_mix"] == len(new_days) < mix_days, (new_days, mix_days)
    assert {"marts.capacity_demand_daily", "marts.queue_wait", "marts.cost_reduction_monthly"} <= set(groups)
    assert "all" not in groups.values(), groups
    if last_daily_tick().timestamp() < started:  # forecasts refit on their daily tick, not on every delivery
        assert not set(FORECASTS) & set(runs)

    # a late delivery for the day before: the attribution continues from the checkpoint before that day
    land(tmp_path / "late", landing)
    outcome = deployment.refresh(checks=False)
    assert outcome.success, outcome.failures
    assert outcome.partition_range == (day_before, day_before)
    subsidy = metadata_of(deployment, outcome.run_id, dg.AssetKey(["marts", "subsidy_attribution"]))
    assert subsidy["attributed_from"] == day_before
    checkpoints = {d.isoformat() for (d,) in deployment.query(f"SELECT DISTINCT through FROM {CHECKPOINTS}")}
    assert {
        delivered,
        last,
    } <= checkpoints  # the one it continued from, and one after the newest delivered day

    # the same landing zone refreshed from an empty lake in one run gives the same tables: the refreshed
    # template is that rebuild (the same demo, refreshed without checks in one run; only read here)
    rebuilt = settings_for(refreshed_template).lake
    # the run and the order in which files arrived are history, which differs from a rebuild's
    incremental = snapshot(deployment.settings.lake, exclude=("run_id", "arrival"))
    full = snapshot(rebuilt, exclude=("run_id", "arrival"))
    refits = {".".join(key.path) for key in FORECASTS}
    assert {k: v for k, v in incremental.items() if k not in refits | {CHECKPOINTS}} == {
        k: v for k, v in full.items() if k not in refits | {CHECKPOINTS}
    }
    # the incremental run kept the checkpoint it continued from; the last one equals the rebuild's
    assert latest_checkpoint(deployment.settings.lake) == latest_checkpoint(rebuilt)
    # the forecasts, refitted on their daily tick, then equal the rebuild's too
    assert deployment.refresh(selection=f"tag:{REFIT_TAG}=daily", checks=False).success
    refitted = snapshot(deployment.settings.lake, exclude=("run_id", "arrival"))
    assert {k: v for k, v in refitted.items() if k != CHECKPOINTS} == {
        k: v for k, v in full.items() if k != CHECKPOINTS
    }
    deployment.instance.dispose()


def ingest_key_of(name: str) -> dg.AssetKey:
    """The ingest asset key of a source by name."""
    return dg.AssetKey(["ingest", name])


def test_a_changed_spec_reruns_its_source_and_what_depends_on_it(
    refreshed: Deployment, tmp_path: Path
) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(refreshed.settings.sources_dir, sources)
    spec_file = sources / "telecom_sh.yaml"
    spec_file.write_text(
        spec_file.read_text(encoding="utf-8").replace("description:", "description: (v2)", 1)
    )
    changed = Deployment(
        settings_for(refreshed.settings.home, sources_dir=sources), refreshed.instance, refreshed.manifest
    )
    outcome = changed.refresh(checks=False)
    assert outcome.success, outcome.failures
    runs = materialized(changed, outcome.run_id)
    assert {key for key in runs if key.path[0] == "ingest"} == {ingest_key_of("telecom_sh")}
    assert outcome.plan.reasons[ingest_key_of("telecom_sh")] == "code version changed"
    assert dg.AssetKey(["core", "compute_usage"]) in runs and dg.AssetKey(["ref", "chips"]) not in runs

    # a new catalog snapshot: core.dataset_catalog runs, and core.dataset_terms with it (one step makes both)
    catalog = Path(refreshed.settings.landing_url) / "catalog" / "opendatalab"
    first = min(catalog.glob("snapshot_*.json"))
    shutil.copy(first, catalog / "snapshot_2025-08-03.json")
    with changed.environment():
        defs = build_definitions()
        graph = defs.resolve_asset_graph()
        lakehouse = defs.resources["lakehouse"]
        listings = landed_listings(lakehouse)
        keys = sorted(graph.materializable_asset_keys)
        plan = plan_refresh(
            graph, lakehouse, changed.instance, keys, listings, landed_days(lakehouse, listings)
        )
    assert {dg.AssetKey(["core", "dataset_catalog"]), dg.AssetKey(["core", "dataset_terms"])} <= set(
        plan.keys
    )
    assert refresh_job(defs, dg.AssetSelection.assets(*plan.keys))  # a job Dagster can build


def checks_of(deployment: Deployment, run_id: str, key: dg.AssetKey) -> dict[str, tuple[bool, str]]:
    """Check name -> (passed, which rows it validated) of an asset's checks evaluated in a run."""
    records = deployment.instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    found = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.asset_key == key:
            found[evaluation.check_name] = (evaluation.passed, evaluation.metadata["validated"].value)
    return found


EXPORT = dg.AssetKey(["exports", "focus_cost_and_usage"])
CHIP_MIX = dg.AssetKey(["marts", "chip_mix"])


def test_the_checks_validate_what_changed_since_they_last_passed(tmp_path: Path) -> None:
    deployment = make_deployment(tmp_path / "home", days=DAYS, scale=SCALE)
    last, _ = hold_back_last_day(deployment, tmp_path / "held")
    first = deployment.refresh()
    assert first.success, first.failures
    checks = checks_of(deployment, first.run_id, EXPORT)
    assert checks == {"contract": (True, "every row"), "focus_1_2_conformance": (True, "every row")}
    assert checks_of(deployment, first.run_id, CHIP_MIX) == {"contract": (True, "every row")}

    land(tmp_path / "held", Path(deployment.settings.landing_url))
    second = deployment.refresh()
    assert second.success, second.failures
    new_dates = {
        d.isoformat()
        for (d,) in deployment.query(
            "SELECT DISTINCT charge_date FROM core.compute_usage WHERE partition_key = ?", [last]
        )
    }
    (all_dates,) = deployment.query("SELECT count(DISTINCT x_ChargeDate) FROM exports.focus_cost_and_usage")[
        0
    ]
    checks = checks_of(deployment, second.run_id, EXPORT)
    assert set(checks) == {"contract", "focus_1_2_conformance"}
    for passed, validated in checks.values():
        assert passed and validated.startswith("rows of the "), validated
        # the rows of the charge dates that changed since the first run: the new day's lines (and those the
        # subsidy attribution rewrote), not the export's other dates
        listed = set(validated.rsplit(": ", 1)[1].split(", "))
        assert new_dates <= listed and len(listed) < all_dates, (validated, all_dates)
    # a mart's contract: its rows that the new day's refresh wrote, and its unique grain over every row
    days = ", ".join(f"DATE '{d}'" for d in sorted(new_dates))
    (mix,) = deployment.query(f"SELECT count(*) FROM marts.chip_mix WHERE usage_date IN ({days})")[0]
    passed, validated = checks_of(deployment, second.run_id, CHIP_MIX)["contract"]
    assert passed and validated.startswith(f"the {mix} row(s) inserted since lake snapshot"), validated

    rebuilt = deployment.refresh(full=True)  # a rebuild validates every row again
    assert rebuilt.success, rebuilt.failures
    assert {v for _, v in checks_of(deployment, rebuilt.run_id, EXPORT).values()} == {"every row"}
    assert checks_of(deployment, rebuilt.run_id, CHIP_MIX)["contract"][1] == "every row"
    deployment.instance.dispose()
