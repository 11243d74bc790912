"""Demo landing generator: determinism, file formats, manifest counts and the ecosystem's facts."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import fsspec
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.demo import count_demo_files, generate_demo
from pipelines.demo.croissant import CROISSANT_DATASETS

REPO = Path(__file__).resolve().parents[1]
REF = REPO / "data_contracts" / "reference"
START = dt.date(2025, 8, 1)
MIGRANTS = {f"T{i:03d}" for i in range(1, 11)}
USAGE_SOURCES = ("telecom_sh", "infinigence", "volcano_engine", "unicom_sh", "mobile_sh")


def _chip_names() -> set[str]:
    with (REF / "chip_specs.csv").open(encoding="utf-8") as f:
        names = {r["chip_model"] for r in csv.DictReader(f)}
    with (REF / "chip_aliases.csv").open(encoding="utf-8") as f:
        return names | {r["alias"] for r in csv.DictReader(f)}


# --- parsers: every usage file to (tenant, chip, dataset, defect, cost, gpu_hours, day, status) -------------
def _is_int(text: str | None) -> bool:
    return text is not None and re.fullmatch(r"-?\d+", text) is not None


def _telecom(data: bytes) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(data.decode("gbk"), newline="")))
    out = []
    for r in rows:
        hours = r["计费时长(卡时)"]
        defect = (
            "unparsable"
            if not _is_int(r["卡数"])
            else "missing_required"
            if not r["租户编号"]
            else "negative_quantity"
            if hours.startswith("-")
            else None
        )
        out.append(
            {
                "tenant": r["租户编号"] or None,
                "chip": r["芯片型号"],
                "dataset": r["数据集编号"] or None,
                "defect": defect,
                "cost": float(r["应付金额(元)"]),
                "gpu_hours": float(hours),
                "day": r["账单日期"],
                "status": r["作业状态"],
            }
        )
    return out


def _infinigence(data: bytes) -> list[dict]:
    out = []
    for line in data.decode("utf-8").splitlines():
        r = json.loads(line)
        cards = r["num_cards"]
        defect = (
            "unparsable"
            if isinstance(cards, str)
            else "missing_required"
            if r["tenant_id"] is None
            else "negative_quantity"
            if cards < 0
            else None
        )
        hours = abs(cards) * (r["end_ts"] - r["start_ts"]) / 3600 if not isinstance(cards, str) else 0.0
        day = dt.datetime.fromtimestamp(r["start_ts"] + 8 * 3600, dt.UTC).date().isoformat()
        out.append(
            {
                "tenant": r["tenant_id"],
                "chip": r["accelerator"],
                "dataset": r["dataset_id"],
                "defect": defect,
                "cost": r["amount_fen"] / 100,
                "gpu_hours": hours,
                "day": day,
                "status": r["status"],
            }
        )
    return out


def _volcano(data: bytes) -> list[dict]:
    table = pq.read_table(io.BytesIO(data))
    out = []
    for r in table.to_pylist():
        defect = (
            "missing_required"
            if r["account_id"] is None
            else "negative_quantity"
            if r["usage_seconds"] < 0
            else None
        )
        out.append(
            {
                "tenant": r["account_id"],
                "chip": r["gpu_type"],
                "dataset": r["dataset_tag"],
                "defect": defect,
                "cost": r["billed_amount"],
                "gpu_hours": r["gpu_count"] * r["usage_seconds"] / 3600,
                "day": r["hour_start"].date().isoformat(),
                "status": None,
                "raw": r,
            }
        )
    return out


def _unicom(data: bytes) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    out = []
    for r in rows:
        qty = r["ConsumedQuantity"]
        parsable = re.fullmatch(r"-?\d+\.\d+", qty) is not None
        defect = (
            "unparsable"
            if not parsable
            else "missing_required"
            if not r["SubAccountId"]
            else "negative_quantity"
            if qty.startswith("-")
            else None
        )
        out.append(
            {
                "tenant": r["SubAccountId"] or None,
                "chip": r["x_ChipModel"],
                "dataset": r["x_DatasetId"] or None,
                "defect": defect,
                "cost": float(r["BilledCost"]),
                "gpu_hours": float(qty) if parsable else 0.0,
                "day": r["ChargePeriodStart"][:10],
                "status": r["x_JobStatus"],
                "category": r["ChargeCategory"],
            }
        )
    return out


def _mobile(data: bytes) -> list[dict]:
    out = []
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        r = dict(pair.split("=", 1) for pair in line.split(" "))
        defect = (
            "unparsable"
            if not _is_int(r["cards"])
            else "missing_required"
            if "tenant" not in r
            else "negative_quantity"
            if int(r["cards"]) < 0
            else None
        )
        out.append(
            {
                "tenant": r.get("tenant"),
                "chip": r["chip"],
                "dataset": r.get("dataset"),
                "defect": defect,
                "cost": float(r["amount_cny"]),
                "gpu_hours": int(r["gpu_seconds"]) / 3600,
                "day": r["ts_start"][:10],
                "status": r["status"],
                "raw": r,
            }
        )
    return out


PARSERS = {
    "telecom_sh": _telecom,
    "infinigence": _infinigence,
    "volcano_engine": _volcano,
    "unicom_sh": _unicom,
    "mobile_sh": _mobile,
}


def _read_all(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _usage(root: Path, manifest: dict, source: str) -> list[dict]:
    rows = []
    for f in manifest["files"]:
        if f["source"] == source:
            rows += PARSERS[source]((root / f["path"]).read_bytes())
    return rows


# --- fixtures -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ten_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[tuple[str, int]]]:
    root = tmp_path_factory.mktemp("ten") / "landing"
    seen: list[tuple[str, int]] = []
    manifest = generate_demo(str(root), days=10, scale=0.5, on_file=lambda p, n: seen.append((p, n)))
    return root, manifest, seen


@pytest.fixture(scope="module")
def fifty_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("fifty") / "landing"
    return root, generate_demo(str(root), days=50, scale=0.2)


# --- tests --------------------------------------------------------------------------------------------------
def test_same_arguments_give_identical_bytes_on_any_filesystem(tmp_path: Path) -> None:
    first = generate_demo(str(tmp_path / "a"), days=5, scale=0.2)
    generate_demo(str(tmp_path / "b"), days=5, scale=0.2)
    a, b = _read_all(tmp_path / "a"), _read_all(tmp_path / "b")
    assert a.keys() == b.keys()
    assert len(a) == count_demo_files(5) + 1
    assert [k for k in a if a[k] != b[k]] == []
    generate_demo("memory://demo-determinism/landing", days=5, scale=0.2)
    fs = fsspec.filesystem("memory")
    for rel, data in a.items():
        assert fs.cat_file(f"/demo-determinism/landing/{rel}") == data
    other = generate_demo(str(tmp_path / "c"), days=5, scale=0.2, seed=7)
    assert other["totals"] != first["totals"]


def test_a_shorter_run_reproduces_the_first_days_of_a_longer_one(tmp_path: Path) -> None:
    short = generate_demo(str(tmp_path / "short"), days=4, scale=0.3)
    generate_demo(str(tmp_path / "long"), days=8, scale=0.3)
    early = [f["path"] for f in short["files"] if re.search(r"2025-?08-?0[12]", f["path"])]
    # incl. the first catalogue snapshot and its Croissant descriptions
    assert len(early) == 2 * (1 + len(USAGE_SOURCES)) + 1 + CROISSANT_DATASETS
    for rel in early:
        assert (tmp_path / "short" / rel).read_bytes() == (tmp_path / "long" / rel).read_bytes(), rel


def test_manifest_lists_every_file_with_true_row_and_defect_counts(ten_days) -> None:
    root, manifest, seen = ten_days
    assert manifest["seed"] == 42 and manifest["days"] == 10 and manifest["start"] == "2025-08-01"
    on_disk = set(_read_all(root)) - {"_demo_manifest.json"}
    assert {f["path"] for f in manifest["files"]} == on_disk
    assert json.loads((root / "_demo_manifest.json").read_text(encoding="utf-8")) == manifest
    assert seen[:-1] == [(f["path"], f["rows"]) for f in manifest["files"]]
    bad_total = 0
    for f in manifest["files"]:
        if f["source"] not in PARSERS:
            continue
        rows = PARSERS[f["source"]]((root / f["path"]).read_bytes())
        assert len(rows) == f["rows"], f["path"]
        found = {k: sum(r["defect"] == k for r in rows) for k in f["bad_rows"]}
        assert found == f["bad_rows"], f["path"]
        bad = sum(found.values())
        bad_total += bad
        assert bad >= (1 if f["rows"] >= 50 else 0)
        assert bad <= max(1, round(0.002 * f["rows"]))
        if f["source"] == "volcano_engine":
            assert f["bad_rows"]["unparsable"] == 0
    assert bad_total > 0
    for source, total in manifest["totals"].items():
        assert total == sum(f["rows"] for f in manifest["files"] if f["source"] == source)


def test_telecom_bill_is_gbk_with_chinese_headers_and_crlf(ten_days) -> None:
    root, _, _ = ten_days
    data = (root / "providers/telecom_sh/bill_20250801.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("gbk")
    header = text.split("\r\n", 1)[0]
    assert header.startswith("账单日期,租户编号,作业编号,资源编号,计算中心,芯片型号,卡数,开始时间,结束时间")
    assert header.endswith(
        "计费时长(卡时),单价(元/卡时),原价金额(元),优惠金额(元),应付金额(元),数据集编号,作业状态"
    )
    assert text.count("\r\n") == text.count("\n") == 1 + len(_telecom(data))
    row = next(
        r for r in csv.DictReader(io.StringIO(text, newline="")) if _is_int(r["卡数"]) and r["租户编号"]
    )
    hours = Decimal(row["计费时长(卡时)"])
    seconds = (
        dt.datetime.fromisoformat(row["结束时间"]) - dt.datetime.fromisoformat(row["开始时间"])
    ).seconds
    assert abs(hours - Decimal(int(row["卡数"]) * seconds) / 3600) < Decimal("0.0001")
    assert Decimal(row["原价金额(元)"]) - Decimal(row["优惠金额(元)"]) == Decimal(row["应付金额(元)"])
    assert row["计算中心"] in {"临港智算中心", "松江智算中心"}


def test_focus_export_has_bom_and_credits_are_negative(ten_days) -> None:
    root, manifest, _ = ten_days
    paths = [f["path"] for f in manifest["files"] if f["source"] == "unicom_sh"]
    rows = []
    for p in paths:
        data = (root / p).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        rows += _unicom(data)
    credits = [r for r in rows if r["category"] == "Credit"]
    assert {r["category"] for r in rows} <= {"Usage", "Credit"}
    assert all(r["cost"] < 0 and r["gpu_hours"] == 0 for r in credits)
    assert len(credits) <= len(rows) / 100


def test_other_feed_shapes(ten_days) -> None:
    root, _, _ = ten_days
    table = pq.read_table(root / "providers/volcano_engine/dt=2025-08-03/usage_hourly.parquet")
    assert str(table.schema.field("hour_start").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("gpu_count").type) == "int32"
    assert str(table.schema.field("usage_seconds").type) == "int32"
    for r in _volcano((root / "providers/volcano_engine/dt=2025-08-03/usage_hourly.parquet").read_bytes()):
        raw = r["raw"]
        assert raw["hour_start"].date() == dt.date(2025, 8, 3) and raw["hour_start"].minute == 0
        assert 1 <= abs(raw["usage_seconds"]) <= 3600 and 0 <= raw["discount_rate"] <= 0.3
        expected = (
            raw["gpu_count"]
            * abs(raw["usage_seconds"])
            / 3600
            * raw["list_price_per_gpu_hour"]
            * (1 - raw["discount_rate"])
        )
        assert raw["billed_amount"] == pytest.approx(expected, abs=1e-4)
    for r in _mobile((root / "providers/mobile_sh/usage_20250805.log.gz").read_bytes()):
        assert r["raw"]["ts_start"].endswith("+08:00") and r["status"] in {"done", "failed", "running"}
        assert "dataset" not in r["raw"] or r["raw"]["dataset"].startswith("DS-")
    lines = (root / "providers/infinigence/jobs_2025-08-05.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert list(first) == [
        "job_id",
        "tenant_id",
        "cluster",
        "site",
        "accelerator",
        "num_cards",
        "start_ts",
        "end_ts",
        "status",
        "amount_fen",
        "list_amount_fen",
        "dataset_id",
    ]
    assert {json.loads(line)["cluster"] for line in lines} <= {"qingpu-hetero-1", "lingang-hetero-2"}


def test_every_chip_string_resolves(ten_days) -> None:
    root, manifest, _ = ten_days
    names = _chip_names()
    chips = {r["chip"] for s in USAGE_SOURCES for r in _usage(root, manifest, s)}
    assert chips and chips <= names
    capacity = pl.read_csv(root / "reference/capacity_plan.csv")
    assert set(capacity["chip_model"]) <= names
    rates = pl.read_csv(root / "reference/rate_cards.csv")
    assert set(rates["chip_model"].drop_nulls()) <= names


def test_usage_datasets_exist_in_the_catalog(ten_days) -> None:
    root, manifest, _ = ten_days
    snap = json.loads((root / "catalog/opendatalab/snapshot_2025-08-01.json").read_text(encoding="utf-8"))
    ids = {d["id"] for d in snap["datasets"]}
    assert 190 <= len(ids) <= 210 and snap["source"] == "OpenDataLab"
    assert any(d["name"] == "WanJuan1.0" and d["name_zh"] == "书生·万卷1.0" for d in snap["datasets"])
    rows = [r for s in USAGE_SOURCES for r in _usage(root, manifest, s)]
    used = {r["dataset"] for r in rows if r["dataset"]}
    assert used and used <= ids
    assert 0.6 <= sum(r["dataset"] is not None for r in rows) / len(rows) <= 0.8
    transfers = pl.concat(
        [
            pl.read_csv(root / f["path"], infer_schema=False)
            for f in manifest["files"]
            if f["source"] == "elastic_net"
        ]
    )
    assert set(transfers["dataset_id"]) <= ids


def test_catalog_evolves_between_snapshots(fifty_days) -> None:
    root, _ = fifty_days
    a, b = (
        json.loads((root / f"catalog/opendatalab/snapshot_{d}.json").read_text(encoding="utf-8"))["datasets"]
        for d in ("2025-08-01", "2025-08-31")
    )
    ids_a, ids_b = {d["id"] for d in a}, {d["id"] for d in b}
    assert 1 <= len(ids_b - ids_a) <= 0.04 * len(ids_a)
    assert 1 <= len(ids_a - ids_b) <= 0.03 * len(ids_a)
    before = {d["id"]: d for d in a}
    assert all(d["downloads"] > before[d["id"]]["downloads"] for d in b if d["id"] in before)
    assert any(d["version"] != before[d["id"]]["version"] for d in b if d["id"] in before)


def test_vouchers_total_over_100_million_with_70_million_cash(tmp_path: Path) -> None:
    small = generate_demo(str(tmp_path / "s"), days=1, scale=0.2)
    big = generate_demo(str(tmp_path / "b"), days=1, scale=3.0)
    ledger = (tmp_path / "s/vouchers/voucher_ledger.csv").read_bytes()
    assert ledger == (tmp_path / "b/vouchers/voucher_ledger.csv").read_bytes()
    assert small["totals"]["vouchers"] == big["totals"]["vouchers"]
    rows = list(csv.DictReader(io.StringIO(ledger.decode("utf-8"))))
    face = [Decimal(r["face_value_cny"]) for r in rows]
    assert Decimal("100000000.00") < sum(face) < Decimal("110000000.00")
    assert sum(Decimal(r["face_value_cny"]) for r in rows if r["is_cash"] == "true") == Decimal("70000000.00")
    for r in rows:
        assert Decimal(r["face_value_cny"]) <= Decimal(r["annual_cap_cny"])
        span = dt.date.fromisoformat(r["valid_to"]) - dt.date.fromisoformat(r["valid_from"])
        assert dt.timedelta(0) < span <= dt.timedelta(days=366)
    expected = {
        ("compute", "city"): Decimal("0.30"),
        ("model", "city"): Decimal("0.50"),
        ("corpus", "city"): Decimal("0.30"),
    }
    coverage: dict[str, Decimal] = {}
    for r in rows:
        ratio = Decimal(r["coverage_ratio"])
        if (r["programme"], r["funder"]) in expected:
            assert ratio == expected[(r["programme"], r["funder"])]
        if r["programme"] == "compute":
            coverage[r["tenant_id"]] = coverage.get(r["tenant_id"], Decimal(0)) + ratio
    assert max(coverage.values()) <= Decimal("1.00")


def test_facts_transfer_of_10_tb_in_two_boosted_hours(ten_days) -> None:
    root, manifest, _ = ten_days
    day = pl.read_csv(root / "transfers/elastic_net/transfers_2025-08-10.csv", infer_schema=False)
    row = day.filter((pl.col("tenant_id") == "T001") & (pl.col("bytes") == "10000000000000")).row(
        0, named=True
    )
    assert (row["source_site"], row["destination_site"], row["status"]) == ("xuhui", "lingang", "completed")
    start, end = (dt.datetime.fromisoformat(row[k]) for k in ("start_time", "end_time"))
    seconds = (end - start).total_seconds()
    assert seconds == 7200 and row["boost_start"] == row["start_time"] and row["boost_end"] == row["end_time"]
    assert 10.5 < 10e12 * 8 / seconds / 1e9 < 11.5  # ~11 Gbps effective
    assert 10e12 * 8 / (int(row["base_bandwidth_mbps"]) * 1e6) == 800_000  # 9.3 days at 100 Mbps
    rates = pl.read_csv(root / "reference/rate_cards.csv")
    boost = rates.filter(pl.col("service") == "network_boost")["contracted_price"][0]
    assert Decimal(row["billed_hours"]) == Decimal("2.00")
    assert Decimal(row["cost_cny"]) == Decimal("2.00") * Decimal(str(boost))
    transfers = pl.concat(
        [
            pl.read_csv(root / f["path"], infer_schema=False)
            for f in manifest["files"]
            if f["source"] == "elastic_net"
        ]
    )
    assert 5 * 0.5 * 10 <= transfers.height <= 20 * 10
    unboosted = transfers.filter(pl.col("boost_bandwidth_mbps").is_null())
    base = rates.filter(pl.col("service") == "network_base")["contracted_price"][0]
    assert all(
        Decimal(c) == Decimal(h) * Decimal(str(base))
        for c, h in zip(unboosted["cost_cny"], unboosted["billed_hours"], strict=True)
    )
    assert set(transfers["status"]) <= {"completed", "failed"}


def test_scale_doubles_usage_rows(tmp_path: Path) -> None:
    single = generate_demo(str(tmp_path / "x1"), days=5, scale=0.2)
    double = generate_demo(str(tmp_path / "x2"), days=5, scale=0.4)

    def usage(m: dict) -> int:
        return sum(m["totals"][s] for s in USAGE_SOURCES)

    assert 1.8 <= usage(double) / usage(single) <= 2.2
    assert 8 <= single["totals"]["opendatalab"] / 25 <= 8.4  # catalogue does not scale


def test_migrants_pay_about_60_percent_less_per_gpu_hour_on_operator_compute(fifty_days) -> None:
    root, manifest = fifty_days
    switch = (START + dt.timedelta(days=45)).isoformat()
    volcano = [
        r for r in _usage(root, manifest, "volcano_engine") if r["tenant"] in MIGRANTS and not r["defect"]
    ]
    telecom = [r for r in _usage(root, manifest, "telecom_sh") if r["tenant"] in MIGRANTS and not r["defect"]]
    assert volcano and telecom
    assert all(r["day"] >= switch for r in telecom)
    assert all(r["day"] < (START + dt.timedelta(days=48)).isoformat() for r in volcano)
    before = sum(r["cost"] for r in volcano) / sum(r["gpu_hours"] for r in volcano)
    after = sum(r["cost"] for r in telecom) / sum(r["gpu_hours"] for r in telecom)
    assert 0.55 <= 1 - after / before <= 0.65


def test_story_statuses_and_domestic_share(fifty_days) -> None:
    root, manifest = fifty_days
    specs = {
        r["chip_model"]: r["domestic"] == "true" for r in csv.DictReader((REF / "chip_specs.csv").open())
    }
    alias = {r["alias"]: r["chip_model"] for r in csv.DictReader((REF / "chip_aliases.csv").open())}
    rows = [r for s in ("infinigence", "unicom_sh", "mobile_sh") for r in _usage(root, manifest, s)]
    early = [specs[alias.get(r["chip"], r["chip"])] for r in rows if r["day"] < "2025-08-11"]
    late = [specs[alias.get(r["chip"], r["chip"])] for r in rows if r["day"] >= "2025-09-10"]
    assert sum(late) / len(late) > sum(early) / len(early) + 0.04
    telecom = _usage(root, manifest, "telecom_sh")
    failed = sum(r["status"] == "失败" for r in telecom) / len(telecom)
    assert 0.02 <= failed <= 0.09
    running_days = {
        r["day"]
        for s in ("telecom_sh", "mobile_sh")
        for r in _usage(root, manifest, s)
        if r["status"] in ("运行中", "running")
    }
    assert running_days and min(running_days) >= (START + dt.timedelta(days=47)).isoformat()
    tenants = pl.read_csv(root / "reference/tenants.csv")
    assert tenants.height == 100 and tenants["tenant_id"][0] == "T001" and tenants["tenant_id"][-1] == "T100"
    assert tenants["affiliated_provider_id"].drop_nulls().len() == 3
    capacity = pl.read_csv(root / "reference/capacity_plan.csv", try_parse_dates=True)
    final = capacity.filter(pl.col("effective_date") == dt.date(2028, 12, 31))["cards"].sum()
    lingang_12 = capacity.filter(
        (pl.col("site_id") == "lingang") & (pl.col("effective_date") == dt.date(2025, 6, 30))
    )
    assert final == 300_000 and lingang_12["cards"].sum() == 60_000
