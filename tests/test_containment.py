"""A rejected delivery stops only its own source: the others' new day reaches core, the marts and the analysts
in the same refresh, and the rejected file's rows are queryable right after it."""

import csv
import io
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest.check import load_checked_specs
from assets.ingest.engine import landed_files
from pipelines.definitions import build_definitions
from pipelines.refresh import refresh
from tests.conftest import Deployment
from warehouse.lake import Location

pytestmark = pytest.mark.slow  # refreshes small demo lakehouses of its own

BROKEN = "unicom_sh"


def hold_back_last_day(deployment: Deployment, held: Path) -> dict[str, list[Path]]:
    """Move every day-partitioned source's files of the last landed day out of landing; returns them by source."""
    landing = Location(deployment.settings.landing_url)
    specs = [
        s for s in load_checked_specs(deployment.settings.sources_dir) if s.landing.partition is not None
    ]
    last = max(day for s in specs for day in landed_files(s, landing))
    moved: dict[str, list[Path]] = {}
    for spec in specs:
        for path in landed_files(spec, landing).get(last, []):
            target = held / Path(path).relative_to(deployment.settings.landing_url)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            moved.setdefault(spec.name, []).append(target)
    return moved


def break_amounts(path: Path) -> None:
    """Rewrite a FOCUS CSV (UTF-8 with byte-order mark) with every BilledCost as '$10,000.00 '."""
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "BilledCost": "$10,000.00 "})
    path.write_text(out.getvalue(), encoding="utf-8-sig")


def test_a_rejected_file_stops_only_its_source(fresh: Deployment, tmp_path: Path) -> None:
    moved = hold_back_last_day(fresh, tmp_path / "held")
    assert BROKEN in moved and len(moved) > 2, moved
    # the days before, as far as core (the refresh under test builds the rest with the new day)
    assert fresh.refresh("+key:core/compute_usage", checks=False).success
    usage = "SELECT count(*), sum(billed_cost_cny) FROM core.compute_usage WHERE provider_id = ?"
    before = fresh.query(usage, [BROKEN])
    assert before[0][0] > 0

    landing = Path(fresh.settings.landing_url)
    for files in moved.values():
        for path in files:
            target = landing / path.relative_to(tmp_path / "held")
            shutil.move(path, target)
            if target.parts[-2] == BROKEN:
                break_amounts(target)
                broken = target.relative_to(landing).as_posix()

    outcome = fresh.refresh(checks=False)

    assert not outcome.success
    assert any(BROKEN in f and broken in f for f in outcome.failures), outcome.failures
    # The other sources' new files reached core and the marts in the same refresh ...
    for source, files in moved.items():
        loaded = fresh.query(
            "SELECT status, rows_loaded FROM audit.ingest_ledger WHERE source_name = ? AND source_file = ?",
            [source, files[0].relative_to(tmp_path / "held").as_posix()],
        )
        if source != BROKEN:
            assert loaded and loaded[0][0] in ("loaded", "empty"), (source, loaded)
    published = fresh.instance.get_latest_materialization_event(dg.AssetKey("warehouse"))
    assert published is not None and published.run_id == outcome.run_id
    chip_mix = fresh.instance.get_latest_materialization_event(dg.AssetKey(["marts", "chip_mix"]))
    assert chip_mix is not None and chip_mix.run_id == outcome.run_id
    # ... the broken source kept its last good rows, and its rejected rows are queryable now.
    assert fresh.query(usage, [BROKEN]) == before
    assert fresh.query(
        "SELECT status FROM audit.ingest_ledger WHERE source_name = ? AND source_file = ?", [BROKEN, broken]
    ) == [("rejected",)]
    quarantined = fresh.query(
        "SELECT count(*) FROM audit.quarantine WHERE source_name = ? AND source_file = ?", [BROKEN, broken]
    )
    assert quarantined[0][0] > 0
    check = dg.AssetCheckKey(dg.AssetKey(["ingest", BROKEN]), "files_accepted")
    record = fresh.instance.event_log_storage.get_asset_check_execution_history(check, limit=1)[0]
    evaluation = record.event.dagster_event.event_specific_data
    assert not evaluation.passed and broken in evaluation.description
    # The data-quality dashboard of this refresh lists the refused file and the failed check.
    quality = (fresh.settings.dashboards_path / "quality.html").read_text(encoding="utf-8")
    assert broken in quality and "files_accepted" in quality


def test_skipping_checks_skips_the_contracts_but_not_the_ingest_verdict(fresh: Deployment) -> None:
    with fresh.environment():
        outcome = refresh(
            build_definitions(), fresh.instance, f"key:ref/* or key:ingest/{BROKEN}", checks=False
        )
    assert outcome.success, outcome.failures
    records = fresh.instance.get_records_for_run(
        outcome.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    evaluated = {r.event_log_entry.dagster_event.event_specific_data.check_name for r in records}
    assert evaluated == {"files_accepted"}
    assert fresh.query("SELECT count(*) FROM audit.ingest_ledger WHERE source_name = ?", [BROKEN])[0][0] > 0
