"""Helpers to run the real ingest engine on hand-made files in a temporary landing zone."""

from pathlib import Path

import duckdb

from assets.ingest.engine import Ingestor, PartitionResult, landed_files, numbered_scan
from assets.ingest.spec import SourceSpec
from assets.reference.tables import create_ref_views
from warehouse.lake import Location

CSV_HEADER = "tenant,start,end,chip,cards,cost\n"


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
    tmp_path: Path, lake: Location, spec: SourceSpec, name: str, content: bytes, run_id: str = "r1"
) -> tuple[PartitionResult, list[dict], list[tuple[int, str]]]:
    """Land `content` as acme/<name>, ingest its partition; returns the result, loaded rows, (row, rule) pairs."""
    landing = Location(str(tmp_path / "landing"))
    path = tmp_path / "landing" / "acme" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    create_ref_views(con, lake)
    files = landed_files(spec, landing)
    (key,) = files
    result = Ingestor(con, spec, landing, lake, run_id, "ref").run(key, files[key])
    loaded = (
        con.execute(
            f"SELECT * FROM {numbered_scan(repr(lake.root + '/ingest/acme/*/*.parquet'))} "
            "WHERE __rule IS NULL ORDER BY source_row"
        )
        if list(Path(lake.root).glob("ingest/acme/*/*.parquet"))
        else None
    )
    rows = loaded.fetchall() if loaded else []
    cols = [d[0] for d in loaded.description] if loaded else []
    quarantine = (
        sorted(
            (r[0], r[1])
            for r in con.execute(
                f"SELECT source_row, rule FROM read_parquet('{lake.root}/audit/quarantine/acme/*/*.parquet')"
            ).fetchall()
        )
        if list(Path(lake.root).glob("audit/quarantine/acme/*/*.parquet"))
        else []
    )
    return result, [dict(zip(cols, r, strict=True)) for r in rows], quarantine


CSV_HEADER = "tenant,start,end,chip,cards,cost\n"
