"""The dashboard site: built by the dashboards asset of the demo refresh, figures equal to `computeflow sql`
under the filters chosen in headless Chromium, reference samples left out unless asked, every page opened without
console errors, Chinese names rendered, text from data never becomes markup."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from assets.dashboards.pages import PAGES
from assets.dashboards.pages.flows import TOP_FLOWS
from assets.dashboards.site import build_site
from assets.ingest.spec import load_specs
from pipelines.cli import main
from pipelines.status import headline_figures
from tests.browser import chromium, distinct_bytes, png_pixels, serve
from tests.conftest import Deployment, lake_connection
from warehouse.ducklake import LakeConfig, connect_reader
from warehouse.settings import CONTRACTS_DIR

pytestmark = pytest.mark.slow  # reads the refreshed demo and drives a browser

DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)
# What the specs call reference samples, and their providers (every sample source names its own provider).
SAMPLE_SOURCES = "SELECT source_name FROM meta.sources WHERE is_sample"
SAMPLE_PROVIDERS = "SELECT provider_id FROM meta.sources WHERE is_sample AND provider_id IS NOT NULL"


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


def test_network_and_quality_figures_match_the_warehouse(demo: Deployment, site: Path) -> None:
    network = page_data(site, "network")
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


def test_the_demo_pages_find_every_table_they_read(demo: Deployment, site: Path) -> None:
    published = {
        r["t"]
        for r in cli_sql(
            demo,
            "SELECT schema_name || '.' || table_name AS t FROM duckdb_tables() WHERE database_name = 'lake' "
            "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE database_name = 'lake'",
        )
    }
    assert "core.compute_usage" in published  # a view over its daily and undated parts
    for page in PAGES:
        html = (site / f"{page.name}.html").read_text(encoding="utf-8")
        assert [t for t in page.needs if t not in published] == [], page.name
        assert 'id="missing"' not in html, page.name


def test_text_from_data_never_becomes_markup_and_nan_is_null(tmp_path: Path) -> None:
    hostile = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'
    lake = LakeConfig(str(tmp_path / "catalog.sqlite"), str(tmp_path / "lake"))
    with lake_connection(lake) as con:
        con.execute(
            "CREATE OR REPLACE TABLE lake.marts.chip_mix AS SELECT DATE '2025-08-01' AS usage_date, "
            "'lingang' AS site_id, "
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
    # a table nothing has made yet (core.compute_usage: a view its asset defines) is named on its page; declared
    # tables (the subsidy engine's, the SQL marts) exist, empty
    assert {o.name: o.missing for o in outcomes}["subsidy"] == ["core.compute_usage"]


def test_every_page_renders_in_chromium_without_console_errors(
    site: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    shots = tmp_path_factory.mktemp("screenshots")
    with serve(site) as base, chromium(tmp_path_factory.mktemp("profile")) as driver:
        for name in ["index", *(p.name for p in PAGES)]:
            driver.get(f"{base}/{name}.html")
            charts = len(page_data(site, name)["charts"])
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

    cost = page_data(site, "cost")
    pflop = column_sums(cost["datasets"]["monthly"], "chip_vendor", "pflop_hours")
    expected = cli_sql(
        demo, "SELECT chip_vendor, sum(pflop_hours) AS p FROM marts.cost_reduction_monthly GROUP BY ALL"
    )
    assert pflop == {r["chip_vendor"]: pytest.approx(float(r["p"])) for r in expected}

    capacity = page_data(site, "capacity")
    alerts = cli_sql(demo, "SELECT count(*) AS n FROM marts.capacity_alerts")[0]["n"]
    assert len(capacity["datasets"]["alerts"]["rows"]) == alerts


@dataclass
class Browser:
    """A page of the site in headless Chromium, driven as an operator would: filters, toggle, figures, tables."""

    base: str
    driver: object

    def open(self, name: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(f"{self.base}/{name}.html")
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.body.dataset.draws"))

    def _redraw(self, script: str, *args: object) -> None:
        """Run a change on the page and wait until the page has drawn itself again."""
        from selenium.webdriver.support.ui import WebDriverWait

        before = self.driver.execute_script("return document.body.dataset.draws")
        self.driver.execute_script(script, *args)
        WebDriverWait(self.driver, 30).until(
            lambda d: d.execute_script("return document.body.dataset.draws") != before
        )

    def choose(self, name: str, value: str) -> None:
        """Pick a value of a select filter (tenant, provider, series) or a date input (from, to)."""
        self._redraw(
            "const el = document.getElementById(arguments[0]); el.value = arguments[1];"
            "el.dispatchEvent(new Event('change'));",
            f"filter-{name}",
            value,
        )

    def include_samples(self) -> None:
        self._redraw("document.getElementById('filter-samples').click();")

    def figure(self, key: str) -> float | None:
        value = self.driver.execute_script(
            "return document.querySelector(`[data-figure='${arguments[0]}']`).dataset.value;", key
        )
        return float(value) if value else None

    def fixed_note(self, key: str) -> str:
        return self.driver.execute_script(
            "const el = document.querySelector(`[data-figure='${arguments[0]}'] .fixed`);"
            "return el ? el.textContent : '';",
            key,
        )

    def options(self, name: str) -> dict[str, str]:
        """Value -> text of a select filter's options (the "all" option left out)."""
        return self.driver.execute_script(
            "return Object.fromEntries([...document.getElementById(arguments[0]).options]"
            ".filter((o) => o.value).map((o) => [o.value, o.textContent]));",
            f"filter-{name}",
        )

    def chart(self, chart_id: str) -> list[dict]:
        """The traces Plotly drew for a chart."""
        return self.driver.execute_script(
            "return document.getElementById(arguments[0]).data.map((t) => JSON.parse(JSON.stringify(t)));",
            chart_id,
        )

    def table(self, table_id: str) -> list[list[str]]:
        return self.driver.execute_script(
            "return [...document.querySelectorAll(`#${arguments[0]} tbody tr`)]"
            ".map((tr) => [...tr.children].map((td) => td.textContent));",
            table_id,
        )


@pytest.fixture(scope="module")
def browser(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with serve(site) as base, chromium(tmp_path_factory.mktemp("profile")) as driver:
        yield Browser(base, driver)


def number(text: str) -> float:
    """A number as a table cell shows it."""
    return float(text.replace(",", ""))


def test_headline_figures_follow_the_filters(demo: Deployment, browser: Browser) -> None:
    business = f"provider_id NOT IN ({SAMPLE_PROVIDERS})"

    def cost(where: str) -> tuple[float, float]:
        row = cli_sql(
            demo,
            "SELECT sum(net_cost_cny) / sum(pflop_hours) AS r, sum(subsidy_cny) AS s "
            f"FROM marts.cost_reduction_monthly WHERE {business} AND {where}",
        )[0]
        return float(row["r"]), float(row["s"])

    browser.open("cost")
    everyone = (browser.figure("net_cost_per_pflop_hour"), browser.figure("subsidy_cny"))
    assert everyone == pytest.approx(cost("true"))
    tenant = cli_sql(
        demo,
        f"SELECT tenant_id FROM marts.cost_reduction_monthly WHERE {business} "
        "GROUP BY ALL ORDER BY sum(pflop_hours) DESC, tenant_id LIMIT 1",
    )[0]["tenant_id"]
    browser.choose("tenant", tenant)
    one = (browser.figure("net_cost_per_pflop_hour"), browser.figure("subsidy_cny"))
    assert one == pytest.approx(cost(f"tenant_id = '{tenant}'"))
    assert one != pytest.approx(everyone)

    browser.open("chips")
    day, provider = cli_sql(
        demo,
        f"SELECT usage_date AS d, provider_id AS p FROM marts.chip_mix WHERE {business} AND is_domestic_chip "
        "GROUP BY ALL ORDER BY usage_date DESC, sum(gpu_hours) DESC LIMIT 1",
    )[0].values()
    browser.choose("from", day)
    browser.choose("to", day)
    browser.choose("provider", provider)
    expected = cli_sql(
        demo,
        "SELECT sum(gpu_hours) AS g, coalesce(sum(gpu_hours) FILTER (WHERE is_domestic_chip), 0) / sum(gpu_hours) "
        "AS s "
        f"FROM marts.chip_mix WHERE usage_date = '{day}' AND provider_id = '{provider}'",
    )[0]
    assert browser.figure("gpu_hours") == pytest.approx(expected["g"])
    assert browser.figure("domestic_share_gpu_hours") == pytest.approx(expected["s"])


def test_figures_that_cannot_follow_a_filter_say_so(site: Path, browser: Browser) -> None:
    names = {"date": "date range", "tenant": "tenant", "provider": "provider", "series": "series"}
    for page in ["index", *(p.name for p in PAGES)]:
        data = page_data(site, page)
        browser.open(page)
        for figure in data["figures"]:
            dataset = data["datasets"][figure["dataset"]]
            lacking = [names[k] for k in names if data["filters"][k] and not dataset[k]]
            note = browser.fixed_note(figure["key"])
            assert all(name in note for name in lacking), (page, figure["key"], note)
            fixed_by_samples = data["filters"]["samples"] and not dataset["sample"]
            assert ("reference samples" in note) == fixed_by_samples, (page, figure["key"], note)
            assert bool(note) == bool(lacking or fixed_by_samples), (page, figure["key"], note)
    browser.open("quality")
    assert "date range" in browser.fixed_note("failed_checks")


def test_reference_samples_are_left_out_unless_asked(demo: Deployment, browser: Browser) -> None:
    def tenants(where: str) -> set[str]:
        rows = cli_sql(demo, f"SELECT DISTINCT tenant_id FROM marts.cost_reduction_monthly WHERE {where}")
        return {r["tenant_id"] for r in rows}

    def months(where: str) -> set[str]:
        rows = cli_sql(demo, f"SELECT DISTINCT month FROM marts.cost_reduction_monthly WHERE {where}")
        return {r["month"] for r in rows}

    business = f"provider_id NOT IN ({SAMPLE_PROVIDERS})"
    samples = f"provider_id IN ({SAMPLE_PROVIDERS})"
    assert tenants(samples) - tenants(business), "the demo has tenants that only samples bill"
    assert months(samples) - months(business), "and months that only samples have"

    browser.open("cost")
    assert set(browser.options("tenant")) == tenants(business)
    assert {x for t in browser.chart("pflop_hours_by_vendor") for x in t["x"]} == months(business)
    browser.include_samples()
    assert set(browser.options("tenant")) == tenants("true")
    assert {x for t in browser.chart("pflop_hours_by_vendor") for x in t["x"]} == months("true")
    subsidy = cli_sql(demo, "SELECT sum(subsidy_cny) AS s FROM marts.cost_reduction_monthly")[0]["s"]
    assert browser.figure("subsidy_cny") == pytest.approx(float(subsidy))


def test_meta_sources_and_status_tell_samples_apart(demo: Deployment) -> None:
    specs = {s.name: s.sample for s in load_specs(CONTRACTS_DIR / "sources")}
    listed = cli_sql(demo, "SELECT source_name, is_sample FROM meta.sources")
    assert {r["source_name"]: r["is_sample"] for r in listed} == specs
    assert any(specs.values()) and not all(specs.values())

    with connect_reader(demo.settings.lake) as con:
        business, everything = dict(headline_figures(con)), dict(headline_figures(con, samples=True))

    def gpu_hours(where: str) -> str:
        value = cli_sql(demo, f"SELECT sum(gpu_hours) AS g FROM core.compute_usage WHERE {where}")[0]["g"]
        return f"{value:,.0f}"

    assert business["GPU-hours"] == gpu_hours(f"source_name NOT IN ({SAMPLE_SOURCES})")
    assert everything["GPU-hours"] == gpu_hours("true")
    assert business["GPU-hours"] != everything["GPU-hours"]
    with demo.environment():
        printed = CliRunner().invoke(main, ["status"]).output
    assert "reference samples left out" in printed and f"GPU-hours: {business['GPU-hours']}" in printed


def test_the_flow_page_shows_the_largest_flows_the_rest_as_other_and_a_table(
    demo: Deployment, browser: Browser
) -> None:
    flows = cli_sql(
        demo,
        "SELECT dataset_id, coalesce(sum(bytes) FILTER (WHERE status = 'completed'), 0) / 1e9 AS gb "
        f"FROM marts.network_savings WHERE dataset_id IS NOT NULL AND source_name NOT IN ({SAMPLE_SOURCES}) "
        "GROUP BY dataset_id, coalesce(destination_site_id, '?') ORDER BY gb DESC",
    )
    assert len(flows) > TOP_FLOWS, "the demo has more flows than the page shows one by one"
    browser.open("flows")
    rows = browser.table("flows_table")
    assert len(rows) == TOP_FLOWS + 1
    assert [number(r[3]) for r in rows[:TOP_FLOWS]] == pytest.approx(
        [f["gb"] for f in flows[:TOP_FLOWS]], abs=0.01
    )
    assert rows[-1][0] == f"other ({len(flows) - TOP_FLOWS} flows)"
    assert number(rows[-1][3]) == pytest.approx(sum(f["gb"] for f in flows[TOP_FLOWS:]), abs=0.01)

    (sankey,) = browser.chart("dataset_to_site")
    sites = {
        r["s"]
        for r in cli_sql(
            demo, "SELECT DISTINCT coalesce(destination_site_id, '?') AS s FROM marts.network_savings"
        )
    }
    datasets = [n for n in sankey["node"]["label"] if n.split()[0] not in sites]
    assert len(datasets) == TOP_FLOWS + 1 and f"other ({len(flows) - TOP_FLOWS} flows)" in datasets
    assert sum(sankey["link"]["value"]) == pytest.approx(sum(f["gb"] for f in flows))


def test_chinese_names_are_shown_and_render(demo: Deployment, browser: Browser) -> None:
    names = {
        r["provider_id"]: r["n"]
        for r in cli_sql(demo, "SELECT provider_id, provider_name_zh AS n FROM ref.providers")
    }
    browser.open("chips")
    options = browser.options("provider")
    assert options and all(text == f"{value} {names[value]}" for value, text in options.items())
    first, second = (names[p] for p in sorted(options)[:2])
    shots = {}
    for key, text in (("a", first), ("b", second), ("tofu", "\U0010fffd" * len(first))):
        browser.driver.execute_script(
            "const s = document.createElement('span'); s.id = 'glyphs-' + arguments[0];"
            "s.textContent = arguments[1]; s.style.cssText = 'display:inline-block;width:10em;height:1.5em;"
            "font-size:32px;background:#fff;color:#000';"
            "document.querySelector('main').prepend(s);",
            key,
            text,
        )
        shots[key] = browser.driver.find_element("id", f"glyphs-{key}").screenshot_as_png
    assert distinct_bytes(shots["a"]) > 2, "the Chinese name drew nothing"
    pixels = {key: png_pixels(png)[2] for key, png in shots.items()}
    assert pixels["a"] != pixels["b"], "two different Chinese names drew the same boxes: no CJK font"
    assert pixels["a"] != pixels["tofu"], "the Chinese name drew as missing-glyph boxes"


def test_the_quality_page_shows_each_checks_outcome_and_the_severity_of_a_failure(
    demo: Deployment, browser: Browser
) -> None:
    browser.open("quality")
    rows = browser.table("checks_table")
    assert rows
    for asset, check, outcome, severity, on_failure, *_ in rows:
        key = dg.AssetCheckKey(dg.AssetKey.from_user_string(asset), check)
        record = demo.instance.event_log_storage.get_asset_check_execution_history(key, limit=1)[0]
        evaluation = record.event.dagster_event.event_specific_data
        assert outcome == ("passed" if evaluation.passed else "failed"), (asset, check)
        assert severity == ("" if evaluation.passed else evaluation.severity.value), (asset, check)
        assert on_failure == ("blocks downstream" if check.startswith("contract") else "does not block") or (
            check == "chosen_models_beat_seasonal_naive" and on_failure == "blocks downstream"
        )
    assert browser.figure("failed_checks") == sum(r[2] == "failed" for r in rows)


def test_the_overview_shows_failed_checks_sources_behind_and_pools_near_capacity(
    refreshed: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    bills = sorted(Path(refreshed.settings.landing_url, "providers", "telecom_sh").glob("bill_*.csv"))
    bills[-1].write_text("not a bill\n", encoding="utf-8")  # its day can no longer load
    refreshed.refresh(checks=False)

    failing = dg.AssetCheckKey(dg.AssetKey(["ingest", "telecom_sh"]), "files_accepted")
    record = refreshed.instance.event_log_storage.get_asset_check_execution_history(failing, limit=1)[0]
    assert not record.event.dagster_event.event_specific_data.passed
    ledger = cli_sql(
        refreshed,
        "SELECT source_name, kind, max(partition_key) AS day FROM audit.ingest_ledger "
        f"WHERE partition_key <> 'all' AND status = 'loaded' AND source_name NOT IN ({SAMPLE_SOURCES}) "
        "GROUP BY ALL",
    )
    newest = {}
    for row in ledger:
        newest[row["kind"]] = max(newest.get(row["kind"], ""), row["day"])
    behind = {r["source_name"] for r in ledger if r["day"] < newest[r["kind"]]}
    assert "telecom_sh" in behind
    near = cli_sql(
        refreshed,
        "SELECT count(*) AS n, count(DISTINCT series_id) AS pools FROM marts.capacity_alerts "
        "WHERE first_date IS NOT NULL",
    )[0]

    with (
        serve(refreshed.settings.dashboards_path) as base,
        chromium(tmp_path_factory.mktemp("profile")) as driver,
    ):
        overview = Browser(base, driver)
        overview.open("index")
        failed = overview.table("failed_checks_table")
        assert ["ingest/telecom_sh", "files_accepted"] in [r[:2] for r in failed]
        assert overview.figure("failed_checks") == len(failed)
        assert {r[0] for r in overview.table("behind_table")} == behind
        assert overview.figure("sources_behind") == len(behind)
        assert len(overview.table("alerts_table")) == near["n"]
        assert overview.figure("pools_near_capacity") == near["pools"]
        assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
