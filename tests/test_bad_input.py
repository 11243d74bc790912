"""Bad input through the real ingest path: each case is a clear error or a quarantined row, and the ledger adds up."""

import gzip
from pathlib import Path

import pytest

from assets.ingest.staging import FileStager
from assets.reference.tables import REF_TABLES, load_reference_table
from tests.conftest import lake_connection
from tests.ingest_support import CSV_HEADER, ingest, spec_of
from warehouse.ducklake import LakeConfig
from warehouse.lake import Location

pytestmark = pytest.mark.slow  # ingests a bad file per case into a lake of its own

OK = "T1,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,10\n"


def balanced(result) -> bool:
    return all(r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_held for r in result.rows)


def rules(quarantine: list[tuple[int, str]]) -> dict[int, str]:
    return dict(quarantine)


def test_truncated_file(tmp_path: Path, lake: LakeConfig) -> None:
    body = (CSV_HEADER + OK * 3 + OK[:20]).encode()
    result, loaded, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert len(loaded) == 3 and rules(quarantine) == {4: "unparsable_record"} and balanced(result)


def test_extra_unknown_column_loads_the_known_ones_and_is_reported(tmp_path: Path, lake: LakeConfig) -> None:
    body = ("tenant,start,end,chip,cards,cost,carbon_kg\n" + OK.replace("\n", ",3.2\n")).encode()
    result, loaded, _ = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert len(loaded) == 1 and result.rows[0].new_columns == "carbon_kg"


def test_wrong_delimiter_is_a_clear_error(tmp_path: Path, lake: LakeConfig) -> None:
    body = (CSV_HEADER + OK).replace(",", ";").encode()
    result, loaded, _ = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert loaded == [] and result.rows[0].status == "failed"
    assert "2025-08-01.csv" in result.errors[0] and "is the delimiter ',' right?" in result.errors[0]


@pytest.mark.parametrize("body", [b"", CSV_HEADER.encode()])
def test_empty_and_header_only_files(tmp_path: Path, lake: LakeConfig, body: bytes) -> None:
    result, loaded, _ = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert loaded == [] and result.rows[0].status == "empty" and not result.errors


def test_duplicate_rows_within_a_file(tmp_path: Path, lake: LakeConfig) -> None:
    spec = spec_of(
        columns={**spec_of().model_dump()["columns"], "job_id": "job"},
        dedup_keys=["job_id", "charge_period_start"],
    )
    header = CSV_HEADER.replace("cost", "cost,job")
    body = (
        header + OK.replace("\n", ",J1\n") + OK.replace("\n", ",J2\n") + OK.replace("\n", ",J1\n")
    ).encode()
    result, loaded, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", body)
    assert [r["job_id"] for r in loaded] == ["J1", "J2"] and rules(quarantine) == {3: "duplicate_key"}
    assert balanced(result)


def test_absurd_quantities_and_amounts(tmp_path: Path, lake: LakeConfig) -> None:
    body = (
        CSV_HEADER + OK + OK.replace(",1,10", ",1000000,10") + OK.replace(",1,10", ",1,1000000000000")
    ).encode()
    result, loaded, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert rules(quarantine) == {2: "absurd_quantity:gpu_count", 3: "absurd_amount:billed_cost_cny"}
    assert len(loaded) == 1 and balanced(result)


def test_timestamps_in_the_future_of_the_delivery(tmp_path: Path, lake: LakeConfig) -> None:
    body = (CSV_HEADER + OK + OK.replace("2025-08-01", "2026-08-01")).encode()
    _, loaded, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert rules(quarantine) == {2: "future_timestamp"} and len(loaded) == 1


def test_unknown_tenant(tmp_path: Path, lake: LakeConfig) -> None:
    landing = tmp_path / "landing" / "reference"
    landing.mkdir(parents=True)
    (landing / "tenants.csv").write_text(
        "tenant_id,tenant_name,tenant_name_en,district,stage,founded_date,joined_date,affiliated_provider_id\n"
        "T1,星辰,Xingchen,徐汇区,A,2023-01-01,2023-09-01,\n",
        encoding="utf-8",
    )
    with lake_connection(lake) as con:
        load_reference_table(con, REF_TABLES["tenants"], Location(str(tmp_path / "landing")))
    body = (CSV_HEADER + OK + OK.replace("T1", "T999")).encode()
    _, loaded, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert rules(quarantine) == {2: "unknown_tenant"} and len(loaded) == 1
    _, loaded, quarantine = ingest(
        tmp_path, lake, spec_of(check_tenants=False), "2025-08-01.csv", body, run_id="r2"
    )
    assert quarantine == [] and len(loaded) == 2


def test_unknown_currency_and_thousands_separators(tmp_path: Path, lake: LakeConfig) -> None:
    spec = spec_of(
        columns={
            **{k: v.model_dump(exclude_none=True) for k, v in spec_of().columns.items()},
            "billed_cost": {"column": "cost", "thousands": ","},
            "billing_currency": "cur",
        }
    )
    header = CSV_HEADER.replace("cost", "cost,cur")
    body = (
        header
        + 'T1,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,"1,234.50",CNY\n'
        + 'T2,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,"12",XYZ\n'
    ).encode()
    _, loaded, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", body)
    assert rules(quarantine) == {2: "unknown_currency"}
    assert float(loaded[0]["billed_cost"]) == 1234.5


def test_mixed_time_zones(tmp_path: Path, lake: LakeConfig) -> None:
    body = (
        CSV_HEADER
        + OK
        + OK.replace("2025-08-01 08:00:00", "2025-08-01T00:00:00Z")
        + OK.replace("2025-08-01 08:00:00", "2025-08-01T09:00:00+09:00")
    ).encode()
    _, loaded, _ = ingest(tmp_path, lake, spec_of(timezone="Asia/Shanghai"), "2025-08-01.csv", body)
    assert {r["charge_period_start"].isoformat() for r in loaded} == {"2025-08-01T00:00:00+00:00"}


def test_gzip_declared_but_plain_text(tmp_path: Path, lake: LakeConfig) -> None:
    result, _, _ = ingest(
        tmp_path,
        lake,
        spec_of(format={"type": "csv", "compression": "gzip"}),
        "2025-08-01.csv.gz",
        (CSV_HEADER + OK).encode(),
    )
    assert "not a gzip file" in result.errors[0]
    result, loaded, _ = ingest(
        tmp_path,
        lake,
        spec_of(format={"type": "csv", "compression": "gzip"}),
        "2025-08-01.csv.gz",
        gzip.compress((CSV_HEADER + OK).encode()),
        run_id="r2",
    )
    assert len(loaded) == 1 and not result.errors


def test_a_file_that_grows_while_it_is_read(tmp_path: Path, lake: LakeConfig, monkeypatch) -> None:
    original = FileStager.stage_files

    def load_while_appending(self, files):
        staged = original(self, files)
        for landed in files:
            with open(landed.local, "a", encoding="utf-8") as handle:  # the provider is still writing
                handle.write(OK)
        return staged

    monkeypatch.setattr(FileStager, "stage_files", load_while_appending)
    result, loaded, _ = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", (CSV_HEADER + OK).encode())
    assert result.rows[0].status == "failed" and loaded == []
    assert "changed while it was being read" in result.errors[0]
    monkeypatch.setattr(FileStager, "stage_files", original)
    result, loaded, _ = ingest(
        tmp_path,
        lake,
        spec_of(),
        "2025-08-01.csv",
        (tmp_path / "landing" / "acme" / "2025-08-01.csv").read_bytes(),
        run_id="r2",
    )
    assert len(loaded) == 2 and not result.errors


def test_a_capacity_plan_without_pool_share_serves_every_card(tmp_path: Path, lake: LakeConfig) -> None:
    landing = tmp_path / "landing" / "reference"
    landing.mkdir(parents=True)
    plan = "site_id,chip_model,effective_date,cards,status,note\nlingang,A100,2025-06-30,12000,installed,\n"
    (landing / "capacity_plan.csv").write_text(plan, encoding="utf-8")
    con = lake_connection(lake)
    assert load_reference_table(con, REF_TABLES["capacity_plan"], Location(str(tmp_path / "landing"))) == 1
    rows = con.execute("SELECT cards, pool_share FROM lake.ref.capacity_plan")
    assert rows.fetchall() == [(12000, 1.0)]
    (landing / "capacity_plan.csv").write_text(plan.replace("cards,", "units,"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"capacity_plan.csv: missing column\(s\) cards"):
        load_reference_table(con, REF_TABLES["capacity_plan"], Location(str(tmp_path / "landing")))
