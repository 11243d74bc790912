"""Specs stay inside their roots, names cannot inject SQL, credentials never sit in URLs, output is escaped."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import Deployment
from tests.ingest_support import CSV_HEADER, ingest, spec_of
from warehouse.lake import Location

OK = "T1,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,10\n"


def test_a_symlink_out_of_the_landing_zone_is_not_read(tmp_path: Path, lake: Location) -> None:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(CSV_HEADER + OK, encoding="utf-8")
    landing = tmp_path / "landing" / "acme"
    landing.mkdir(parents=True)
    os.symlink(secret, landing / "2025-08-01-extra.csv")
    result, loaded, _ = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", (CSV_HEADER + OK).encode())
    refused = [r for r in result.rows if r.source_file == "acme/2025-08-01-extra.csv"]
    assert refused and refused[0].status == "failed" and refused[0].checksum == ""
    assert "outside the landing zone" in result.errors[0]
    assert {r["source_file"] for r in loaded} == {"acme/2025-08-01.csv"}


def test_hostile_column_names_are_quoted_not_executed(tmp_path: Path, lake: Location) -> None:
    tenant = 'ten"ant'
    cost = "cost'); DROP TABLE x; --"
    header = f'"{tenant.replace(chr(34), chr(34) * 2)}",start,end,chip,cards,"{cost}"\n'
    columns = {
        **{k: v.model_dump(exclude_none=True) for k, v in spec_of().columns.items()},
        "tenant_id": tenant,
        "billed_cost": {"expr": f"col({cost!r}) * 2"},
    }
    _, loaded, _ = ingest(tmp_path, lake, spec_of(columns=columns), "2025-08-01.csv", (header + OK).encode())
    assert loaded[0]["tenant_id"] == "T1" and float(loaded[0]["billed_cost"]) == 20.0


@pytest.mark.parametrize("url", ["s3://AKIAEXAMPLE:verysecret@bucket/lake", "https://user:pw@example.org/x"])
def test_credentials_in_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ValueError) as error:
        Location(url)
    assert "environment" in str(error.value)
    assert "secret" not in str(error.value) and "pw" not in str(error.value).split("://")[-1]


def test_cli_prints_data_literally(demo: Deployment, monkeypatch) -> None:
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(demo.settings.home))
    hostile = "[bold red]<script>alert(1)</script>[/bold red]"
    result = CliRunner().invoke(main, ["sql", f"select '{hostile}' as name"])
    assert result.exit_code == 0 and "[bold red]" in result.output and "<script>" in result.output
    as_json = CliRunner().invoke(main, ["sql", f"select '{hostile}' as name", "--format", "json"])
    assert json.loads(as_json.output) == [{"name": hostile}]


def test_resource_metadata_holds_no_credentials(demo: Deployment, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak-4f1d")
    config = json.dumps(demo.definitions().resources["lakehouse"].model_dump(), default=str)
    assert "do-not-leak-4f1d" not in config


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("COPY (SELECT 1) TO '{out}'", "refused a COPY statement"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'", "refused a COPY statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM read_text('{landing}/reference/tenants.csv')", "file system operations are disabled"),
        ("ATTACH '{out}' AS x", "refused a ATTACH statement"),
        ("SET enable_external_access = true", "refused a SET statement"),
        ("SELECT 1; INSTALL httpfs", "refused a LOAD statement"),
    ],
)
def test_sql_reads_the_lake_and_nothing_else(demo: Deployment, monkeypatch, tmp_path, query, refusal) -> None:
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(demo.settings.home))
    out = tmp_path / "out.csv"
    text = query.format(out=out, landing=demo.settings.home / "landing")
    result = CliRunner().invoke(main, ["sql", text])
    assert result.exit_code == 1 and refusal in result.output and not out.exists()
    answer = CliRunner().invoke(main, ["sql", "SELECT count(*) AS n FROM core.vouchers", "--format", "json"])
    assert answer.exit_code == 0 and json.loads(answer.output)[0]["n"] > 0
