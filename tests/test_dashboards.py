"""The dashboard site: built by the dashboards asset of the demo refresh, figures equal to `computeflow sql`,
every page opened in headless Chromium without console errors, text from data never becomes markup."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from assets.dashboards.pages import PAGES
from assets.dashboards.site import build_site
from pipelines.cli import main
from tests.browser import chromium, distinct_bytes, serve
from tests.conftest import Deployment, lake_connection
from warehouse.ducklake import LakeConfig

DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)


def page_data(site: Path, name: str) -> dict:
    """The JSON block a page draws itself from."""
    return json.loads(DATA.search((site / f"{name}.html").read_text(encoding="utf-8"))[1])


def cli_sql(demo: Deployment, query: str) -> list[dict]:
    """Rows of `computeflow sql --format json` on the demo warehouse."""
    with demo.environment():
        result = CliRunner().invoke(main, ["sql", query, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def column_sums(dataset: dict, key: str, value: str) -> dict[str, float]:
    i, j = dataset["columns"].index(key), dataset["columns"].index(value)
    sums: dict[str, float] = {}
    for row in dataset["rows"]:
        sums[row[i]] = sums.get(row[i], 0.0) + (row[j] or 0.0)
    return sums


@pytest.fixture(scope="module")
def site(demo: Deployment) -> Path:
    path = demo.settings.dashboards_path
    assert (path / "index.html").exists(), "the demo refresh materializes the dashboards asset"
    return path


def test_every_page_and_the_index_exist_and_link(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in PAGES:
        assert (site / f"{page.name}.html").exists()
        assert f'href="{page.name}.html"' in index
    assert (site / "assets" / "plotly.min.js").stat().st_size > 1_000_000


def test_pages_load_nothing_from_the_network(site: Path) -> None:
    for html in site.glob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text), html.name


def test_chip_mix_figures_match_the_warehouse(demo: Deployment, site: Path) -> None:
    data = page_data(site, "chips")
    shown = column_sums(data["datasets"]["daily"], "chip_vendor", "gpu_hours")
    expected = cli_sql(
        demo,
        "SELECT coalesce(chip_vendor, 'unknown') AS chip_vendor, sum(gpu_hours) AS h FROM core.compute_usage "
        "WHERE charge_category = 'Usage' AND gpu_hours IS NOT NULL GROUP BY ALL",  # GPU time, chips named or not
    )
    assert {r["chip_vendor"]: pytest.approx(r["h"], rel=1e-6) for r in expected} == shown
    figures = {f["key"]: f["value"] for f in data["figures"]}
    share = cli_sql(
        demo,
        "SELECT sum(gpu_hours) FILTER (WHERE is_domestic_chip) / sum(gpu_hours) AS s FROM core.compute_usage "
        "WHERE charge_category = 'Usage' AND gpu_hours IS NOT NULL",
    )[0]["s"]
    assert figures["domestic_share_gpu_hours"] == pytest.approx(share, rel=1e-6)
    html = (site / "chips.html").read_text(encoding="utf-8")
    assert (
        f'data-figure="domestic_share_gpu_hours" data-value="{figures["domestic_share_gpu_hours"]}"' in html
    )


def test_network_and_quality_figures_match_the_warehouse(demo: Deployment, site: Path) -> None:
    network = page_data(site, "network")
    saving = cli_sql(demo, "SELECT sum(saving_cny) AS s FROM marts.network_savings")[0]["s"]
    assert {f["key"]: f["value"] for f in network["figures"]}["saving_cny"] == pytest.approx(float(saving))
    by_tenant = column_sums(network["datasets"]["daily"], "tenant_id", "billed_cost_cny")
    expected = cli_sql(
        demo,
        "SELECT tenant_id, sum(cost_cny) AS c FROM core.data_transfers WHERE base_bandwidth_mbps > 0 GROUP BY ALL",
    )
    assert by_tenant == {r["tenant_id"]: pytest.approx(float(r["c"])) for r in expected}

    quality = page_data(site, "quality")
    read = column_sums(quality["datasets"]["sources"], "source_name", "rows_read")
    ledger = cli_sql(demo, "SELECT source_name, sum(rows_read) AS n FROM audit.ingest_ledger GROUP BY ALL")
    assert read == {r["source_name"]: r["n"] for r in ledger}
    rules = column_sums(quality["datasets"]["rules"], "source_name", "rows_quarantined")
    quarantined = cli_sql(demo, "SELECT source_name, count(*) AS n FROM audit.quarantine GROUP BY ALL")
    assert rules == {r["source_name"]: r["n"] for r in quarantined}
    checks = {(c[0], c[1]) for c in quality["datasets"]["checks"]["rows"]}
    assert ("core/compute_usage", "contract") in checks


def test_pages_without_their_tables_say_which_are_missing(demo: Deployment, site: Path) -> None:
    published = {
        r["t"]
        for r in cli_sql(
            demo,
            "SELECT schema_name || '.' || table_name AS t FROM duckdb_tables() WHERE database_name = 'lake'",
        )
    }
    for page in PAGES:
        html = (site / f"{page.name}.html").read_text(encoding="utf-8")
        missing = [t for t in page.needs if t not in published]
        for table in missing:
            assert table in html, (page.name, table)
        assert ('id="missing"' in html) == bool(missing), page.name


def test_text_from_data_never_becomes_markup_and_nan_is_null(tmp_path: Path) -> None:
    hostile = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'
    lake = LakeConfig(str(tmp_path / "catalog.sqlite"), str(tmp_path / "lake"))
    with lake_connection(lake) as con:
        con.execute(
            "CREATE TABLE lake.marts.chip_mix AS SELECT DATE '2025-08-01' AS usage_date, 'lingang' AS site_id, "
            "? AS provider_id, 'Huawei' AS chip_vendor, true AS is_domestic_chip, 1.5 AS gpu_hours, "
            "'NaN'::DOUBLE AS pflop_hours, CAST(3 AS DECIMAL(18,4)) AS effective_cost_cny",
            [hostile],
        )
    outcomes = build_site(lake, tmp_path / "site", [], datetime.now(UTC))
    html = (tmp_path / "site" / "chips.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img" not in html
    daily = page_data(tmp_path / "site", "chips")["datasets"]["daily"]
    row = dict(zip(daily["columns"], daily["rows"][0], strict=True))
    assert row["provider_id"] == hostile and row["pflop_hours"] is None  # NaN becomes null, not invalid JSON
    assert {o.name: o.missing for o in outcomes}["chips"] == []
    assert "marts.network_savings_monthly" in {o.name: o.missing for o in outcomes}["network"]


def test_every_page_renders_in_chromium_without_console_errors(
    site: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    shots = tmp_path_factory.mktemp("screenshots")
    with serve(site) as base, chromium(tmp_path_factory.mktemp("profile")) as driver:
        for name in ["index", *(p.name for p in PAGES)]:
            driver.get(f"{base}/{name}.html")
            charts = len(page_data(site, name)["charts"]) if name != "index" else 0
            WebDriverWait(driver, 30).until(
                lambda d, n=charts: (
                    d.execute_script("return document.readyState") == "complete"
                    and d.execute_script("return document.querySelectorAll('.js-plotly-plot').length") == n
                )
            )
            errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
            assert errors == [], (name, errors)
            png = driver.get_screenshot_as_png()
            (shots / f"{name}.png").write_bytes(png)
            assert distinct_bytes(png) > 16, f"{name}: blank screenshot"


def test_subsidy_cost_and_capacity_figures_match_the_warehouse(demo: Deployment, site: Path) -> None:
    subsidy = page_data(site, "subsidy")
    by_funder = column_sums(subsidy["datasets"]["redemptions"], "funder", "amount_cny")
    redeemed = cli_sql(
        demo, "SELECT funder, sum(amount_cny) AS a FROM marts.subsidy_attribution GROUP BY ALL"
    )
    assert by_funder == {r["funder"]: pytest.approx(float(r["a"])) for r in redeemed}
    face = cli_sql(demo, "SELECT sum(face_value_cny) AS f FROM core.vouchers")[0]["f"]
    assert {f["key"]: f["value"] for f in subsidy["figures"]}["face_value_cny"] == pytest.approx(float(face))

    cost = page_data(site, "cost")
    pflop = column_sums(cost["datasets"]["monthly"], "chip_vendor", "pflop_hours")
    expected = cli_sql(
        demo, "SELECT chip_vendor, sum(pflop_hours) AS p FROM marts.cost_reduction_monthly GROUP BY ALL"
    )
    assert pflop == {r["chip_vendor"]: pytest.approx(float(r["p"])) for r in expected}

    capacity = page_data(site, "capacity")
    alerts = cli_sql(demo, "SELECT count(*) AS n FROM marts.capacity_alerts")[0]["n"]
    assert {f["key"]: f["value"] for f in capacity["figures"]}["alerts"] == alerts
    assert len(capacity["datasets"]["alerts"]["rows"]) == alerts
