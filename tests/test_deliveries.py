"""Real deliveries through the real ingest path: ambiguous headers, non-finite numbers, zone abbreviations,
zero-length periods and the names of the rules that quarantine rows. Each asserts the money and the ledger."""

import os
from decimal import Decimal
from pathlib import Path

import pytest

from assets.ingest.engine import Ingestor, landed_files
from assets.ingest.ledger import read_ledger
from assets.ingest.readers import SourceFileError
from assets.reference.tables import REF_TABLES, load_reference_table
from assets.tables import ingest_table
from tests.conftest import lake_connection
from tests.ingest_support import CSV_HEADER, ingest, spec_of
from warehouse.ducklake import LakeConfig, qualified
from warehouse.lake import Location

pytestmark = pytest.mark.slow  # ingests real-format deliveries into lakes of their own

OK = "T1,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,10\n"


def accounted(result) -> bool:
    """rows read = rows loaded + quarantined + held, for every file."""
    return all(r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_held for r in result.rows)


def test_a_header_naming_a_mapped_column_twice_is_refused(tmp_path: Path, lake: LakeConfig) -> None:
    # a discount column relabelled with the payable column's name, placed before it
    header = "tenant,start,end,chip,cards,cost,cost\n"
    body = (header + "T1,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,-1.5,10\n").encode()
    result, loaded, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    (ledger,) = result.rows
    assert loaded == [] and quarantine == [] and ledger.status == "failed" and ledger.money_loaded is None
    assert result.errors == [ledger.detail]
    assert ledger.detail.startswith("acme/2025-08-01.csv: ")
    assert "names column 'cost' 2 times (columns 6, 7)" in ledger.detail


def test_a_repeated_column_the_spec_does_not_read_is_harmless(tmp_path: Path, lake: LakeConfig) -> None:
    header = "tenant,start,end,chip,cards,cost,note,NOTE\n"
    body = (header + OK.replace("\n", ",a,b\n")).encode()
    result, loaded, _ = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert [r["billed_cost"] for r in loaded] == [Decimal("10.0000")] and not result.errors


def test_nan_and_infinity_are_quarantined_per_row(tmp_path: Path, lake: LakeConfig) -> None:
    body = (
        CSV_HEADER
        + OK
        + OK.replace(",1,10", ",NaN,10")
        + OK.replace(",1,10", ",inf,10")
        + OK.replace(",1,10", ",-Infinity,10")
        + OK.replace(",1,10", ",1,NaN")
    ).encode()
    result, loaded, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert quarantine == [
        (2, "non_finite:gpu_count"),
        (3, "non_finite:gpu_count"),
        (4, "non_finite:gpu_count"),
        (5, "unparsable:billed_cost"),
    ]
    assert [r["source_row"] for r in loaded] == [1] and result.rows[0].money_loaded == Decimal("10")
    assert accounted(result) and not result.errors


def test_a_nan_epoch_quarantines_its_row_not_its_file(tmp_path: Path, lake: LakeConfig) -> None:
    columns = {k: v.model_dump(exclude_none=True) for k, v in spec_of().columns.items()}
    spec = spec_of(columns={**columns, "charge_period_start": {"column": "start", "epoch": "s"}})
    body = (
        CSV_HEADER
        + "T1,1754006400,2025-08-01 09:00:00,A100,1,10\n"
        + "T1,NaN,2025-08-01 09:00:00,A100,1,10\n"
        + "T1,1e300,2025-08-01 09:00:00,A100,1,10\n"
    ).encode()
    result, loaded, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", body)
    assert quarantine == [(2, "unparsable:charge_period_start"), (3, "unparsable:charge_period_start")]
    assert [r["charge_period_start"].isoformat() for r in loaded] == ["2025-08-01T00:00:00+00:00"]
    assert accounted(result) and not result.errors


def test_zone_abbreviations_are_ambiguous_unless_the_spec_maps_them(tmp_path: Path, lake: LakeConfig) -> None:
    body = (
        CSV_HEADER
        + "T1,2025-08-04 16:00:00 CST,2025-08-04 17:00:00 CST,A100,1,10\n"
        + "T1,2025-08-04 16:00:00 UTC,2025-08-04 17:00:00 UTC,A100,1,10\n"
        + "T1,2025-08-04 16:00:00,2025-08-04 17:00:00,A100,1,10\n"
    ).encode()
    result, loaded, quarantine = ingest(
        tmp_path, lake, spec_of(timezone="Asia/Shanghai"), "2025-08-04.csv", body
    )
    assert quarantine == [(1, "ambiguous_timezone:charge_period_start")] and accounted(result)
    assert [r["charge_period_start"].isoformat() for r in loaded] == [
        "2025-08-04T16:00:00+00:00",  # UTC says so
        "2025-08-04T08:00:00+00:00",  # naive: the spec's zone
    ]
    spec = spec_of(timezone="UTC", timezone_abbreviations={"CST": "Asia/Shanghai"})
    _, loaded, quarantine = ingest(tmp_path, lake, spec, "2025-08-04.csv", body, run_id="r2")
    assert quarantine == []
    assert sorted(r["charge_period_start"].isoformat() for r in loaded) == [
        "2025-08-04T08:00:00+00:00",  # China Standard Time, as mapped (US Central would be 22:00)
        "2025-08-04T16:00:00+00:00",
        "2025-08-04T16:00:00+00:00",
    ]


def test_a_zero_length_charge_period_is_quarantined_at_ingest(tmp_path: Path, lake: LakeConfig) -> None:
    body = (CSV_HEADER + OK + OK.replace("09:00:00", "08:00:00")).encode()
    result, loaded, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert quarantine == [(2, "zero_length_period")] and len(loaded) == 1 and accounted(result)


def test_rule_names_tell_a_bad_value_from_a_missing_one(tmp_path: Path, lake: LakeConfig) -> None:
    body = (
        CSV_HEADER
        + OK.replace("2025-08-01 08:00:00", "45870.33")  # an Excel serial date
        + OK.replace("2025-08-01 08:00:00", "2025-08-01 30:00:00")  # hour 30
        + CSV_HEADER  # the header repeated inside the file (a concatenation of two files)
        + OK.replace("2025-08-01 08:00:00", "")  # really missing
    ).encode()
    _, _, quarantine = ingest(tmp_path, lake, spec_of(), "2025-08-01.csv", body)
    assert quarantine == [
        (1, "unparsable:charge_period_start"),
        (2, "unparsable:charge_period_start"),
        (3, "repeated_header"),
        (4, "missing_required:charge_period_start"),
    ]


def test_a_missing_exchange_rate_names_the_currency_and_day(tmp_path: Path, lake: LakeConfig) -> None:
    reference = tmp_path / "landing" / "reference"
    reference.mkdir(parents=True)
    (reference / "fx_rates.csv").write_text(
        "currency,valid_from,valid_to,rate_to_cny\nUSD,2025-07-01,2025-07-31,7.15\n", encoding="utf-8"
    )
    with lake_connection(lake) as con:
        load_reference_table(con, REF_TABLES["fx_rates"], Location(str(tmp_path / "landing")))
    columns = {k: v.model_dump(exclude_none=True) for k, v in spec_of().columns.items()}
    spec = spec_of(columns={**columns, "billing_currency": "cur"})
    body = (
        CSV_HEADER.replace("cost", "cost,cur")
        + OK.replace("2025-08-01", "2025-07-31").replace("\n", ",USD\n")  # rate known for July
        + OK.replace("\n", ",USD\n")  # no USD rate for August
        + OK.replace("\n", ",XYZ\n")
    ).encode()
    result, loaded, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", body)
    assert quarantine == [(2, "no_fx_rate:USD:2025-08-01"), (3, "unknown_currency")]
    assert [r["billed_cost_cny"] for r in loaded] == [Decimal("71.5000")] and accounted(result)


def _run_partition(tmp_path: Path, lake: LakeConfig, run_id: str) -> dict[str, dict]:
    """Ingest the acme day 2025-08-01 as landed now; the ledger rows by file, and the loaded money by file."""
    spec = spec_of()
    landing = Location(str(tmp_path / "landing"))
    with lake_connection(lake) as con:
        files = landed_files(spec, landing).get("2025-08-01", [])
        Ingestor(con, spec, landing, str(tmp_path / "scratch"), run_id).run("2025-08-01", files)
        ledger = {r.source_file: r for r in read_ledger(con, "acme")}
        money = dict(
            con.execute(
                f"SELECT source_file, sum(billed_cost) FROM {qualified(ingest_table('acme'))} GROUP BY ALL"
            ).fetchall()
        )
    return {f: {"ledger": r, "money": money.get(f)} for f, r in ledger.items()}


def _land(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / "landing" / "acme" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def test_a_vanished_file_keeps_its_rows_and_its_ledger_row(tmp_path: Path, lake: LakeConfig) -> None:
    first = _land(tmp_path, "2025-08-01-a.csv", CSV_HEADER + OK + OK.replace(",10\n", ",32\n"))
    _land(tmp_path, "2025-08-01-b.csv", CSV_HEADER + OK.replace("T1", "T2"))
    loaded = _run_partition(tmp_path, lake, "r1")
    assert loaded["acme/2025-08-01-a.csv"]["money"] == Decimal("42")
    first.unlink()  # archived by the provider's tooling
    after = _run_partition(tmp_path, lake, "r2")
    gone = after["acme/2025-08-01-a.csv"]
    assert gone["money"] == Decimal("42") and gone["ledger"].status == "loaded"
    assert gone["ledger"].rows_loaded == 2 and gone["ledger"].vanished_at is not None
    assert after["acme/2025-08-01-b.csv"]["ledger"].vanished_at is None
    _land(tmp_path, "2025-08-01-b.csv", "").unlink()  # the day's last file goes too
    emptied = _run_partition(tmp_path, lake, "r3")
    assert {f: v["money"] for f, v in emptied.items()} == {
        "acme/2025-08-01-a.csv": Decimal("42"),
        "acme/2025-08-01-b.csv": Decimal("10"),
    }
    assert all(v["ledger"].vanished_at is not None for v in emptied.values())
    _land(tmp_path, "2025-08-01-a.csv", CSV_HEADER + OK + OK.replace(",10\n", ",32\n"))  # back again
    back = _run_partition(tmp_path, lake, "r4")["acme/2025-08-01-a.csv"]
    assert back["ledger"].vanished_at is None and back["money"] == Decimal("42")


def test_a_withdrawn_delivery_leaves_the_lake_and_stays_withdrawn(tmp_path: Path, lake: LakeConfig) -> None:
    _land(tmp_path, "2025-08-01-a.csv", CSV_HEADER + OK + OK.replace("A100", "Z9000"))
    _land(tmp_path, "2025-08-01-b.csv", CSV_HEADER + OK.replace("T1", "T2"))
    _run_partition(tmp_path, lake, "r1")
    spec = spec_of()
    with lake_connection(lake) as con:
        ingestor = Ingestor(con, spec, Location(str(tmp_path / "landing")), str(tmp_path / "scratch"), "w1")
        row = ingestor.withdraw("acme/2025-08-01-a.csv", "billed twice by the provider")
        with pytest.raises(SourceFileError, match="no such file"):
            ingestor.withdraw("acme/2025-08-01-zzz.csv", "typo")
        quarantined = con.execute("SELECT count(*) FROM lake.audit.quarantine").fetchone()[0]
    assert (row.status, row.rows_read, row.rows_loaded, row.rows_quarantined, row.rows_held) == (
        "withdrawn",
        2,
        0,
        0,
        2,
    )
    assert "billed twice by the provider" in row.detail and quarantined == 0
    again = _run_partition(tmp_path, lake, "r2")  # the file is still in landing: not loaded again
    assert again["acme/2025-08-01-a.csv"]["ledger"].status == "withdrawn"
    assert {f: v["money"] for f, v in again.items()} == {
        "acme/2025-08-01-a.csv": None,
        "acme/2025-08-01-b.csv": Decimal("10"),
    }
    _land(tmp_path, "2025-08-01-a.csv", CSV_HEADER + OK.replace(",10\n", ",11\n"))  # a corrected delivery
    corrected = _run_partition(tmp_path, lake, "r3")["acme/2025-08-01-a.csv"]
    assert corrected["ledger"].status == "loaded" and corrected["money"] == Decimal("11")


def _ingest_day(tmp_path: Path, lake: LakeConfig, spec, day: str, run_id: str) -> tuple[dict, list[tuple]]:
    """Ingest one acme day as landed now: ledger rows by file, and (file, billed_cost) of the rows core serves."""
    landing = Location(str(tmp_path / "landing"))
    with lake_connection(lake) as con:
        Ingestor(con, spec, landing, str(tmp_path / "scratch"), run_id).run(
            day, landed_files(spec, landing)[day]
        )
        ledger = {r.source_file: r for r in read_ledger(con, spec.name)}
        served = con.execute(
            f"SELECT source_file, billed_cost FROM {qualified(ingest_table(spec.name))} "
            "ANTI JOIN lake.audit.usage_dedup_excluded USING (source_name, source_file, source_row) ORDER BY ALL"
        ).fetchall()
    return ledger, served


VERSIONED = r"bill_(\d{8})(?:_v(?P<version>\d+))?"


def test_a_version_in_the_name_is_compared_as_a_number(tmp_path: Path, lake: LakeConfig) -> None:
    spec = spec_of(
        landing={
            "glob": "acme/*",
            "partition": {"regex": r"(\d{8})", "format": "%Y%m%d"},
            "delivery_key": VERSIONED,
        }
    )
    _land(tmp_path, "bill_20250815.csv", CSV_HEADER + OK.replace(",10\n", ",1\n"))
    _land(tmp_path, "bill_20250815_v2.csv", CSV_HEADER + OK.replace(",10\n", ",2\n"))
    _land(tmp_path, "bill_20250815_v10.csv", CSV_HEADER + OK.replace(",10\n", ",10\n"))
    ledger, served = _ingest_day(tmp_path, lake, spec, "2025-08-15", "r1")
    assert served == [("acme/bill_20250815_v10.csv", Decimal("10"))]
    assert ledger["acme/bill_20250815_v2.csv"].status == "superseded"
    assert (
        "replaced by the re-delivery acme/bill_20250815_v10.csv" in ledger["acme/bill_20250815_v2.csv"].detail
    )


def test_a_copy_that_arrives_later_replaces_the_original(tmp_path: Path, lake: LakeConfig) -> None:
    spec = spec_of(
        landing={
            "glob": "acme/*",
            "partition": {"regex": r"(\d{8})", "format": "%Y%m%d"},
            "delivery_key": r"bill_(\d{8})",
        }
    )
    _land(tmp_path, "bill_20250816.csv", CSV_HEADER + OK.replace(",10\n", ",5\n"))
    _ingest_day(tmp_path, lake, spec, "2025-08-16", "r1")
    _land(tmp_path, "bill_20250816 (1).csv", CSV_HEADER + OK.replace(",10\n", ",7\n"))  # sorts first by name
    ledger, served = _ingest_day(tmp_path, lake, spec, "2025-08-16", "r2")
    assert served == [("acme/bill_20250816 (1).csv", Decimal("7"))]
    assert ledger["acme/bill_20250816.csv"].status == "superseded"
    assert ledger["acme/bill_20250816 (1).csv"].arrival > ledger["acme/bill_20250816.csv"].arrival


@pytest.mark.parametrize("one_run", [False, True])
def test_a_fix_whose_name_sorts_first_wins_the_duplicate_rows(
    tmp_path: Path, lake: LakeConfig, one_run
) -> None:
    columns = {**{k: v.model_dump(exclude_none=True) for k, v in spec_of().columns.items()}, "job_id": "job"}
    spec = spec_of(columns=columns, dedup_keys=["job_id", "charge_period_start"])
    header = CSV_HEADER.replace("cost", "cost,job")
    original = _land(
        tmp_path,
        "jobs_2025-08-10.csv",
        header + OK.replace("2025-08-01", "2025-08-10").replace("\n", ",J1\n"),
    )
    if not one_run:
        _ingest_day(tmp_path, lake, spec, "2025-08-10", "r1")
    fix = _land(
        tmp_path,
        "jobs_2025-08-10-fix.csv",
        header + OK.replace("2025-08-01", "2025-08-10").replace(",10\n", ",12\n").replace("\n", ",J1\n"),
    )
    stamp = original.stat().st_mtime
    os.utime(fix, (stamp + 60, stamp + 60))  # delivered a minute after the original
    _, served = _ingest_day(tmp_path, lake, spec, "2025-08-10", "r2")
    assert served == [("acme/jobs_2025-08-10-fix.csv", Decimal("12"))]


def test_hours_are_summed_exactly_whatever_the_order(lake: LakeConfig) -> None:
    hours = [0.1] * 10 + [0.0000005]  # exactly 1.0000005: floating-point sums give 1.0000004999... or ...5001
    with lake_connection(lake) as con:
        con.execute(
            "CREATE TEMP TABLE h AS SELECT unnest(?) AS x, generate_subscripts(?, 1) AS i", [hours, hours]
        )
        sums = {
            con.execute(f"SELECT exact_sum(x) FROM (SELECT x FROM h ORDER BY i {order})").fetchone()[0]
            for order in ("ASC", "DESC")
        }
    assert sums == {1.000001}  # the decimal sum, rounded half up to the stated 6 places


@pytest.mark.parametrize(
    ("encoding", "body", "cause"),
    [
        (
            "utf-8",
            (CSV_HEADER + OK).encode("utf-16"),
            "is UTF-16, little-endian (it starts with the byte-order mark FF FE), not utf-8",
        ),
        (
            "gbk",
            (CSV_HEADER + OK).encode("utf-16-be"),
            "looks like UTF-16 (big-endian, without a byte-order mark",
        ),
        (
            "gbk",
            b"\xef\xbb\xbf" + (CSV_HEADER + OK).encode("gbk"),
            "starts with a UTF-8 byte-order mark (EF BB BF) but the spec says gbk",
        ),
        (
            "utf-8",
            (CSV_HEADER + OK + "T1," + "x" * 2_100_000 + ",A100,1,10\n").encode(),
            "line 3 has 2,100,013 bytes, more than the reader's limit of 2,000,000 bytes",
        ),
    ],
    ids=["utf16-for-utf8", "utf16-without-mark-for-gbk", "utf8-mark-before-gbk", "line-over-the-limit"],
)
def test_unreadable_files_name_the_real_cause(
    tmp_path: Path, lake: LakeConfig, encoding, body, cause
) -> None:
    spec = spec_of(format={"type": "csv", "encoding": encoding})
    _land(tmp_path, "2025-08-01-ok.csv", CSV_HEADER + OK)  # the day's other file still loads
    result, loaded, quarantine = ingest(tmp_path, lake, spec, "2025-08-01.csv", body)
    bad = next(r for r in result.rows if r.source_file == "acme/2025-08-01.csv")
    assert bad.status == "failed" and bad.detail.startswith("acme/2025-08-01.csv: ") and cause in bad.detail
    assert [r["source_file"] for r in loaded] == ["acme/2025-08-01-ok.csv"] and quarantine == []


def test_a_line_that_spans_days_is_split_into_daily_parts(tmp_path: Path, lake: LakeConfig) -> None:
    columns = {**{k: v.model_dump(exclude_none=True) for k, v in spec_of().columns.items()}, "job_id": "job"}
    spec = spec_of(timezone="Asia/Shanghai", columns=columns, dedup_keys=["job_id", "charge_period_start"])
    header = CSV_HEADER.replace("cost", "cost,job")
    _land(
        tmp_path,
        "2025-08-01.csv",
        header
        + "T1,2025-08-01 22:00:00,2025-08-03 02:00:00,A100,2,100.0001,J1\n"  # 2 h + 24 h + 2 h
        + "T1,2025-08-01 08:00:00,2025-08-01 09:00:00,A100,1,10,J2\n",
    )
    ledger, served = _ingest_day(tmp_path, lake, spec, "2025-08-01", "r1")
    (row,) = ledger.values()
    assert (row.rows_read, row.rows_loaded, row.money_loaded) == (2, 2, Decimal("110.0001"))
    with lake_connection(lake) as con:
        parts = con.execute(
            "SELECT source_row, period_part, period_parts, charge_date, charge_period_start, charge_period_end, "
            "billed_cost, billed_cost_cny, gpu_hours, gpu_count FROM lake.ingest.acme ORDER BY source_row, period_part"
        ).fetchall()
    assert [(r[0], r[1], r[2], r[3].isoformat()) for r in parts] == [
        (1, 1, 3, "2025-08-01"),
        (1, 2, 3, "2025-08-02"),
        (1, 3, 3, "2025-08-03"),
        (2, 1, 1, "2025-08-01"),
    ]
    assert [(r[4].isoformat(), r[5].isoformat()) for r in parts[:3]] == [
        ("2025-08-01T14:00:00+00:00", "2025-08-01T16:00:00+00:00"),  # 22:00 to midnight, Shanghai
        ("2025-08-01T16:00:00+00:00", "2025-08-02T16:00:00+00:00"),
        ("2025-08-02T16:00:00+00:00", "2025-08-02T18:00:00+00:00"),
    ]
    assert [r[6] for r in parts[:3]] == [Decimal("7.1429"), Decimal("85.7143"), Decimal("7.1429")]
    assert sum(r[6] for r in parts[:3]) == Decimal("100.0001") == sum(r[7] for r in parts[:3])
    assert [round(r[8], 9) for r in parts[:3]] == [4.0, 48.0, 4.0] and {r[9] for r in parts} == {1.0, 2.0}
    # a corrected re-delivery of the line replaces all of its parts
    _land(
        tmp_path,
        "2025-08-01-v2.csv",
        header + "T1,2025-08-01 22:00:00,2025-08-02 02:00:00,A100,2,40,J1\n",
    )
    _, served = _ingest_day(tmp_path, lake, spec, "2025-08-01", "r2")
    assert served == [
        ("acme/2025-08-01-v2.csv", Decimal("20")),
        ("acme/2025-08-01-v2.csv", Decimal("20")),
        ("acme/2025-08-01.csv", Decimal("10")),
    ]
