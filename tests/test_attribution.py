"""Voucher attribution: equal to a plain line-by-line greedy, its invariants, incremental runs, examples, policy."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from assets.subsidy.attribution import REASONS, Columns, attribute, attribute_day, load_affiliations
from assets.subsidy.policy import DEFAULT_POLICY, Policy, PolicyError, load_policy

pytestmark = pytest.mark.slow  # property tests of the subsidy engine on generated ledgers

UNIT, PPM, NO_CAP = 10_000, 1_000_000, 2**62
TZ = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2024, 12, 20, tzinfo=TZ)
COLUMNS = Columns(line_id="line_id", cost="billed_cost", face_value="face_value", corrects="corrects")
LINES_DDL = (
    "CREATE TABLE lines (line_id VARCHAR, tenant_id VARCHAR, provider_id VARCHAR, charge_period_start TIMESTAMPTZ, "
    "billed_cost DECIMAL(18,4), charge_category VARCHAR, service_category VARCHAR, corrects VARCHAR)"
)
VOUCHERS_DDL = (
    "CREATE TABLE vouchers (voucher_id VARCHAR, tenant_id VARCHAR, programme VARCHAR, funder VARCHAR, "
    "face_value DECIMAL(18,4), coverage_ratio DOUBLE, valid_from DATE, valid_to DATE, annual_cap DECIMAL(18,4))"
)
# A short first-use window and a second programme overlapping compute, so that both bind within a test period.
TEST_POLICY = Policy.model_validate(
    {
        **yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8")),
        "affiliations": None,
        "programmes": {
            "compute": {
                "categories": ["gpu_compute"],
                "max_duration_months": 1,
                "tiers": [
                    {"rule": "city_rent_30pct", "funders": ["city"], "max_ratio": "0.3", "annual_cap": 400},
                    {"rule": "district_topup", "funders": ["district", "*"], "max_ratio": 1},
                ],
            },
            "pilot": {
                "categories": ["gpu_compute", "storage"],
                "max_line_ratio": "0.5",
                "tiers": [{"rule": "pilot_half", "funders": ["*"], "max_ratio": "0.5"}],
            },
        },
    }
)


@dataclass(frozen=True)
class Line:
    """One charge line as the tests generate it."""

    line_id: str
    tenant_id: str | None
    provider_id: str | None
    charge_time: dt.datetime
    cost: Decimal
    charge_category: str | None
    service_category: str | None
    corrects: str | None = None

    @property
    def day(self) -> dt.date:
        return self.charge_time.astimezone(TZ).date()

    @property
    def units(self) -> int:
        return int(self.cost * UNIT)


@dataclass(frozen=True)
class Voucher:
    """One voucher as the tests generate it."""

    voucher_id: str
    tenant_id: str
    programme: str
    funder: str
    face_value: Decimal
    coverage_ratio: float | None
    valid_from: dt.date
    valid_to: dt.date
    annual_cap: Decimal | None = None


# --- the reference: the policy as a plain greedy over lines, one day at a time -----------------------------------
def add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class Subsidised:
    """A line that received subsidy: what a later credit can reverse."""

    line: Line
    allocations: list[tuple[Voucher, int]] = field(default_factory=list)
    credited: int = 0


class Reference:
    """Straightforward greedy: the specification the set-based SQL must match exactly."""

    def __init__(self, policy: Policy, vouchers: list[Voucher], affiliated: set[tuple[str, str]]) -> None:
        self.policy, self.vouchers, self.affiliated = policy, vouchers, affiliated
        self.tiers = policy.tiers()
        self.tier_of = {v.voucher_id: self._tier(v) for v in vouchers}
        self.redeemed: dict[str, int] = defaultdict(int)
        self.used: dict[tuple, int] = defaultdict(int)
        self.first_use: dict[tuple[str, str], dt.date] = {}
        self.subsidised: dict[str, Subsidised] = {}
        self.rows: list[tuple] = []
        self.unattributed: dict[str, str] = {}

    def _tier(self, v: Voucher) -> int | None:
        named = [n for n, (p, _, t) in enumerate(self.tiers) if p == v.programme and v.funder in t.funders]
        anyone = [n for n, (p, _, t) in enumerate(self.tiers) if p == v.programme and "*" in t.funders]
        return (named or anyone or [None])[0]

    def ratio(self, v: Voucher) -> int:
        top = int(self.tiers[self.tier_of[v.voucher_id]][2].max_ratio * PPM)
        return top if v.coverage_ratio is None else min(round(v.coverage_ratio * PPM), top)

    def cap(self, tenant: str, tier_no: int) -> int:
        tier_cap = self.tiers[tier_no][2].annual_cap
        caps = [int(v.annual_cap * UNIT) for v in self.held(tenant, tier_no) if v.annual_cap is not None]
        caps += [] if tier_cap is None else [int(tier_cap * UNIT)]
        return min(caps, default=NO_CAP)

    def held(self, tenant: str, tier_no: int) -> list[Voucher]:
        return [v for v in self.vouchers if v.tenant_id == tenant and self.tier_of[v.voucher_id] == tier_no]

    def kind(self, line: Line) -> str:
        if line.units < 0:
            return "nothing_to_reverse" if line.tenant_id is None else "reversal"
        category = self.policy.service_categories.get(line.service_category)
        held = {
            c for n, (_, p, _) in enumerate(self.tiers) if self.held(line.tenant_id, n) for c in p.categories
        }
        if line.units == 0 or line.charge_category not in self.policy.paid_charge_categories:
            return "not_paid"
        if not any(category in p.categories for p in self.policy.programmes.values()):
            return "ineligible_category"
        if (line.tenant_id, line.provider_id) in self.affiliated:
            return "affiliated_provider"
        return "candidate" if category in held else "no_valid_voucher"

    def run(self, lines: list[Line]) -> None:
        ordered = sorted(lines, key=lambda x: (x.charge_time, x.line_id))
        for day in sorted({x.day for x in lines}):
            today = [x for x in ordered if x.day == day]
            for line in today:
                kind = self.kind(line)
                if kind == "candidate":
                    self.allocate(line)
                elif kind != "reversal":
                    self.unattributed[line.line_id] = kind
            for line in today:
                if self.kind(line) == "reversal":
                    self.settle(line)

    def allocate(self, line: Line) -> None:
        units, day, tenant = line.units, line.day, line.tenant_id
        category = self.policy.service_categories[line.service_category]
        taken_all, reasons = 0, []
        for name, programme in self.policy.programmes.items():
            if category not in programme.categories:
                continue
            months, first = programme.max_duration_months, self.first_use.get((tenant, name))
            outside = bool(months and first and day >= add_months(first, months))
            taken_programme = 0
            for tier_no, (tier_programme, _, tier) in enumerate(self.tiers):
                valid = [v for v in self.held(tenant, tier_no) if v.valid_from <= day <= v.valid_to]
                if tier_programme != name or not valid:
                    continue
                if outside:
                    reasons.append(3)
                    continue
                demand = max(
                    0,
                    min(
                        units * min(self.ratio(v) for v in valid) // PPM,
                        units * int(programme.max_line_ratio * PPM) // PPM - taken_programme,
                        units - taken_all,
                    ),
                )
                key = (tenant, tier_no, day.year)
                cap_left = self.cap(tenant, tier_no) - self.used[key]
                balance = sum(int(v.face_value * UNIT) - self.redeemed[v.voucher_id] for v in valid)
                got = 0
                for v in sorted(valid, key=lambda v: (v.valid_to, v.voucher_id)):
                    take = min(
                        demand - got, int(v.face_value * UNIT) - self.redeemed[v.voucher_id], cap_left - got
                    )
                    if take > 0:
                        self.rows.append((line.line_id, v.voucher_id, tier.rule, take, None))
                        self.subsidised.setdefault(line.line_id, Subsidised(line)).allocations.append(
                            (v, take)
                        )
                        self.redeemed[v.voucher_id] += take
                        got += take
                self.used[key] += got
                if not got:
                    reasons.append(2 if demand == 0 else 0 if cap_left <= balance else 1)
                taken_programme += got
                taken_all += got
            if taken_programme and first is None:
                self.first_use[(tenant, name)] = day
        if not taken_all:
            self.unattributed[line.line_id] = REASONS[min(reasons, default=4)]

    def settle(self, credit: Line) -> None:
        amount = -credit.units

        def before(s: Subsidised) -> bool:
            return (s.line.charge_time, s.line.line_id) < (credit.charge_time, credit.line_id)

        if credit.corrects is not None:
            target = self.subsidised.get(credit.corrects)
            ok = target is not None and target.line.tenant_id == credit.tenant_id and before(target)
            hits = [(target, amount)] if ok else []
        else:
            open_lines = [
                s
                for s in self.subsidised.values()
                if (s.line.tenant_id, s.line.provider_id) == (credit.tenant_id, credit.provider_id)
                and s.line.units > s.credited
                and before(s)
            ]
            hits = []
            for s in sorted(open_lines, key=lambda s: (s.line.charge_time, s.line.line_id), reverse=True):
                added = min(amount, s.line.units - s.credited)
                if added <= 0:
                    break
                hits.append((s, added))
                amount -= added
        reversed_any = False
        for s, added in hits:
            units = s.line.units
            old, new = min(s.credited, units), min(s.credited + added, units)
            for v, allocated in s.allocations:
                delta = ceil_div(allocated * new, units) - ceil_div(allocated * old, units)
                if delta > 0:
                    reversed_any = True
                    self.rows.append((credit.line_id, v.voucher_id, "reversal", -delta, s.line.line_id))
                    self.redeemed[v.voucher_id] -= delta
                    self.used[(v.tenant_id, self.tier_of[v.voucher_id], s.line.day.year)] -= delta
            s.credited += added
        if not reversed_any:
            self.unattributed[credit.line_id] = "nothing_to_reverse"

    def balances(self, lines: list[Line]) -> dict[tuple, tuple]:
        """(day, voucher) -> (issued, redeemed, expired, outstanding) in units over the lines' days."""
        net: dict[tuple, int] = defaultdict(int)
        day_of = {x.line_id: x.day for x in lines}
        for line_id, voucher_id, _rule, units, _target in self.rows:
            net[(day_of[line_id], voucher_id)] += units
        out, days = {}, sorted(day_of.values())
        day = days[0] if days else None
        redeemed: dict[str, int] = defaultdict(int)
        while day is not None and day <= days[-1]:
            for v in self.vouchers:
                redeemed[v.voucher_id] += net[(day, v.voucher_id)]
                if v.valid_from <= day:
                    face, used = int(v.face_value * UNIT), redeemed[v.voucher_id]
                    expired = face - used if day > v.valid_to else 0
                    out[(day, v.voucher_id)] = (face, used, expired, face - used - expired)
            day += dt.timedelta(days=1)
        return out


# --- running the engine ------------------------------------------------------------------------------------------
def load(con: duckdb.DuckDBPyConnection, lines: list[Line], vouchers: list[Voucher]) -> None:
    con.execute(LINES_DDL)
    con.execute(VOUCHERS_DDL)
    con.execute("CREATE TABLE affiliations (tenant_id VARCHAR, provider_id VARCHAR, relation VARCHAR)")
    con.execute("INSERT INTO affiliations VALUES ('T2', 'P2', 'subsidiary')")
    if lines:
        con.executemany(
            "INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [list(vars(x).values()) for x in lines]
        )
    if vouchers:
        con.executemany(
            "INSERT INTO vouchers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [list(vars(v).values()) for v in vouchers],
        )


def engine(
    lines: list[Line], vouchers: list[Voucher], policy: Policy = TEST_POLICY, daily: bool = False
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    load(con, lines, vouchers)
    if not daily:
        attribute(con, "lines", "vouchers", policy, "affiliations", columns=COLUMNS)
        return con
    days = sorted({x.day for x in lines})
    day = days[0]
    while day <= days[-1]:
        attribute_day(con, "lines", "vouchers", policy, "affiliations", day, columns=COLUMNS)
        day += dt.timedelta(days=1)
    return con


def outputs(con: duckdb.DuckDBPyConnection) -> tuple[list, dict, dict]:
    """Attribution rows, unattributed reasons and balances in units, in a canonical order."""
    rows = con.execute(
        "SELECT line_id, voucher_id, rule, CAST(amount * 10000 AS BIGINT), reverses_line_id FROM subsidy_attribution"
    ).fetchall()
    reasons = dict(con.execute("SELECT line_id, reason FROM subsidy_unattributed").fetchall())
    balances = {
        (r[0], r[1]): tuple(int(x * UNIT) for x in r[2:])
        for r in con.execute(
            "SELECT balance_date, voucher_id, issued, redeemed, expired, outstanding FROM subsidy_voucher_balances"
        ).fetchall()
    }
    return sorted(rows, key=repr), reasons, balances


def reference(
    lines: list[Line],
    vouchers: list[Voucher],
    policy: Policy = TEST_POLICY,
    affiliated: frozenset = frozenset({("T2", "P2")}),
) -> tuple[list, dict, dict]:
    ref = Reference(policy, vouchers, set(affiliated))
    ref.run(lines)
    return sorted(ref.rows, key=repr), ref.unattributed, ref.balances(lines)


# --- generated cases ---------------------------------------------------------------------------------------------
CATEGORIES = ["AI and Machine Learning", "AI and Machine Learning", "Compute", "Storage", "Networking", None]


@st.composite
def cases(draw: st.DrawFn, span: int = 45) -> tuple[list[Line], list[Voucher]]:
    """Lines over `span` days around a new year, credits linked or not, and vouchers of several tiers."""
    tenants, providers = st.sampled_from(["T1", "T1", "T1", "T2"]), st.sampled_from(["P1", "P1", "P2", None])
    lines: list[Line] = []
    for i in range(draw(st.integers(0, 30))):
        day, hour = draw(st.integers(0, span - 1)), draw(st.sampled_from([0, 9, 9, 22]))
        when, tenant, provider = START + dt.timedelta(days=day, hours=hour), draw(tenants), draw(providers)
        if lines and draw(st.integers(0, 3)) == 0:  # a credit, late in the period so that it has targets
            when += dt.timedelta(days=(span - day) // 2)
            target = draw(st.sampled_from([None, None, "nope", *[x.line_id for x in lines]]))
            cost = -Decimal(draw(st.integers(1, 150_000))) / 100
            lines.append(Line(f"L{i:02d}", tenant, provider, when, cost, "Credit", CATEGORIES[0], target))
            continue
        cost = Decimal(draw(st.sampled_from([0, 1, 333, 2500, 10_000, 123_457, 200_000]))) / 100
        charge = draw(st.sampled_from(["Usage", "Usage", "Usage", "Usage", "Tax", None]))
        lines.append(
            Line(f"L{i:02d}", tenant, provider, when, cost, charge, draw(st.sampled_from(CATEGORIES)))
        )
    vouchers = []
    for i in range(draw(st.integers(0, 7))):
        start = START.date() + dt.timedelta(days=draw(st.integers(-5, span - 1)))
        vouchers.append(
            Voucher(
                f"V{i}",
                draw(tenants),
                draw(st.sampled_from(["compute", "compute", "compute", "pilot", "model"])),
                draw(st.sampled_from(["city", "city", "district", "xuhui"])),
                Decimal(draw(st.sampled_from([0, 50, 300, 777, 5000]))),
                draw(st.sampled_from([None, 0.0, 0.1, 0.3, 0.45, 1.0])),
                start,
                start + dt.timedelta(days=draw(st.integers(0, 40))),
                draw(st.sampled_from([None, None, Decimal(250), Decimal(1000)])),
            )
        )
    return lines, vouchers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_equals_reference_greedy_and_keeps_invariants(case: tuple[list[Line], list[Voucher]]) -> None:
    lines, vouchers = case
    con = engine(lines, vouchers)
    rows, _reasons, balances = result = outputs(con)
    assert result == reference(lines, vouchers)
    by_id = {x.line_id: x for x in lines}
    valid = {v.voucher_id: v for v in vouchers}
    tiers = {tier.rule: (name, tier) for name, _p, tier in TEST_POLICY.tiers()}
    per_line: dict[str, int] = defaultdict(int)
    per_tier: dict[tuple, int] = defaultdict(int)
    for line_id, voucher_id, rule, units, _target in rows:
        if rule == "reversal":
            continue
        line, voucher = by_id[line_id], valid[voucher_id]
        assert voucher.valid_from <= line.day <= voucher.valid_to, "attributed outside validity"
        assert line.charge_category == "Usage" and line.units > 0, "attributed to an unpaid line"
        category = TEST_POLICY.service_categories.get(line.service_category)
        assert category in TEST_POLICY.programmes[tiers[rule][0]].categories, (
            "attributed to an ineligible line"
        )
        assert (line.tenant_id, line.provider_id) != ("T2", "P2"), "attributed to an affiliated provider"
        per_line[line_id] += units
        per_tier[(line_id, rule)] += units
    for line_id, total in per_line.items():
        assert total <= by_id[line_id].units, "line subsidised above its cost"
    for (line_id, rule), total in per_tier.items():
        assert total <= by_id[line_id].units * tiers[rule][1].max_ratio, (
            "line subsidised above the tier's ratio"
        )
    for issued, redeemed, expired, outstanding in balances.values():
        assert issued == redeemed + expired + outstanding
        assert min(redeemed, expired, outstanding) >= 0, "voucher over-drawn"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.randoms(use_true_random=False))
def test_independent_of_row_order(case: tuple[list[Line], list[Voucher]], rng: random.Random) -> None:
    lines, vouchers = case
    shuffled_lines, shuffled_vouchers = rng.sample(lines, len(lines)), rng.sample(vouchers, len(vouchers))
    assert outputs(engine(shuffled_lines, shuffled_vouchers)) == outputs(engine(lines, vouchers))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(span=8))
def test_day_by_day_equals_whole_period(case: tuple[list[Line], list[Voucher]]) -> None:
    lines, vouchers = case
    assume(lines)
    assert outputs(engine(lines, vouchers, daily=True)) == outputs(engine(lines, vouchers))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(span=8), st.integers(0, 8))
def test_first_days_whole_then_the_rest_as_one_range_equals_whole_period(
    case: tuple[list[Line], list[Voucher]], cut: int
) -> None:
    """How a refresh continues from a checkpoint: the days up to a cut in one whole-period run, the rest in one
    range continuing from its state."""
    lines, vouchers = case
    assume(lines)
    days = sorted({x.day for x in lines})
    split = (days[0] + dt.timedelta(days=cut)).isoformat()
    con = duckdb.connect()
    load(con, lines, vouchers)
    local_day = f"CAST(timezone({TEST_POLICY.timezone!r}, charge_period_start) AS DATE)"
    first = f"(SELECT * FROM lines WHERE {local_day} <= DATE '{split}')"
    attribute(con, first, "vouchers", TEST_POLICY, "affiliations", columns=COLUMNS)
    done = con.execute("SELECT max(day) FROM subsidy_state_days").fetchone()[0]
    if done is None or done < days[-1]:
        start = days[0] if done is None else done + dt.timedelta(days=1)
        attribute_day(con, "lines", "vouchers", TEST_POLICY, "affiliations", start, days[-1], columns=COLUMNS)
    assert outputs(con) == outputs(engine(lines, vouchers))


# --- examples ----------------------------------------------------------------------------------------------------
SHANGHAI = load_policy()


def usage(line_id: str, day: int, cost: str, tenant: str = "T001", provider: str = "unicom_sh", **kw) -> Line:
    when = dt.datetime(2025, 1, 1, 10, tzinfo=TZ) + dt.timedelta(days=day)
    return Line(
        line_id,
        tenant,
        provider,
        when,
        Decimal(cost),
        kw.get("charge", "Usage"),
        kw.get("cat", "Compute"),
        kw.get("corrects"),
    )


def voucher(voucher_id: str, funder: str, face: str, ratio: float | None, to_day: int = 400, **kw) -> Voucher:
    start = dt.date(2025, 1, 1)
    return Voucher(
        voucher_id,
        kw.get("tenant", "T001"),
        "compute",
        funder,
        Decimal(face),
        ratio,
        start,
        start + dt.timedelta(days=to_day),
        kw.get("cap"),
    )


def shanghai(lines: list[Line], vouchers: list[Voucher]) -> tuple[duckdb.DuckDBPyConnection, list, dict]:
    con = duckdb.connect()
    load(con, lines, vouchers)
    attribute(con, "lines", "vouchers", SHANGHAI, load_affiliations(con, SHANGHAI), columns=COLUMNS)
    rows, reasons, _ = outputs(con)
    affiliated = frozenset(con.execute("SELECT tenant_id, provider_id FROM subsidy_affiliations").fetchall())
    assert (rows, reasons) == reference(lines, vouchers, SHANGHAI, affiliated)[:2]
    return con, rows, reasons


def test_city_then_district_top_up_to_the_whole_line() -> None:
    _, rows, _ = shanghai(
        [usage("L1", 0, "1000")], [voucher("D", "district", "5000", 0.7), voucher("C", "city", "5000", 0.3)]
    )
    assert rows == [
        ("L1", "C", "city_rent_30pct", 3_000_000, None),
        ("L1", "D", "district_topup", 7_000_000, None),
    ]


def test_district_at_full_ratio_covers_what_the_city_leaves() -> None:
    """City 30% until its voucher runs out, the district (100%) the rest: the tier-by-tier path."""
    lines = [usage("L1", 0, "1000"), usage("L2", 0, "1000"), usage("L3", 1, "1000")]
    _, rows, _ = shanghai(lines, [voucher("C", "city", "400", 0.3), voucher("D", "district", "5000", None)])
    taken = defaultdict(int)
    for line_id, voucher_id, _rule, units, _target in rows:
        taken[(line_id, voucher_id)] += units
    assert taken == {
        ("L1", "C"): 3_000_000,
        ("L1", "D"): 7_000_000,
        ("L2", "C"): 1_000_000,
        ("L2", "D"): 9_000_000,
        ("L3", "D"): 10_000_000,
    }


def test_linked_correction_reverses_its_line_and_returns_balance_next_day() -> None:
    lines = [
        usage("L1", 0, "1000"),
        usage("L2", 1, "1000"),
        usage("C1", 1, "-500", charge="Usage", corrects="L1"),
        usage("L3", 2, "1000"),
    ]
    con, rows, _ = shanghai(lines, [voucher("C", "city", "500", 0.3)])
    assert ("C1", "C", "reversal", -1_500_000, "L1") in rows
    assert (
        "L2",
        "C",
        "city_rent_30pct",
        2_000_000,
        None,
    ) in rows  # same day as the credit: balance not back yet
    assert ("L3", "C", "city_rent_30pct", 1_500_000, None) in rows
    assert con.execute("SELECT sum(amount) FROM subsidy_attribution").fetchone()[0] == Decimal("500")


def test_unlinked_credit_reverses_same_tenant_and_provider_most_recent_first() -> None:
    lines = [
        usage("L1", 0, "1000"),
        usage("L2", 0, "1000", provider="mobile_sh"),
        usage("L3", 1, "400"),
        usage("K1", 2, "-600", charge="Credit"),
    ]
    _, rows, _ = shanghai(lines, [voucher("C", "city", "5000", 0.3)])
    reversals = {r for r in rows if r[2] == "reversal"}
    assert reversals == {("K1", "C", "reversal", -600_000, "L1"), ("K1", "C", "reversal", -1_200_000, "L3")}


def test_affiliated_provider_and_ineligible_lines_get_nothing() -> None:
    lines = [
        usage("L1", 0, "1000", tenant="T011", provider="sensetime"),
        usage("L2", 0, "1000", tenant="T011", provider="unicom_sh"),
        usage("L3", 0, "1000", tenant="T011", cat="Storage"),
        usage("L4", 0, "1000", tenant="T011", charge="Tax"),
    ]
    _, rows, reasons = shanghai(lines, [voucher("C", "city", "5000", 0.3, tenant="T011")])
    assert [r[0] for r in rows] == ["L2"]
    assert reasons == {"L1": "affiliated_provider", "L3": "ineligible_category", "L4": "not_paid"}


def test_annual_cap_stops_the_year_and_resets_next_year() -> None:
    lines = [
        usage("L1", 200, "1000"),
        usage("L2", 201, "1000"),
        usage("L3", 202, "1000"),
        usage("L4", 370, "1000"),
    ]
    _, rows, reasons = shanghai(lines, [voucher("C", "city", "5000", 0.3, to_day=500, cap=Decimal(400))])
    assert [(r[0], r[3]) for r in rows] == [("L1", 3_000_000), ("L2", 1_000_000), ("L4", 3_000_000)]
    assert reasons == {"L3": "cap_reached"}


def test_one_year_from_first_subsidised_use() -> None:
    lines = [
        usage("L0", 0, "1000"),
        usage("L1", 9, "1000"),
        usage("L2", 373, "1000"),
        usage("L3", 374, "1000"),
    ]
    first, last = dt.date(2025, 1, 10), dt.date(2026, 12, 31)
    _, rows, reasons = shanghai(
        lines, [Voucher("C", "T001", "compute", "city", Decimal(5000), 0.3, first, last)]
    )
    assert [r[0] for r in rows] == [
        "L1",
        "L2",
    ]  # first use on 2025-01-10: 2026-01-09 is in, 2026-01-10 is out
    assert reasons == {"L0": "no_valid_voucher", "L3": "outside_first_year"}


def test_exhausted_voucher_and_expired_balance() -> None:
    lines = [usage("L1", 0, "1000"), usage("L2", 1, "1000"), usage("L3", 2, "1000"), usage("L4", 12, "10")]
    vouchers = [
        voucher("C", "city", "500", 0.3, to_day=10),
        voucher("D", "city", "100", 0.3, to_day=10, tenant="T002"),
    ]
    con, rows, reasons = shanghai(lines, vouchers)
    assert [(r[0], r[3]) for r in rows] == [("L1", 3_000_000), ("L2", 2_000_000)]
    assert reasons == {"L3": "voucher_exhausted", "L4": "no_valid_voucher"}
    last = con.execute(
        "SELECT voucher_id, issued, redeemed, expired, outstanding FROM subsidy_voucher_balances "
        "WHERE balance_date = DATE '2025-01-13' ORDER BY voucher_id"
    ).fetchall()
    assert last == [("C", 500, 500, 0, 0), ("D", 100, 0, 100, 0)]


def test_day_runs_must_move_forward() -> None:
    con = duckdb.connect()
    load(con, [usage("L1", 0, "10")], [])
    attribute_day(con, "lines", "vouchers", SHANGHAI, None, dt.date(2025, 1, 1), columns=COLUMNS)
    with pytest.raises(ValueError, match="not after"):
        attribute_day(con, "lines", "vouchers", SHANGHAI, None, dt.date(2025, 1, 1), columns=COLUMNS)


# --- the policy file ---------------------------------------------------------------------------------------------
def test_shanghai_policy_loads() -> None:
    assert [t.rule for _, _, t in SHANGHAI.tiers()] == [
        "city_rent_30pct",
        "district_topup",
        "city_model_50pct",
    ]
    assert SHANGHAI.service_subcategories == {"Generative AI": "model_api"}
    assert SHANGHAI.programmes["compute"].max_duration_months == 12
    assert SHANGHAI.affiliations is not None and SHANGHAI.affiliations.is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(colour="red"), "colour: unknown key"),
        (lambda p: p["programmes"]["compute"]["tiers"][0].update(max_ratio=1.5), "tiers.0.max_ratio"),
        (lambda p: p["programmes"]["compute"].update(categories=["corpus"]), "not in service_categories"),
        (lambda p: p.update(paid_charge_categories=["Usage", "Credit"]), "credits are never paid"),
        (lambda p: p.update(timezone="Mars/Olympus"), "unknown time zone"),
        (lambda p: p.update(affiliations="missing.csv"), "affiliations: no file"),
        (lambda p: p["programmes"]["compute"]["tiers"][1].update(funders=["city"]), "more than one tier"),
    ],
)
def test_policy_errors_name_file_and_key(tmp_path: Path, change, message: str) -> None:
    raw = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(PolicyError, match=message) as err:
        load_policy(path)
    assert str(path) in str(err.value)


def test_model_vouchers_pay_for_tokens_and_compute_vouchers_for_gpu_time() -> None:
    """Model-API lines are AI and Machine Learning like rented GPUs: their subcategory tells the programmes apart."""
    con = duckdb.connect()
    con.execute(LINES_DDL.replace("corrects VARCHAR)", "corrects VARCHAR, service_subcategory VARCHAR)"))
    con.execute(VOUCHERS_DDL)
    when = dt.datetime(2025, 1, 1, 10, tzinfo=TZ)
    con.executemany(
        "INSERT INTO lines VALUES (?, 'T001', 'unicom_sh', ?, ?, 'Usage', 'AI and Machine Learning', NULL, ?)",
        [("GPU", when, Decimal("1000"), "AI Platforms"), ("TOK", when, Decimal("200"), "Generative AI")],
    )
    con.executemany(
        "INSERT INTO vouchers VALUES (?, 'T001', ?, 'city', 10000, NULL, '2025-01-01', '2025-12-31', NULL)",
        [("CV", "compute"), ("MV", "model")],
    )
    columns = Columns(
        line_id="line_id", cost="billed_cost", face_value="face_value", subcategory="service_subcategory"
    )
    attribute(con, "lines", "vouchers", SHANGHAI, None, columns=columns)
    rows = sorted(outputs(con)[0])
    assert rows == [
        ("GPU", "CV", "city_rent_30pct", 3_000_000, None),
        ("TOK", "MV", "city_model_50pct", 1_000_000, None),
    ]
