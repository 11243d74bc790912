"""Catalog sources through the real ingest engine and the real core.dataset_catalog build, on hand-made files:
snapshots, removals and licences."""

import datetime as dt
from pathlib import Path

import pytest

from assets.ingest.check import check_spec_file
from assets.ingest.spec import SourceSpec
from tests.ingest_support import build_catalog, catalog_spec, jsonl, land
from warehouse.ducklake import LakeConfig, connect_reader

pytestmark = pytest.mark.slow  # loads catalog snapshots into lakes of their own


def periods(rows: list[dict], dataset: str) -> list[tuple]:
    """(valid_from, valid_to, is_current, is_removed) of a dataset's versions, days as ISO text."""
    day = dt.date.isoformat
    return [
        (day(r["valid_from"]), r["valid_to"] and day(r["valid_to"]), r["is_current"], r["is_removed"])
        for r in rows
        if r["dataset_id"] == dataset
    ]


def test_a_dataset_missing_from_one_snapshot_is_removed_there_and_returns_as_a_new_version(
    tmp_path: Path, lake: LakeConfig
) -> None:
    one, two = {"id": "D1", "name": "one"}, {"id": "D2", "name": "two"}
    snapshots = {"2025-08-01": [one, two], "2025-08-31": [one], "2025-09-30": [one, two]}
    land(tmp_path, {f"cat/{day}.jsonl": jsonl(records) for day, records in snapshots.items()})
    rows = build_catalog(tmp_path, lake, [catalog_spec()])
    assert periods(rows, "D1") == [("2025-08-01", None, True, False)]
    assert periods(rows, "D2") == [
        ("2025-08-01", "2025-08-31", False, True),  # gone from the snapshot of 2025-08-31
        ("2025-09-30", None, True, False),
    ]
    removed = [(r["dataset_id"], r["valid_to"].isoformat()) for r in rows if r["is_removed"]]
    assert removed == [("D2", "2025-08-31")]


def undated_catalog(**fields) -> SourceSpec:
    """A catalog whose file names carry no day: its snapshots are told apart by the `exported` time."""
    return catalog_spec(
        landing={"glob": "cat/*.jsonl"},
        columns={"dataset_id": "id", "name": "name", "snapshot_at": "exported"},
        dedup_keys=["dataset_id", "snapshot_at"],
        **fields,
    )


def test_snapshots_of_an_undated_source_are_told_apart_by_snapshot_at(
    tmp_path: Path, lake: LakeConfig
) -> None:
    spec = undated_catalog()
    snapshot = {
        day: [{"id": d, "name": d.lower(), "exported": f"{day}T00:00:00Z"} for d in datasets]
        for day, datasets in {"2025-08-01": "AB", "2025-08-31": "A", "2025-09-30": "AB"}.items()
    }
    land(tmp_path, {f"cat/export-{day}.jsonl": jsonl(records) for day, records in snapshot.items()})
    rows = build_catalog(tmp_path, lake, [spec])
    assert periods(rows, "A") == [("2025-08-01", None, True, False)]
    assert periods(rows, "B") == [
        ("2025-08-01", "2025-08-31", False, True),
        ("2025-09-30", None, True, False),
    ]


def test_a_catalog_without_licences_is_unknown_not_unmapped(tmp_path: Path, lake: LakeConfig) -> None:
    licensed = catalog_spec(
        "licensed", columns={"dataset_id": "id", "name": "name", "license": "license", "licenses": "licenses"}
    )
    land(
        tmp_path,
        {
            "cat/2025-08-01.jsonl": jsonl([{"id": "D1", "name": "one"}, {"id": "D2", "name": "two"}]),
            "licensed/2025-08-01.jsonl": jsonl(
                [
                    {"id": "L1", "name": "mit", "license": "MIT"},
                    {"id": "L2", "name": "made up", "license": "Made-up Licence 1.0"},
                    {"id": "L3", "name": "none"},
                    {"id": "L4", "name": "blank", "license": " ", "licenses": []},
                ]
            ),
        },
    )
    rows = build_catalog(tmp_path, lake, [catalog_spec(), licensed])
    verdicts = {
        r["dataset_id"]: (r["unmapped_licenses"], r["license_spdx"], r["commercial_use"]) for r in rows
    }
    assert verdicts == {
        "D1": (0, None, None),  # the source has no licence field: unknown, not unmapped
        "D2": (0, None, None),
        "L1": (0, "MIT", True),
        "L2": (1, None, None),  # a licence ref.licenses does not know
        "L3": (0, None, None),
        "L4": (0, None, None),
    }


def test_an_undated_catalog_record_without_its_snapshot_time_is_quarantined_not_dropped(
    tmp_path: Path, lake: LakeConfig
) -> None:
    spec = undated_catalog(max_quarantine_ratio=1.0)
    records = [{"id": "A", "name": "a", "exported": "2025-08-01T00:00:00Z"}, {"id": "B", "name": "b"}]
    land(tmp_path, {"cat/export.jsonl": jsonl(records)})
    rows = build_catalog(tmp_path, lake, [spec])
    assert [r["dataset_id"] for r in rows] == ["A"]
    with connect_reader(lake) as con:
        ledger = con.execute(
            "SELECT rows_read, rows_loaded, rows_quarantined FROM audit.ingest_ledger"
        ).fetchall()
        rules = con.execute("SELECT source_row, rule FROM audit.quarantine").fetchall()
    assert ledger == [(2, 1, 1)] and rules == [(2, "missing_required:snapshot_at")]


def test_an_undated_catalog_must_map_its_snapshot_time(tmp_path: Path) -> None:
    spec = tmp_path / "cat.yaml"
    spec.write_text(
        "name: cat\nkind: catalog\nlanding: {glob: 'cat/*.jsonl'}\nformat: {type: jsonl}\n"
        "columns: {dataset_id: id, name: name}\n",
        encoding="utf-8",
    )
    assert any(
        "columns.snapshot_at: a catalog whose file names carry no day" in p for p in check_spec_file(spec)
    )
