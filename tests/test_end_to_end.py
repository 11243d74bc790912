"""The foundation end to end: demo files -> Dagster -> lake -> published warehouse, with books that balance."""

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import Deployment
from warehouse.ducklake import LakeConfig, connect_reader
from warehouse.lake import sql_values

pytestmark = pytest.mark.slow  # refreshes demo lakehouses end to end

DEMO_PROVIDERS = {"telecom_sh", "infinigence", "volcano_engine", "unicom_sh", "mobile_sh"}
USAGE_SOURCES = DEMO_PROVIDERS | {"alibaba_pai", "focus_samples"}


def usage_rows_generated(manifest: dict) -> int:
    return sum(f["rows"] for f in manifest["files"] if f["source"] in USAGE_SOURCES)


def test_usage_rows_equal_generated_minus_quarantined(demo: Deployment) -> None:
    (quarantined,) = demo.query("SELECT sum(rows_quarantined) FROM audit.ingest_ledger WHERE kind = 'usage'")[
        0
    ]
    sources = sql_values(USAGE_SOURCES)
    (loaded,) = demo.query(  # lines of the sources whose records are one line each
        f"SELECT count(*) FROM core.compute_usage WHERE period_part = 1 AND source_name IN ({sources})"
    )[0]
    assert quarantined > 0, "the demo injects bad rows; none were quarantined"
    assert loaded == usage_rows_generated(demo.manifest) - quarantined


def test_every_landed_file_reconciles(demo: Deployment) -> None:
    ledger = {
        r[0]: r[1:]
        for r in demo.query(
            "SELECT source_file, rows_read, rows_loaded, rows_quarantined, rows_held, status FROM audit.ingest_ledger"
        )
    }
    spec_files = [
        f
        for f in demo.manifest["files"]
        if f["source"] in USAGE_SOURCES | {"opendatalab", "elastic_net", "voucher_ledger", "azure_llm_trace"}
    ]
    assert spec_files
    lines = {"azure_llm_trace": 2}  # a request yields an input-token and an output-token line
    for entry in spec_files:
        read, loaded, quarantined, held, status = ledger[entry["path"]]
        assert status == ("empty" if entry["rows"] == 0 else "loaded"), entry["path"]
        assert read == entry["rows"] * lines.get(entry["source"], 1), entry["path"]
        assert read == loaded + quarantined + held, entry["path"]


def test_quarantine_reasons_match_injected_defects(demo: Deployment) -> None:
    expected = Counter()
    for entry in demo.manifest["files"]:
        for kind, n in entry.get("bad_rows", {}).items():
            expected[kind] += n
    found = Counter(
        {
            r[0]: r[1]
            for r in demo.query("SELECT split_part(rule, ':', 1), count(*) FROM audit.quarantine GROUP BY 1")
        }
    )
    skipped = dict(
        demo.query("SELECT rule, count(*) FROM audit.quarantine WHERE starts_with(rule, 'skip:') GROUP BY 1")
    )
    assert skipped == {
        "skip:never_scheduled": 897,  # the real PAI trace's pending and CPU pods
        "skip:cpu_only": 1052,
        "skip:not_a_user_row": 179,  # the HPSS report's lines other than its largest users
    }
    found.pop("skip")
    assert found["unparsable"] == expected["unparsable"]
    assert found["missing_required"] == expected["missing_required"]
    assert found["negative_quantity"] == expected["negative_quantity"]
    assert sum(found.values()) == sum(expected.values())
    sample = demo.query("SELECT source_file, source_row, raw_content FROM audit.quarantine LIMIT 1")[0]
    assert sample[0] and sample[1] >= 1 and sample[2]


def test_quarantined_rows_point_at_the_real_line(demo: Deployment) -> None:
    """A quarantined GBK CSV row names the line of the file that holds it."""
    rows = demo.query(
        "SELECT source_file, source_row, raw_content FROM audit.quarantine WHERE source_name = 'telecom_sh' LIMIT 3"
    )
    assert rows
    for source_file, source_row, raw in rows:
        lines = (Path(demo.settings.landing_url) / source_file).read_bytes().decode("gbk").splitlines()
        record = json.loads(raw)
        assert record["作业编号"] in lines[source_row]  # line 0 is the header


def test_money_reconciles_from_ledger_to_core_to_mart(demo: Deployment) -> None:
    (ledger_money,) = demo.query("SELECT sum(money_loaded) FROM audit.ingest_ledger WHERE kind = 'usage'")[0]
    (core_money,) = demo.query("SELECT sum(billed_cost) FROM core.compute_usage")[0]
    assert ledger_money == core_money
    core_hours, mart_hours = demo.query(
        "SELECT (SELECT sum(gpu_hours) FROM core.compute_usage WHERE charge_category = 'Usage'),"
        " (SELECT sum(gpu_hours) FROM marts.chip_mix)"
    )[0]
    assert abs(core_hours - mart_hours) < 1e-3


def test_every_provider_format_is_loaded_and_normalised(demo: Deployment) -> None:
    per_source = dict(demo.query("SELECT source_name, count(*) FROM core.compute_usage GROUP BY 1"))
    assert set(per_source) == USAGE_SOURCES | {"azure_llm_trace"}
    (unnormalised,) = demo.query(  # a known chip with its PFLOP-hours, or a trace's 'unknown' chip without
        "SELECT count(*) FROM core.compute_usage WHERE gpu_hours > 0 "
        "AND (chip_model IS NULL OR (pflop_hours IS NULL) <> (chip_model = 'unknown'))"
    )[0]
    assert unnormalised == 0
    (wrong_pflop,) = demo.query(
        "SELECT count(*) FROM core.compute_usage u JOIN ref.chips c USING (chip_model) "
        "WHERE abs(u.pflop_hours - u.gpu_hours * c.dense_tflops / 1000) > 1e-6"
    )[0]
    assert wrong_pflop == 0
    vendors = {r[0] for r in demo.query("SELECT DISTINCT chip_vendor FROM core.compute_usage")}
    assert {"NVIDIA", "Huawei"} <= vendors


def test_local_times_become_utc(demo: Deployment) -> None:
    """The GBK bill carries Asia/Shanghai wall-clock times; the warehouse holds the UTC instant."""
    source_file, source_row, start = demo.query(
        "SELECT source_file, source_row, charge_period_start FROM core.compute_usage "
        "WHERE source_name = 'telecom_sh' ORDER BY source_file, source_row LIMIT 1"
    )[0]
    line = (Path(demo.settings.landing_url) / source_file).read_bytes().decode("gbk").splitlines()[source_row]
    local = start.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert local in line


def test_chip_mix_domestic_share(demo: Deployment) -> None:
    rows = demo.query(
        "SELECT usage_date, site_id, sum(gpu_hours) FILTER (WHERE is_domestic_chip) / sum(gpu_hours), "
        "any_value(site_domestic_share_gpu_hours) FROM marts.chip_mix GROUP BY 1, 2"
    )
    assert rows
    for _, _, computed, published in rows:
        assert abs((computed or 0) - published) < 1e-5


def test_all_design_tables_are_published(demo: Deployment) -> None:
    tables = {
        r[0]
        for r in demo.query(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE database_name = 'lake' "
            "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE database_name = 'lake'"
        )
    }
    assert {
        "core.compute_usage",
        "core.dataset_catalog",
        "core.data_transfers",
        "core.vouchers",
        "ref.chips",
        "ref.providers",
        "ref.sites",
        "ref.tenants",
        "ref.rate_cards",
        "ref.capacity_plan",
        "audit.ingest_ledger",
        "audit.quarantine",
        "marts.chip_mix",
    } <= tables
    for table in ("core.dataset_catalog", "core.data_transfers", "core.vouchers", "ref.capacity_plan"):
        assert demo.query(f"SELECT count(*) FROM {table}")[0][0] > 0, table


def test_flows_connect_datasets_jobs_and_transfers(demo: Deployment) -> None:
    (orphans,) = demo.query(
        "SELECT count(*) FROM core.compute_usage u WHERE dataset_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM core.dataset_catalog c WHERE c.dataset_id = u.dataset_id)"
    )[0]
    assert orphans == 0
    (moved,) = demo.query(
        "SELECT count(DISTINCT t.dataset_id) FROM core.data_transfers t JOIN core.compute_usage u "
        "ON u.dataset_id = t.dataset_id AND u.site_id = t.destination_site_id"
    )[0]
    assert moved > 0


def test_refresh_twice_changes_nothing(refreshed: Deployment) -> None:
    first = snapshot(refreshed.settings.lake)
    ledger_runs = refreshed.query("SELECT DISTINCT run_id FROM audit.ingest_ledger")
    runs, materialized = len(refreshed.instance.get_run_records()), refreshed.materializations()
    again = refreshed.refresh(checks=False)  # nothing new: nothing runs
    assert again.success and again.run_id is None and again.plan is not None and not again.plan.keys
    assert len(refreshed.instance.get_run_records()) == runs and refreshed.materializations() == materialized
    assert snapshot(refreshed.settings.lake) == first
    everything = refreshed.refresh(
        full=True, checks=False
    )  # and running everything again changes no table either
    assert everything.success and everything.run_id and refreshed.materializations() > materialized
    assert snapshot(refreshed.settings.lake) == first
    assert refreshed.query("SELECT DISTINCT run_id FROM audit.ingest_ledger") == ledger_runs


def snapshot(lake: LakeConfig, exclude: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Row count and an order-independent content hash of every lake table (without the `exclude` columns)."""
    with connect_reader(lake) as con:
        tables = con.execute(
            "SELECT schema_name || '.' || table_name, list(column_name) FROM duckdb_columns() "
            "JOIN duckdb_tables() USING (database_name, schema_name, table_name) "
            "WHERE database_name = current_database() GROUP BY 1 ORDER BY 1"
        ).fetchall()
        result = {}
        for name, columns in tables:
            dropped = [c for c in exclude if c in columns]
            row = f"(SELECT * EXCLUDE ({', '.join(dropped)}) FROM {name})" if dropped else name
            result[name] = con.execute(
                f"SELECT count(*), md5(string_agg(md5(CAST(t AS VARCHAR)), ',' ORDER BY md5(CAST(t AS VARCHAR)))) "
                f"FROM {row} t"
            ).fetchall()[0]
        return result


def test_cli_sql_reads_the_published_warehouse(demo: Deployment, monkeypatch) -> None:
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(demo.settings.home))
    result = CliRunner().invoke(
        main, ["sql", "select count(*) as n from core.compute_usage", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"n": demo.query("SELECT count(*) FROM core.compute_usage")[0][0]}]
    result = CliRunner().invoke(main, ["sql", "create table x (a int)"])
    assert result.exit_code != 0 and "read-only" in result.output.lower()
