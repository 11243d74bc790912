"""A data team adds a provider with one spec file and a sample, no Python, and finds its rows in the warehouse."""

import gzip
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import Deployment
from warehouse.settings import CONTRACTS_DIR

pytestmark = pytest.mark.slow  # refreshes a small demo lakehouse with a new provider

# SenseTime is in ref.providers and ref.rate_cards but had no usage feed: here it starts sending one.
SPEC = """\
name: sensetime
kind: usage
provider_id: sensetime
description: SenseTime SenseCore daily export (semicolon CSV, gzip, US dates, thousands separators).
landing:
  glob: providers/sensetime/SenseCore_*.csv.gz
  partition: {regex: 'SenseCore_(\\d{4}-\\d{2}-\\d{2})', format: '%Y-%m-%d'}
format: {type: csv, encoding: utf-8, compression: gzip, delimiter: ";"}
timezone: Asia/Shanghai
currency: CNY
columns:
  tenant_id: Customer
  job_id: Job
  chip: Card
  gpu_count: Cards
  charge_period_start: {column: From, format: '%m/%d/%Y %H:%M'}
  charge_period_end: {column: To, format: '%m/%d/%Y %H:%M'}
  billed_cost: {column: Amount, thousands: ","}
  site_id: {const: lingang}
chip_aliases: {A100-SXM4-40GB: A100}
pricing: {rate_card_provider: sensetime}
dedup_keys: [job_id, charge_period_start]
"""

SAMPLE = """\
Customer;Job;Card;Cards;From;To;Amount
T042;ST-1;A100-SXM4-40GB;8;08/02/2025 09:30;08/02/2025 19:30;"1,656.00"
T042;ST-2;H800;4;08/02/2025 10:00;08/02/2025 12:00;
T043;ST-3;Ascend 910B;16;08/02/2025 00:00;08/02/2025 06:00;"1,296.00"
"""


def with_sources(deployment: Deployment, sources: Path) -> Deployment:
    """The same running deployment, its specs read from a copy of the shipped ones in `sources`."""
    shutil.copytree(CONTRACTS_DIR / "sources", sources)
    return Deployment(
        replace(deployment.settings, sources_dir=sources), deployment.instance, deployment.manifest
    )


@pytest.fixture
def with_new_provider(refreshed: Deployment, tmp_path: Path) -> Deployment:
    """A running deployment (refreshed once) to which a new provider's spec and first file are added."""
    deployment = with_sources(refreshed, tmp_path / "sources")
    (deployment.settings.sources_dir / "sensetime.yaml").write_text(SPEC, encoding="utf-8")
    drop = Path(deployment.settings.landing_url) / "providers" / "sensetime" / "SenseCore_2025-08-02.csv.gz"
    drop.parent.mkdir(parents=True)
    drop.write_bytes(gzip.compress(SAMPLE.encode("utf-8")))
    return deployment


def test_spec_and_sample_file_give_rows_in_the_published_warehouse(with_new_provider: Deployment) -> None:
    outcome = with_new_provider.refresh()
    assert outcome.success, outcome.failures
    rows = with_new_provider.query(
        "SELECT job_id, chip_model, gpu_hours, billed_cost, priced_from_rate_card, charge_period_start, provider_name "
        "FROM core.compute_usage WHERE source_name = 'sensetime' ORDER BY job_id"
    )
    assert [r[0] for r in rows] == ["ST-1", "ST-2", "ST-3"]
    st1, st2, st3 = rows
    assert st1[1] == "A100" and st1[2] == pytest.approx(80.0) and st1[3] == Decimal("1656.0000")
    assert st1[5].isoformat() == "2025-08-02T01:30:00+00:00"  # 09:30 in Shanghai
    (contracted,) = with_new_provider.query(
        "SELECT contracted_price FROM ref.rate_cards WHERE provider_id = 'sensetime' AND chip_model = 'H800'"
    )[0]
    assert st2[4] and st2[3] == Decimal(str(round(8 * contracted, 4)))  # no amount: priced from the rate card
    assert st3[1] == "Ascend910B" and st1[6] == "SenseTime"
    (mix,) = with_new_provider.query("SELECT count(*) FROM marts.chip_mix WHERE provider_id = 'sensetime'")[0]
    assert mix > 0


def test_sources_list_and_check_see_the_new_spec(with_new_provider: Deployment, monkeypatch) -> None:
    monkeypatch.setenv("COMPUTEFLOW_SOURCES_DIR", str(with_new_provider.settings.sources_dir))
    listed = CliRunner().invoke(main, ["sources", "list"])
    assert listed.exit_code == 0 and "sensetime" in listed.output
    checked = CliRunner().invoke(
        main, ["sources", "check", str(with_new_provider.settings.sources_dir / "sensetime.yaml")]
    )
    assert checked.exit_code == 0, checked.output


def test_a_scaffolded_draft_loads_the_sample_it_was_drafted_from(
    refreshed: Deployment, tmp_path: Path
) -> None:
    sources = tmp_path / "sources"
    deployment = with_sources(refreshed, sources)
    landing = Path(deployment.settings.landing_url)
    sample = landing / "providers" / "telecom_sh" / "bill_20250801.csv"
    (landing / "providers" / "telecom_copy").mkdir()
    shutil.copy(sample, landing / "providers" / "telecom_copy" / sample.name)
    result = CliRunner().invoke(
        main,
        [
            "sources",
            "scaffold",
            "telecom_copy",
            "--sample",
            str(sample),
            "--output",
            str(sources / "telecom_copy.yaml"),
        ],
    )
    assert result.exit_code == 0 and "passes" in result.output, result.output
    draft = (sources / "telecom_copy.yaml").read_text(encoding="utf-8")
    assert "encoding: gbk" in draft and '"租户编号"' in draft and "%Y-%m-%d %H:%M:%S" in draft
    outcome = deployment.refresh(checks=False)
    assert outcome.success, outcome.failures
    original, copy = (
        deployment.query(
            f"SELECT count(*), sum(gpu_hours) FROM core.compute_usage WHERE source_name = '{n}' "
            "AND partition_key = '2025-08-01'"
        )[0]
        for n in ("telecom_sh", "telecom_copy")
    )
    assert copy[0] == original[0] and copy[1] == pytest.approx(original[1])


def test_check_reports_each_mistake_with_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "sensetime.yaml"
    bad.write_text(
        SPEC.replace("delimiter", "delimeter").replace(
            "chip_aliases: {A100-SXM4-40GB: A100}", "chip_aliases: {A100-SXM4-40GB: A1000}"
        )
    )
    result = CliRunner().invoke(main, ["sources", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: format.delimeter: unknown key" in result.output
    bad.write_text(
        SPEC.replace("chip_aliases: {A100-SXM4-40GB: A100}", "chip_aliases: {A100-SXM4-40GB: A1000}")
    )
    result = CliRunner().invoke(main, ["sources", "check", str(bad)])
    assert f"{bad}: chip_aliases.A100-SXM4-40GB: unknown chip_model 'A1000'" in result.output
