"""Catalog sources through the real ingest engine and the real core.dataset_catalog build, on hand-made files:
snapshots, removals and licences."""

import datetime as dt
import json
from pathlib import Path

from assets.core.catalog import write_dataset_catalog
from assets.ingest.engine import Ingestor, landed_files
from assets.ingest.spec import SourceSpec
from assets.reference.tables import REF_TABLES, create_ref_views, load_reference_table
from tests.conftest import lake_connection
from warehouse.ducklake import LakeConfig
from warehouse.lake import Location

REFERENCE = ("licenses", "modalities", "task_categories", "programming_languages")


def catalog_spec(name: str = "cat", **fields) -> SourceSpec:
    """A catalog of JSON-lines snapshots <name>/<day>.jsonl, overridden by `fields`."""
    base = {
        "name": name,
        "kind": "catalog",
        "landing": {"glob": f"{name}/*.jsonl", "partition": {"regex": r"(\d{4}-\d{2}-\d{2})"}},
        "format": {"type": "jsonl"},
        "columns": {"dataset_id": "id", "name": "name", "downloads": "downloads"},
        "dedup_keys": ["dataset_id", "partition_key"],
    }
    return SourceSpec.model_validate(base | fields)


def land(tmp_path: Path, files: dict[str, list[dict]]) -> None:
    """Write each file's records as JSON lines under the landing zone."""
    for name, records in files.items():
        path = tmp_path / "landing" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def build(tmp_path: Path, lake: LakeConfig, specs: list[SourceSpec]) -> list[dict]:
    """Ingest every landed partition of the specs, build core.dataset_catalog; its rows in order."""
    landing = Location(str(tmp_path / "landing"))
    with lake_connection(lake) as con:
        for name in REFERENCE:
            load_reference_table(con, REF_TABLES[name], landing)
        create_ref_views(con)
        for spec in specs:
            for key, paths in sorted(landed_files(spec, landing).items()):
                result = Ingestor(con, spec, landing, str(tmp_path / "scratch"), "r1", "ref").run(key, paths)
                assert result.errors == [], result.errors
        write_dataset_catalog(con, specs)
        cursor = con.execute(
            "SELECT * FROM lake.core.dataset_catalog ORDER BY source_name, dataset_id, valid_from"
        )
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


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
    land(
        tmp_path,
        {
            "cat/2025-08-01.jsonl": [one, two],
            "cat/2025-08-31.jsonl": [one],
            "cat/2025-09-30.jsonl": [one, two],
        },
    )
    rows = build(tmp_path, lake, [catalog_spec()])
    assert periods(rows, "D1") == [("2025-08-01", None, True, False)]
    assert periods(rows, "D2") == [
        ("2025-08-01", "2025-08-31", False, True),  # gone from the snapshot of 2025-08-31
        ("2025-09-30", None, True, False),
    ]
    removed = [(r["dataset_id"], r["valid_to"].isoformat()) for r in rows if r["is_removed"]]
    assert removed == [("D2", "2025-08-31")]


def test_snapshots_of_an_undated_source_are_told_apart_by_snapshot_at(
    tmp_path: Path, lake: LakeConfig
) -> None:
    spec = catalog_spec(
        landing={"glob": "cat/*.jsonl"},
        columns={"dataset_id": "id", "name": "name", "snapshot_at": "exported"},
        dedup_keys=["dataset_id", "snapshot_at"],
    )
    snapshot = {
        day: [{"id": d, "name": d.lower(), "exported": f"{day}T00:00:00Z"} for d in datasets]
        for day, datasets in {"2025-08-01": "AB", "2025-08-31": "A", "2025-09-30": "AB"}.items()
    }
    land(tmp_path, {f"cat/export-{day}.jsonl": records for day, records in snapshot.items()})
    rows = build(tmp_path, lake, [spec])
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
            "cat/2025-08-01.jsonl": [{"id": "D1", "name": "one"}, {"id": "D2", "name": "two"}],
            "licensed/2025-08-01.jsonl": [
                {"id": "L1", "name": "mit", "license": "MIT"},
                {"id": "L2", "name": "made up", "license": "Made-up Licence 1.0"},
                {"id": "L3", "name": "none"},
                {"id": "L4", "name": "blank", "license": " ", "licenses": []},
            ],
        },
    )
    rows = build(tmp_path, lake, [catalog_spec(), licensed])
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
