"""Helpers to run the real ingest engine on hand-made files in a temporary landing zone."""

from pathlib import Path

from assets.ingest.engine import Ingestor, PartitionResult, landed_files
from assets.ingest.spec import SourceSpec
from assets.tables import ingest_table
from tests.conftest import lake_connection
from warehouse.ducklake import LakeConfig, connect_reader, qualified
from warehouse.lake import Location

CSV_HEADER = "tenant,start,end,chip,cards,cost\n"


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
    tmp_path: Path, lake: LakeConfig, spec: SourceSpec, name: str, content: bytes, run_id: str = "r1"
) -> tuple[PartitionResult, list[dict], list[tuple[int, str]]]:
    """Land `content` as acme/<name>, ingest its partition; returns the result, loaded rows, (row, rule) pairs."""
    landing = Location(str(tmp_path / "landing"))
    path = tmp_path / "landing" / "acme" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with lake_connection(lake) as con:
        files = landed_files(spec, landing)
        (key,) = files
        result = Ingestor(con, spec, landing, str(tmp_path / "scratch"), run_id, "ref").run(key, files[key])
        loaded = con.execute(f"SELECT * FROM {qualified(ingest_table(spec.name))} ORDER BY source_row")
        cols = [d[0] for d in loaded.description]
        rows = [dict(zip(cols, r, strict=True)) for r in loaded.fetchall()]
        quarantine = sorted(
            con.execute(
                f"SELECT source_row, rule FROM {qualified('audit.quarantine')} WHERE source_name = ?",
                [spec.name],
            ).fetchall()
        )
    return result, rows, quarantine


CSV_HEADER = "tenant,start,end,chip,cards,cost\n"
