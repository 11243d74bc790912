"""Helpers to run the real ingest engine on hand-made files in a temporary landing zone."""

import json
from pathlib import Path

from assets.core.catalog import write_dataset_catalog
from assets.ingest.engine import Ingestor, PartitionResult, landed_files
from assets.ingest.spec import SourceSpec
from assets.reference.tables import REF_TABLES, create_ref_views, load_reference_table
from assets.tables import ingest_table
from tests.conftest import lake_connection
from warehouse.ducklake import LakeConfig, connect_reader, qualified
from warehouse.lake import Location

CSV_HEADER = "tenant,start,end,chip,cards,cost\n"
GOOD = "T1,2025-08-01 08:00:00,2025-08-01 10:00:00,910B,8,100.5\n"
BROKEN = "T2,2025-08-01 08:00:00,2025-08-01 10:00:00,A100,N/A,10\n"  # unparsable cards: quarantined
OVERNIGHT = "T1,2025-08-05 14:00:00,2025-08-05 18:00:00,910B,8,40\n"  # 22:00 to 02:00 in Shanghai: two days
UNSPLIT = "T3,2025-08-05 08:00:00,2025-08-05 09:00:00,910B,8,1,one field too many\n"  # the reader rejects it
# One file of each outcome, a day each: loaded with a quarantined row, failed (not UTF-8), empty, loaded, and
# loaded with a line over two days, a quarantined row and a record the reader could not split.
MIXED_FILES = {
    "acme/2025-08-01.csv": (CSV_HEADER + GOOD + BROKEN).encode(),
    "acme/2025-08-02.csv": "租户\nT1\n".encode()[:-3] + b"\xff\xfe\n",
    "acme/2025-08-03.csv": b"",
    "acme/2025-08-04.csv": (CSV_HEADER + GOOD * 3).encode(),
    "acme/2025-08-05.csv": (CSV_HEADER + OVERNIGHT + BROKEN + UNSPLIT + GOOD).encode(),
}


def latest_snapshot(lake: LakeConfig) -> int:
    """Id of the lake's latest committed snapshot (a commit adds one)."""
    with connect_reader(lake) as con:
        return int(con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0])


def spec_of(**fields) -> SourceSpec:
    """A usage spec for files acme/<day>.*, overridden by `fields`."""
    base = {
        "name": "acme",
        "kind": "usage",
        "provider_id": "acme",
        "landing": {"glob": "acme/*", "partition": {"regex": r"(\d{4}-\d{2}-\d{2})"}},
        "columns": {
            "tenant_id": "tenant",
            "charge_period_start": "start",
            "charge_period_end": "end",
            "chip": "chip",
            "gpu_count": "cards",
            "billed_cost": "cost",
        },
        "max_quarantine_ratio": 1.0,
        "format": {"type": "csv"},
    }
    base.update(fields)
    return SourceSpec.model_validate(base)


def ingest(
    tmp_path: Path,
    lake: LakeConfig,
    spec: SourceSpec,
    name: str,
    content: bytes,
    run_id: str = "r1",
    rows: bool = True,
) -> tuple[PartitionResult, list[dict], list[tuple[int, str]]]:
    """Land `content` as acme/<name>, ingest its partition; returns the result, loaded rows (none unless `rows`:
    a large file's are checked in SQL), (row, rule) pairs."""
    landing = Location(str(tmp_path / "landing"))
    path = tmp_path / "landing" / "acme" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with lake_connection(lake) as con:
        files = landed_files(spec, landing)
        (key,) = files
        result = Ingestor(con, spec, landing, str(tmp_path / "scratch"), run_id).run(key, files[key])
        found: list[dict] = []
        if rows:
            loaded = con.execute(f"SELECT * FROM {qualified(ingest_table(spec.name))} ORDER BY source_row")
            cols = [d[0] for d in loaded.description]
            found = [dict(zip(cols, r, strict=True)) for r in loaded.fetchall()]
        quarantine = sorted(
            con.execute(
                f"SELECT source_row, rule FROM {qualified('audit.quarantine')} WHERE source_name = ?",
                [spec.name],
            ).fetchall()
        )
    return result, found, quarantine


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


def jsonl(records: list[dict]) -> str:
    """Records as JSON lines."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def land(tmp_path: Path, files: dict[str, str | bytes]) -> Location:
    """Write files (relative path -> text, or bytes as they are) into the landing zone under tmp_path."""
    for name, content in files.items():
        path = tmp_path / "landing" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return Location(str(tmp_path / "landing"))


def build_catalog(tmp_path: Path, lake: LakeConfig, specs: list[SourceSpec]) -> list[dict]:
    """Ingest every landed partition of the catalog specs and build core.dataset_catalog; its rows, in order."""
    landing = Location(str(tmp_path / "landing"))
    with lake_connection(lake) as con:
        for name in ("licenses", "modalities", "task_categories", "programming_languages"):
            load_reference_table(con, REF_TABLES[name], landing)
        create_ref_views(con)
        for spec in specs:
            for key, paths in sorted(landed_files(spec, landing).items()):
                result = Ingestor(con, spec, landing, str(tmp_path / "scratch"), "r1").run(key, paths)
                assert result.errors == [], result.errors
        write_dataset_catalog(con, specs)
        cursor = con.execute(
            f"SELECT * FROM {qualified('core.dataset_catalog')} ORDER BY source_name, dataset_id, valid_from"
        )
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
