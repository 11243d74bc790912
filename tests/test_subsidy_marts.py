"""Subsidy marts, cost reduction and the FOCUS export, materialized through Dagster, checked independently."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from assets.subsidy.policy import load_policy
from pipelines.demo import generate_demo
from pipelines.demo.behaviour import STORY_MIGRATION_DAY, STORY_TENANT
from pipelines.instance import instance_directory
from pipelines.status import headline_figures
from tests.conftest import Deployment, settings_for
from warehouse.ducklake import connect_reader
from warehouse.settings import CONTRACTS_DIR

pytestmark = pytest.mark.slow  # refreshes a four-month story lakehouse

START = dt.date(2025, 8, 1)
STORY_PROVIDERS = ("volcano_engine", "telecom_sh")
ZERO = Decimal(0)
MICRO = Decimal("0.000001")


def _rows(deployment: Deployment, sql: str) -> list[dict]:
    """Rows of a warehouse query as dicts (JSON values; decimals exact)."""
    return [
        json.loads(r[0], parse_float=Decimal)
        for r in deployment.query(f"SELECT to_json(t)::VARCHAR FROM ({sql}) t")
    ]


def _affiliated(deployment: Deployment) -> set[tuple[str, str]]:
    policy = load_policy()
    with policy.affiliations.open(encoding="utf-8") as f:
        pairs = {(r["tenant_id"], r["provider_id"]) for r in csv.DictReader(f)}
    tenants = deployment.query("SELECT tenant_id, affiliated_provider_id FROM ref.tenants")
    return pairs | {(t, p) for t, p in tenants if p}


def test_attribution_keeps_every_invariant(demo: Deployment) -> None:
    lines = {  # charges: the lines of an unpriced trace are no charge, neither subsidised nor explained
        r["charge_line_id"]: r
        for r in _rows(demo, "SELECT * FROM core.compute_usage WHERE billed_cost_cny IS NOT NULL")
    }
    vouchers = {r["voucher_id"]: r for r in _rows(demo, "SELECT * FROM core.vouchers")}
    attribution = _rows(demo, "SELECT * FROM marts.subsidy_attribution")
    unattributed = _rows(demo, "SELECT * FROM marts.subsidy_unattributed")
    policy = load_policy()
    eligible = {s for s, c in policy.service_categories.items() if c == "gpu_compute"}
    tier_ratio = {t.rule: t.max_ratio for _n, _p, t in policy.tiers()}
    affiliated = _affiliated(demo)
    assert attribution and unattributed

    drawn: dict[str, Decimal] = defaultdict(Decimal)
    per_line: dict[str, Decimal] = defaultdict(Decimal)
    per_tier: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for a in attribution:
        line, voucher = lines[a["charge_line_id"]], vouchers[a["voucher_id"]]
        amount = Decimal(str(a["amount_cny"]))
        drawn[a["voucher_id"]] += amount
        assert a["tenant_id"] == voucher["tenant_id"] == line["tenant_id"]
        if a["reverses_line_id"] is not None:
            assert amount < 0 and Decimal(str(line["billed_cost_cny"])) < 0
            continue
        assert amount > 0
        per_line[a["charge_line_id"]] += amount
        per_tier[(a["charge_line_id"], a["rule"])] += amount
        day = dt.date.fromisoformat(a["charge_date"])
        assert (
            dt.date.fromisoformat(voucher["valid_from"]) <= day <= dt.date.fromisoformat(voucher["valid_to"])
        )
        assert line["charge_category"] == "Usage" and line["service_category"] in eligible
        assert (line["tenant_id"], line["provider_id"]) not in affiliated
    for voucher_id, total in drawn.items():
        assert ZERO <= total <= Decimal(str(vouchers[voucher_id]["face_value_cny"])), voucher_id
    for line_id, total in per_line.items():
        assert total <= Decimal(str(lines[line_id]["billed_cost_cny"])), line_id
    for (line_id, rule), total in per_tier.items():
        assert total <= tier_ratio[rule] * Decimal(str(lines[line_id]["billed_cost_cny"])), (line_id, rule)

    covered = {a["charge_line_id"] for a in attribution}
    missing = {u["charge_line_id"] for u in unattributed}
    assert not covered & missing
    assert covered | missing == set(lines)
    assert all(u["reason"] for u in unattributed)


def test_voucher_balances_add_up_and_match_the_landed_ledger(demo: Deployment) -> None:
    balances = _rows(demo, "SELECT * FROM marts.voucher_balances")
    attribution = _rows(demo, "SELECT voucher_id, amount_cny FROM marts.subsidy_attribution")
    for b in balances:
        issued, redeemed, expired, outstanding = (
            Decimal(str(b[k])) for k in ("issued_cny", "redeemed_cny", "expired_cny", "outstanding_cny")
        )
        assert issued == redeemed + expired + outstanding
        assert ZERO <= redeemed <= issued and expired >= 0 and outstanding >= 0
        assert (expired > 0) <= (b["balance_date"] > b["valid_to"])

    last = max(b["balance_date"] for b in balances)
    final = {b["voucher_id"]: b for b in balances if b["balance_date"] == last}
    net: dict[str, Decimal] = defaultdict(Decimal)
    for a in attribution:
        net[a["voucher_id"]] += Decimal(str(a["amount_cny"]))
    assert all(Decimal(str(final[v]["redeemed_cny"])) == amount for v, amount in net.items())

    ledger = next(Path(demo.settings.landing_url, "vouchers").glob("voucher_ledger*.csv"))
    with ledger.open(encoding="utf-8") as f:
        issued = [r for r in csv.DictReader(f) if r["issued_date"] <= last]
    assert issued
    by_programme: dict[str, Decimal] = defaultdict(Decimal)
    for r in issued:
        by_programme[r["programme"]] += Decimal(r["face_value_cny"])
    published: dict[str, Decimal] = defaultdict(Decimal)
    for b in final.values():
        published[b["programme"]] += Decimal(str(b["issued_cny"]))
    assert published == by_programme
    cash = sum(Decimal(r["face_value_cny"]) for r in issued if r["is_cash"] == "true")
    assert sum(Decimal(str(b["issued_cny"])) for b in final.values() if b["is_cash"]) == cash


def test_cost_reduction_recomputes_from_core_usage_and_attribution(demo: Deployment) -> None:
    subsidy: dict[str, Decimal] = defaultdict(Decimal)
    for a in _rows(demo, "SELECT charge_line_id, amount_cny FROM marts.subsidy_attribution"):
        subsidy[a["charge_line_id"]] += Decimal(str(a["amount_cny"]))
    expected: dict[tuple, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for u in _rows(demo, "SELECT * FROM core.compute_usage WHERE billed_cost_cny IS NOT NULL"):  # priced
        month = dt.date.fromisoformat(u["charge_date"]).replace(day=1).isoformat()
        kind = "tokens" if "token" in (u["consumed_unit"] or "").lower() else "gpu_time"
        group = expected[(month, u["tenant_id"], u["provider_id"], u["chip_vendor"] or "unknown", kind)]
        group["pflop_hours"] += Decimal(str(u["pflop_hours"] or 0))
        group["lines"] += 1
        group["effective"] += Decimal(str(u["effective_cost_cny"]))
        group["subsidy"] += subsidy[u["charge_line_id"]]
    mart = _rows(demo, "SELECT * FROM marts.cost_reduction_monthly")
    assert len(mart) == len(expected)
    for m in mart:
        e = expected[(m["month"], m["tenant_id"], m["provider_id"], m["chip_vendor"], m["usage_kind"])]
        assert Decimal(str(m["effective_cost_cny"])) == e["effective"]
        assert Decimal(str(m["subsidy_cny"])) == e["subsidy"]
        assert Decimal(str(m["net_cost_cny"])) == e["effective"] - e["subsidy"]
        rounding = e["lines"] * MICRO  # hours are summed per line at 6 decimals
        assert m["charge_lines"] == e["lines"]
        assert abs(Decimal(str(m["pflop_hours"])) - e["pflop_hours"]) <= rounding
        if e["pflop_hours"] > 0:
            per_hour = e["effective"] / e["pflop_hours"]
            tolerance = Decimal("0.0001") + per_hour * rounding / e["pflop_hours"]
            assert abs(Decimal(str(m["effective_cost_per_pflop_hour"])) - per_hour) <= tolerance


def test_focus_export_holds_every_priced_line_and_its_subsidy(demo: Deployment) -> None:
    rows = _rows(demo, "SELECT * FROM exports.focus_cost_and_usage")
    priced = (
        "SELECT count(*) FROM core.compute_usage WHERE billed_cost IS NOT NULL"  # charges, not trace records
    )
    assert len(rows) == demo.query(priced)[0][0]
    subsidy = sum(Decimal(str(r["x_SubsidyCny"])) for r in rows)
    assert subsidy == Decimal(str(demo.query("SELECT sum(amount_cny) FROM marts.subsidy_attribution")[0][0]))


def test_status_reports_subsidy_and_cost_reduction(demo: Deployment) -> None:
    with connect_reader(demo.settings.lake) as con:
        figures = dict(headline_figures(con))
    redeemed = demo.query("SELECT sum(amount_cny) FROM marts.subsidy_attribution")[0][0]
    assert figures["Subsidy redeemed (CNY)"] == f"{redeemed:,.2f}"
    assert "n/a (table not published)" not in figures.values()


STORY_TABLES = "+key:marts/cost_reduction_monthly or +key:marts/voucher_balances"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The story's two providers (Volcano Engine, then operator compute) and the voucher ledger, from the
    demo's first day to a week into its fourth month, at a small scale."""
    home = tmp_path_factory.mktemp("story")
    sources = home / "sources"
    sources.mkdir()
    for name in (*STORY_PROVIDERS, "voucher_ledger"):
        shutil.copy(CONTRACTS_DIR / "sources" / f"{name}.yaml", sources)
    settings = settings_for(home, sources)
    manifest = generate_demo(
        settings.landing_url,
        days=STORY_MIGRATION_DAY + 8,
        scale=0.05,
        seed=7,
        start=START,
        providers=STORY_PROVIDERS,
    )
    deployment = Deployment(settings, dg.DagsterInstance.from_config(instance_directory(settings)), manifest)
    # what the story's tests read, and everything upstream of it (no dashboards, forecasts or exports)
    outcome = deployment.refresh(STORY_TABLES, checks=False)
    assert outcome.success, outcome.failures
    yield deployment
    deployment.instance.dispose()


def _per_pflop_hour(rows: list[dict]) -> Decimal:
    cost = sum(Decimal(str(u["effective_cost_cny"])) for u in rows)
    return cost / sum(Decimal(str(u["pflop_hours"])) for u in rows)


def test_story_tenant_pays_about_60_percent_less_after_moving_to_operator_compute(story: Deployment) -> None:
    tenant = f"T{STORY_TENANT + 1:03d}"
    move = (START + dt.timedelta(days=STORY_MIGRATION_DAY)).isoformat()
    usage = _rows(
        story,
        "SELECT provider_id, charge_date, pflop_hours, effective_cost_cny FROM core.compute_usage "
        f"WHERE tenant_id = '{tenant}' AND pflop_hours > 0",
    )
    baseline_rows = [u for u in usage if u["charge_date"] < "2025-11-01"]
    november = [u for u in usage if u["charge_date"] >= "2025-11-01"]
    assert {u["provider_id"] for u in baseline_rows} == {"volcano_engine"}
    assert {u["provider_id"] for u in usage if u["charge_date"] > move} == {"telecom_sh"}
    assert min(u["charge_date"] for u in usage) < "2025-08-08"
    baseline = _per_pflop_hour(baseline_rows)
    assert 50 <= 100 * (1 - _per_pflop_hour(november) / baseline) <= 70

    operator = [u for u in november if u["provider_id"] == "telecom_sh"]
    reduction = 100 * (1 - _per_pflop_hour(operator) / baseline)
    assert 55 <= reduction <= 65
    (row,) = _rows(
        story,
        "SELECT * FROM marts.cost_reduction_monthly "
        f"WHERE tenant_id = '{tenant}' AND month = DATE '2025-11-01' AND provider_id = 'telecom_sh'",
    )
    assert not row["in_own_baseline"] and row["own_baseline_start"] == "2025-08-01"
    assert abs(Decimal(str(row["own_baseline_effective_cost_per_pflop_hour"])) - baseline) < Decimal("0.001")
    assert abs(Decimal(str(row["effective_reduction_vs_own_baseline_pct"])) - reduction) < Decimal("0.01")
    assert Decimal(str(row["effective_reduction_vs_reference_pct"])) > 50


def test_refreshing_the_subsidy_marts_again_changes_nothing(story: Deployment) -> None:
    tables = ("marts.subsidy_attribution", "marts.voucher_balances", "marts.cost_reduction_monthly")
    before = {t: story.query(f"SELECT * FROM {t}") for t in tables}
    outcome = story.refresh(
        "key:marts/subsidy_attribution+ or key:marts/subsidy_unattributed or key:marts/voucher_balances"
    )
    assert outcome.success, outcome.failures
    assert {t: story.query(f"SELECT * FROM {t}") for t in tables} == before
