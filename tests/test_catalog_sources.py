"""Real catalog and transfer sources: the Data Provenance Collection, Croissant descriptions, GridFTP logs."""

import gzip
import json
from pathlib import Path

from assets.ingest.spec import load_spec
from assets.ingest.spec_files import LandingSpec
from pipelines.demo.samples import SAMPLES_DIR
from tests.conftest import Deployment
from tests.ingest_support import ingest
from warehouse.lake import Location
from warehouse.settings import CONTRACTS_DIR


def test_every_data_provenance_record_is_read_and_its_licences_normalised(demo: Deployment) -> None:
    files = sorted((SAMPLES_DIR / "data_provenance_catalog").glob("*/*.json"))
    records = {key for f in files for key in json.loads(f.read_bytes())}
    ((read, loaded, duplicates),) = demo.query(
        "SELECT sum(rows_read), sum(rows_loaded), count(*) FILTER (WHERE status = 'duplicate') "
        "FROM audit.ingest_ledger WHERE source_name = 'data_provenance'"
    )
    identical = {f.read_bytes() for f in files}
    assert duplicates == len(files) - len(identical)  # a byte-identical collection file is not loaded twice
    assert read == loaded == sum(len(json.loads(b)) for b in identical) and loaded >= len(records) - 5
    by_modality = dict(
        demo.query(
            "SELECT modality[1], count(*) FROM core.dataset_catalog WHERE source_name = 'data_provenance' GROUP BY 1"
        )
    )
    assert set(by_modality) == {"text", "speech", "video"}
    unmapped = demo.query(
        "SELECT count(*) FROM core.dataset_catalog WHERE source_name = 'data_provenance' AND unmapped_licenses > 0"
    )
    assert unmapped == [(0,)]
    nc = demo.query(
        "SELECT DISTINCT commercial_use FROM core.dataset_catalog "
        "WHERE source_name = 'data_provenance' AND license = 'CC BY-NC 4.0'"
    )
    assert nc == [(False,)]
    hours = demo.query(
        "SELECT hours FROM core.dataset_catalog WHERE source_name = 'data_provenance' AND dataset_id = 'aishell-1'"
    )
    assert hours and hours[0][0] > 100  # speech "Hours" and video "Video Hours" both land in hours


def test_croissant_descriptions_land_with_spdx_licences_and_sizes(demo: Deployment) -> None:
    rows = demo.query(
        "SELECT c.dataset_id, c.license, c.license_spdx, c.size_bytes, o.size_bytes, c.languages "
        "FROM core.dataset_catalog c JOIN core.dataset_catalog o "
        "ON o.source_name = 'opendatalab' AND o.dataset_id = c.dataset_id AND o.valid_from = c.valid_from "
        "WHERE c.source_name = 'croissant'"
    )
    assert rows and any(licence.startswith("https://") for _, licence, *_ in rows)
    for dataset_id, _, spdx, size, expected_size, languages in rows:
        assert spdx is not None and size == expected_size and languages, dataset_id


def test_gridftp_logs_become_transfers_with_throughput_and_failures_kept(
    tmp_path: Path, lake: Location
) -> None:
    shipped = gzip.decompress((SAMPLES_DIR / "nersc_transfer_logs" / "globuslogs.txt.gz").read_bytes())
    lines = shipped.decode().splitlines()
    failed = lines[0].replace("CODE=226", "CODE=426").replace("HOST=", "HOST=retry.")  # a failed transfer
    spec = load_spec(CONTRACTS_DIR / "sources" / "nersc_gridftp.yaml")
    spec = spec.model_copy(update={"name": "acme", "landing": LandingSpec(glob="acme/*")})
    content = gzip.compress(("\n".join([*lines, failed]) + "\n").encode())
    result, loaded, quarantined = ingest(tmp_path, lake, spec, "globuslogs.txt.gz", content)
    assert result.errors == [] and quarantined == []
    assert len(loaded) == len(lines) + 1
    assert any(" " in r["file_path"] for r in loaded)  # unquoted paths with spaces stay whole
    assert {r["status"] for r in loaded} == {"completed", "failed"}
    assert {r["direction"] for r in loaded} == {"inbound", "outbound"}
    for r in loaded:
        seconds = r["duration_seconds"]
        assert seconds > 0 and abs(r["throughput_mbps"] - r["bytes"] * 8 / 1e6 / seconds) < 1e-6
