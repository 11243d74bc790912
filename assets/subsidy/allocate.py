"""Allocation of an epoch: valid vouchers as stream slices, every tier's takes by running sums, state ledgers."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from warehouse.lake import sql_array, sql_str, sql_values

from .money import PPM, money, share
from .policy import Policy

NO_CAP = 2**62
# Why a paid, eligible line got nothing, in order of precedence when its tiers disagree.
REASONS = ("cap_reached", "voucher_exhausted", "zero_demand", "outside_first_year", "no_valid_voucher")


def open_epoch(con: duckdb.DuckDBPyConnection, epoch: int, policy: Policy) -> list[int]:
    """__sub_epoch, __sub_pool (valid vouchers as stream slices) and __sub_params (per tenant and tier).

    Returns the tiers that have a valid voucher for some tenant in this epoch.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_epoch AS
        SELECT tenant_id, min(day) AS day, year(min(day)) AS year FROM __sub_days WHERE epoch = {epoch}
        GROUP BY tenant_id;
        CREATE OR REPLACE TEMP TABLE __sub_pool AS
        WITH redeemed AS (SELECT voucher_id, sum(redeemed) AS redeemed FROM subsidy_state_vouchers GROUP BY ALL),
        used AS (SELECT tenant_id, tier_no, year, sum(used) AS used FROM subsidy_state_caps GROUP BY ALL),
        valid AS (
            SELECT v.tier_no, v.tenant_id, v.voucher_id, v.funder, v.ratio_ppm, v.valid_to,
                   v.face_units - coalesce(r.redeemed, 0) AS balance,
                   CASE WHEN v.cap_units IS NULL THEN {NO_CAP} ELSE v.cap_units - coalesce(u.used, 0) END AS cap_left
            FROM __sub_vouchers v JOIN __sub_epoch e USING (tenant_id)
            LEFT JOIN redeemed r USING (voucher_id)
            LEFT JOIN used u ON u.tenant_id = v.tenant_id AND u.tier_no = v.tier_no AND u.year = e.year
            WHERE e.day BETWEEN v.valid_from AND v.valid_to AND v.tier_no IS NOT NULL
        )
        SELECT * EXCLUDE (valid_to), CAST(sum(balance) OVER (
                   PARTITION BY tier_no, tenant_id ORDER BY valid_to, voucher_id) AS BIGINT) AS b_hi
        FROM valid;
        """
    )
    tiers = sorted(no for (no,) in con.execute("SELECT DISTINCT tier_no FROM __sub_pool").fetchall())
    per_tier = "".join(
        f", min(ratio_ppm) FILTER (WHERE tier_no = {no}) AS ratio{no}, least(CAST(sum(balance) FILTER "
        f"(WHERE tier_no = {no}) AS BIGINT), min(cap_left) FILTER (WHERE tier_no = {no})) AS cap{no}, "
        f"min(cap_left) FILTER (WHERE tier_no = {no}) <= sum(balance) FILTER (WHERE tier_no = {no}) AS bound{no}"
        for no in tiers
    )
    first_use = "".join(
        f", min(first_day) FILTER (WHERE programme = {sql_str(name)}) AS first{i}"
        for i, name in enumerate(policy.programmes)
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_params AS
        WITH pooled AS (SELECT tenant_id{per_tier} FROM __sub_pool GROUP BY tenant_id),
        first_use AS (SELECT tenant_id{first_use} FROM subsidy_state_first_use GROUP BY tenant_id)
        SELECT * FROM __sub_epoch LEFT JOIN pooled USING (tenant_id) LEFT JOIN first_use USING (tenant_id)
        """
    )
    return tiers


def allocate(con: duckdb.DuckDBPyConnection, epoch: int, policy: Policy, tiers: list[int]) -> None:
    """All tiers over the epoch's lines: takes, attribution rows, state, and the lines left without subsidy.

    When no line's demand in a tier can be cut by the takes of earlier tiers (the usual case: city 30% plus a
    district share of at most 70%), all tiers' running sums come from one window; otherwise tier by tier.
    """
    specs = _tier_specs(policy, tiers)
    con.execute(_flat_step(epoch, specs))
    if con.execute("SELECT count(*) FROM __sub_step WHERE dependent").fetchone()[0]:
        con.execute(_chained_step(epoch, specs))
    reasons = sql_array(REASONS)
    con.execute(
        "INSERT INTO subsidy_unattributed SELECT w.line_id, w.tenant_id, w.provider_id, w.charge_time, w.day, "
        f"{money('w.units')}, {reasons}[s.reason + 1] FROM __sub_step s "
        f"JOIN __sub_work w ON w.rowid = s.rid AND w.epoch = {epoch} WHERE s.taken = 0"
    )
    if tiers:
        con.execute(
            "INSERT INTO subsidy_attribution SELECT p.line_id, p.voucher_id, p.tenant_id, p.provider_id, "
            f"t.programme, p.funder, t.rule, {money('p.amount')}, p.charge_time, p.day, {money('p.units')}, NULL "
            f"FROM ({pieces(epoch, tiers)}) p JOIN __sub_tiers t USING (tier_no)"
        )
        _update_state(con, tiers)


@dataclass(frozen=True)
class _TierSql:
    """SQL expressions of one tier over a line row (columns of __sub_params and earlier tiers' take{n})."""

    no: int
    held: str  # the tenant has a valid voucher of the tier and the line's category is eligible
    inside: str  # within the programme's duration from the tenant's first subsidised use
    own: str  # the demand if no earlier tier took anything: floor(ratio x cost)
    line_cap: str  # floor(programme line ratio x cost)
    before: list[int]  # earlier tiers present in the epoch
    same: list[int]  # those of the same programme

    def demand(self) -> str:
        """The demand given the earlier tiers' takes on the line."""
        programme_taken = " + ".join(f"take{b}" for b in self.same) or "0"
        all_taken = " + ".join(f"take{b}" for b in self.before) or "0"
        return f"greatest(0, least({self.own}, {self.line_cap} - ({programme_taken}), units - ({all_taken})))"

    def dependent(self) -> str:
        """Whether earlier tiers could cut the demand (their own demands bound their takes)."""
        same = "".join(f" + demand{b}" for b in self.same)
        every = "".join(f" + demand{b}" for b in self.before)
        return f"(demand{self.no}{same} > {self.line_cap} OR demand{self.no}{every} > units)"

    def outputs(self) -> str:
        """lo, hi, take and the no-take reason code, from demand{no}, run{no} and the tenant's cap and bound."""
        n = self.no
        run, demand, cap = f"run{n}", f"demand{n}", f"cap{n}"
        return (
            f"{run} - {demand} AS lo{n}, least({run}, {cap}) AS hi{n}, "
            f"greatest(0, least({run}, {cap}) - {run} + {demand}) AS take{n}, "
            f"CASE WHEN NOT held{n} OR least({run}, {cap}) > {run} - {demand} THEN 4 WHEN NOT inside{n} THEN 3 "
            f"WHEN {demand} = 0 THEN 2 WHEN bound{n} THEN 0 ELSE 1 END AS code{n}"
        )


def _tier_specs(policy: Policy, tiers: list[int]) -> list[_TierSql]:
    names, order = list(policy.programmes), policy.tiers()
    specs = []
    for position, no in enumerate(tiers):
        name, programme, _tier = order[no]
        months, first = programme.max_duration_months, f"first{names.index(name)}"
        inside = f"({first} IS NULL OR day < {first} + INTERVAL {months} MONTH)" if months else "TRUE"
        held = f"(cap{no} IS NOT NULL AND category IN ({sql_values(programme.categories)}))"
        own = f"CASE WHEN {held} AND {inside} THEN {share('units', f'ratio{no}')} ELSE 0 END"
        line_cap = share("units", str(int(programme.max_line_ratio * PPM)))
        before = tiers[:position]
        same = [b for b in before if order[b][0] == name]
        specs.append(_TierSql(no, held, inside, own, line_cap, before, same))
    return specs


def _base(epoch: int, specs: list[_TierSql]) -> str:
    """The epoch's candidate lines with their tenant's parameters and each tier's held and inside flags."""
    flags = "".join(f", {t.held} AS held{t.no}, {t.inside} AS inside{t.no}" for t in specs)
    return (
        f"SELECT *{flags} FROM (SELECT w.rowid AS rid, w.tenant_id, w.day, w.units, w.charge_time, w.line_id, "
        "w.category, p.* EXCLUDE (tenant_id, day, year) FROM __sub_work w JOIN __sub_params p USING (tenant_id) "
        f"WHERE w.epoch = {epoch} AND w.kind = 'candidate')"
    )


def _final(specs: list[_TierSql], source: str, dependent: str) -> str:
    takes = " + ".join(f"take{t.no}" for t in specs) or "0"
    codes = ", ".join([*(f"code{t.no}" for t in specs), str(len(REASONS) - 1)])
    kept = "".join(f", lo{t.no}, hi{t.no}, take{t.no}" for t in specs)
    return (
        f"SELECT rid, tenant_id, day{kept}, {takes} AS taken, least({codes}) AS reason, "
        f"{dependent} AS dependent FROM {source}"
    )


def _flat_step(epoch: int, specs: list[_TierSql]) -> str:
    """__sub_step with every tier's demand its own demand, all running sums in one window."""
    demands = "".join(f", {t.own} AS demand{t.no}" for t in specs)
    kept = "".join(f", demand{t.no}, held{t.no}, inside{t.no}, cap{t.no}, bound{t.no}" for t in specs)
    runs = "".join(f", sum(demand{t.no}) OVER w AS run{t.no}" for t in specs)
    outputs = "".join(f", {t.outputs()}" for t in specs)
    dependent = " OR ".join(t.dependent() for t in specs) or "FALSE"
    return f"""
        CREATE OR REPLACE TEMP TABLE __sub_step AS
        WITH base AS ({_base(epoch, specs)}),
        demands AS (SELECT *{demands} FROM base),
        narrow AS (
            SELECT rid, tenant_id, day, units, charge_time, line_id{kept}, {dependent} AS dependent FROM demands
        ),
        runs AS (
            SELECT * EXCLUDE (charge_time, line_id){runs} FROM narrow
            WINDOW w AS (PARTITION BY tenant_id ORDER BY charge_time, line_id)
        ),
        taken AS (SELECT *{outputs} FROM runs)
        {_final(specs, "taken", "dependent")}
        """


def _chained_step(epoch: int, specs: list[_TierSql]) -> str:
    """__sub_step tier by tier: each tier's demand after the earlier tiers' takes, one window per tier."""
    ctes, previous = [], "ordered"
    for t in specs:
        ctes.append(
            f"d{t.no} AS (SELECT *, {t.demand()} AS demand{t.no} FROM {previous}), "
            f"r{t.no} AS (SELECT *, sum(demand{t.no}) OVER (PARTITION BY tenant_id ORDER BY seq) AS run{t.no} "
            f"FROM d{t.no}), s{t.no} AS (SELECT *, {t.outputs()} FROM r{t.no})"
        )
        previous = f"s{t.no}"
    return f"""
        CREATE OR REPLACE TEMP TABLE __sub_step AS
        WITH ordered AS (
            SELECT *, row_number() OVER (PARTITION BY tenant_id ORDER BY charge_time, line_id) AS seq
            FROM ({_base(epoch, specs)})
        ){"".join(f", {cte}" for cte in ctes)}
        {_final(specs, previous, "FALSE")}
        """


def pieces(epoch: int, tiers: list[int], rids: str | None = None, suffix: str = "") -> str:
    """Attribution pieces of an epoch: each line's slice [lo, hi) cut by its vouchers' [b_hi - balance, b_hi).

    `rids`, an SQL relation of __sub_work row ids, restricts them to those lines; `suffix` picks the previous
    epoch's tables.
    """
    cuts = " UNION ALL ".join(
        f"SELECT s.rid, p.voucher_id, p.funder, {no} AS tier_no, "
        f"least(s.hi{no}, p.b_hi) - greatest(s.lo{no}, p.b_hi - p.balance) AS amount "
        f"FROM __sub_step{suffix} s JOIN __sub_pool{suffix} p ON p.tenant_id = s.tenant_id AND p.tier_no = {no} "
        f"AND p.balance > 0 AND p.b_hi - p.balance < s.hi{no} AND p.b_hi > s.lo{no} WHERE s.take{no} > 0"
        + (f" AND s.rid IN {rids}" if rids else "")
        for no in tiers
    )
    return (
        "SELECT w.line_id, w.tenant_id, w.provider_id, w.charge_time, w.day, w.units, c.voucher_id, c.funder, "
        f"c.tier_no, c.amount FROM ({cuts}) c JOIN __sub_work w ON w.rowid = c.rid AND w.epoch = {epoch}"
    )


def _update_state(con: duckdb.DuckDBPyConnection, tiers: list[int]) -> None:
    """Per voucher and day redemptions (days are contiguous in the stream), cap use and first use of the epoch."""
    daily = " UNION ALL ".join(
        f"SELECT tenant_id, day, {no} AS tier_no, min(lo{no}) AS lo, max(hi{no}) AS hi FROM __sub_step "
        f"WHERE take{no} > 0 GROUP BY ALL"
        for no in tiers
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_daily AS {daily};
        CREATE OR REPLACE TEMP TABLE __sub_redeemed AS
        SELECT p.voucher_id, d.day,
               CAST(sum(least(d.hi, p.b_hi) - greatest(d.lo, p.b_hi - p.balance)) AS BIGINT) AS units
        FROM __sub_daily d JOIN __sub_pool p ON p.tenant_id = d.tenant_id AND p.tier_no = d.tier_no AND p.balance > 0
            AND p.b_hi - p.balance < d.hi AND p.b_hi > d.lo
        GROUP BY ALL;
        INSERT INTO __sub_net SELECT * FROM __sub_redeemed;
        INSERT INTO subsidy_state_vouchers SELECT voucher_id, sum(units) FROM __sub_redeemed GROUP BY ALL;
        INSERT INTO subsidy_state_caps
        SELECT d.tenant_id, d.tier_no, e.year, sum(d.hi - d.lo) FROM __sub_daily d JOIN __sub_epoch e USING (tenant_id)
        GROUP BY ALL;
        INSERT INTO subsidy_state_first_use
        SELECT d.tenant_id, t.programme, min(d.day) FROM __sub_daily d JOIN __sub_tiers t USING (tier_no) GROUP BY ALL;
        """
    )
