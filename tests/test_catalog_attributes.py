"""Catalog sources keep the fields no canonical column maps (`attributes`), and may version on some of them:
hand-made files through the real ingest engine and the real core.dataset_catalog build."""

import datetime as dt
import json
from pathlib import Path

import pytest

from assets.ingest.check import check_spec_file
from assets.ingest.spec import SourceSpec
from tests.ingest_support import build_catalog, catalog_spec, jsonl, land
from warehouse.ducklake import LakeConfig, connect_reader

pytestmark = pytest.mark.slow  # loads catalog snapshots into lakes of their own


def attributes_of(rows: list[dict]) -> dict[str, dict | None]:
    """Each dataset's kept attributes (of its last version), parsed."""
    return {r["dataset_id"]: r["attributes"] and json.loads(r["attributes"]) for r in rows}


def test_json_records_keep_every_field_no_column_reads(tmp_path: Path, lake: LakeConfig) -> None:
    spec = catalog_spec(
        columns={"dataset_id": "id", "name": "name", "publisher": {"column": "$.creator.name"}},
        attributes={"keep": "unmapped"},
        ignore_columns=["@context"],
        max_quarantine_ratio=1.0,
    )
    card = {"tags": ["zh", 2], "nested": {"gone": None}}
    record = {
        "id": "D1",
        "name": "one",
        "@context": {"@vocab": "https://schema.org/"},
        "creator": {"name": "Lab", "url": "https://lab"},  # read through a path only: kept whole
        "likes": 3,
        "description": "描述",
        "cardData": card,
        "gated": None,
    }
    land(tmp_path, {"cat/2025-08-01.jsonl": jsonl([record, {"id": "D2", "name": "bare"}]) + "{broken\n"})
    rows = build_catalog(tmp_path, lake, [spec])
    assert attributes_of(rows) == {
        "D1": {
            "creator": {"name": "Lab", "url": "https://lab"},
            "likes": 3,
            "description": "描述",
            "cardData": card,
            "gated": None,
        },
        "D2": {},
    }
    with connect_reader(lake) as con:
        loaded = con.execute("SELECT attributes ->> 'likes' FROM lake.ingest.cat WHERE dataset_id = 'D1'")
        assert loaded.fetchall() == [("3",)]
        assert con.execute("SELECT rule FROM lake.audit.quarantine").fetchall() == [("unparsable_record",)]


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        (["likes", "notes"], {"D1": {"likes": "3", "notes": "a, b"}, "D2": {"likes": "4"}}),
        ("unmapped", {"D1": {"likes": "3", "notes": "a, b", "extra": "x"}, "D2": {"likes": "4"}}),
    ],
)
def test_csv_records_keep_listed_or_unmapped_columns_as_text(
    tmp_path: Path, lake: LakeConfig, keep: str | list[str], expected: dict
) -> None:
    spec = catalog_spec(
        landing={"glob": "cat/*.csv", "partition": {"regex": r"(\d{4}-\d{2}-\d{2})"}},
        format={"type": "csv"},
        columns={"dataset_id": "id", "name": "name"},
        attributes={"keep": keep},
    )
    land(tmp_path, {"cat/2025-08-01.csv": 'id,name,likes,notes,extra\nD1,one,3,"a, b",x\nD2,two,4,,\n'})
    assert attributes_of(build_catalog(tmp_path, lake, [spec])) == expected


def test_changes_of_version_on_attributes_open_versions_and_others_update_in_place(
    tmp_path: Path, lake: LakeConfig
) -> None:
    snapshots = {
        "2025-08-01": {"likes": 1, "description": "a"},
        "2025-08-31": {"likes": 5, "description": "a"},  # likes only: no new version
        "2025-09-30": {"likes": 7, "description": "b"},
    }
    specs = [
        catalog_spec("versioned", attributes={"version_on": ["description"]}),
        catalog_spec("unversioned", attributes={}),
    ]
    land(
        tmp_path,
        {
            f"{spec.name}/{day}.jsonl": jsonl([{"id": "D1", "name": "one", **kept}])
            for spec in specs
            for day, kept in snapshots.items()
        },
    )
    rows = build_catalog(tmp_path, lake, specs)
    day = dt.date.isoformat
    versions = [
        (
            r["source_name"],
            day(r["valid_from"]),
            r["valid_to"] and day(r["valid_to"]),
            json.loads(r["attributes"]),
        )
        for r in rows
    ]
    assert versions == [
        ("unversioned", "2025-08-01", None, {"likes": 7, "description": "b"}),
        ("versioned", "2025-08-01", "2025-09-30", {"likes": 5, "description": "a"}),
        ("versioned", "2025-09-30", None, {"likes": 7, "description": "b"}),
    ]


def test_a_catalog_without_attributes_leaves_the_column_null(tmp_path: Path, lake: LakeConfig) -> None:
    land(tmp_path, {"cat/2025-08-01.jsonl": jsonl([{"id": "D1", "name": "one", "likes": 3}])})
    assert attributes_of(build_catalog(tmp_path, lake, [catalog_spec()])) == {"D1": None}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "transfers"}, "attributes apply to catalog sources only"),
        ({"format": {"type": "kv"}}, "a kv record has no list of fields"),
        ({"attributes": {"keep": ["likes"], "version_on": ["stars"]}}, "version_on: stars not in keep"),
        ({"attributes": {"keep": ["$.a.b"]}}, "names of fields, not JSON paths"),
    ],
)
def test_attribute_mistakes_are_refused(fields: dict, expected: str) -> None:
    base = catalog_spec(attributes={}).model_dump(exclude_defaults=True)
    with pytest.raises(ValueError, match=expected):
        SourceSpec.model_validate(base | fields)


def test_versioning_on_a_mapped_field_is_a_spec_problem(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    spec = catalog_spec(attributes={"version_on": ["name", "likes"]})
    path.write_text(json.dumps(spec.model_dump(exclude_defaults=True)), encoding="utf-8")
    assert check_spec_file(path) == [
        f"{path}: attributes.version_on: 'name' is read by a mapping, so it is not a kept attribute"
    ]
