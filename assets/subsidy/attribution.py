"""Set-based attribution of subsidy vouchers to charge lines, for a whole period or day by day.

The rule, as a line-by-line greedy (tests/test_attribution.py holds it in plain Python): lines go in (charge
time, line id) order; a paid, eligible line takes, programme by programme and tier by tier (city before
district), from its tenant's vouchers of the tier valid on its day, earliest-expiring first, at most
min(ratio x cost, programme line ratio x cost - programme's takes, cost - all takes, voucher balance, tier
annual cap left); the ratio is the lowest coverage ratio of the tier's vouchers valid that day, never above the
policy's. After a day's lines, its credits and corrections (billed cost < 0) credit the corrected line, or else
the tenant's latest subsidised lines from the same provider, and reverse their attributions in proportion
(rounded up); the returned balance and annual cap are usable from the next day.

The SQL computes the same result without a per-line loop. Per tenant, days split into epochs at every validity
start and end of its vouchers, every 1 January and the day after every credit; inside an epoch the valid
vouchers, the cap year and the balances (but for the epoch's own takes) do not change. Within an epoch and a
tier the greedy is a stream: line i owns [D(i-1), D(i)) of the running sum of demands, voucher v owns
[B(v-1), B(v)) of the running sum of balances (earliest-expiring first), both cut at the cap left, and the take
of line i from voucher v is the length of the intersection. When earlier tiers cannot cut a later tier's
demand (city 30% + district <= 70%), one window gives every tier's running sums; otherwise tiers chain. The
Python loop runs over epochs (all tenants' k-th epochs together), then over the epoch's credits one per tenant
at a time; small ledgers carry redemptions, cap use, first use and credited cost between epochs and days. A run
is one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from warehouse.lake import sql_ident, sql_str

from .policy import ANY_FUNDER, Policy

UNIT = 10_000  # money is handled as integer units of 0.0001
PPM = 1_000_000  # ratios are handled as integer parts per million
NO_CAP = 2**62
MAX_UNITS = 2**63 // PPM  # lines must cost less (922 million): units x ratio stays a BIGINT
# Why a paid, eligible line got nothing, in order of precedence when its tiers disagree.
REASONS = ("cap_reached", "voucher_exhausted", "zero_demand", "outside_first_year", "no_valid_voucher")
OUTPUTS = ("subsidy_attribution", "subsidy_unattributed", "subsidy_voucher_balances")
STATE = (
    "subsidy_state_vouchers",
    "subsidy_state_caps",
    "subsidy_state_first_use",
    "subsidy_state_credited",
    "subsidy_state_days",
)


@dataclass(frozen=True)
class Columns:
    """Input columns that may differ between callers; the others have their core.compute_usage/vouchers names."""

    line_id: str = "charge_line_id"
    cost: str = "billed_cost_cny"
    face_value: str = "face_value_cny"
    corrects: str | None = None  # the line id a credit or correction corrects, when the feed links them
    subcategory: str | None = None  # FOCUS ServiceSubcategory, when the lines carry it


def attribute(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    vouchers: str,
    policy: Policy,
    affiliations: str | None = None,
    *,
    columns: Columns = Columns(),
) -> None:
    """Attribute a whole period: drop earlier outputs and state, then create them from `lines`.

    `lines`, `vouchers` and `affiliations` name relations (tables, views or parenthesised queries). Creates
    subsidy_attribution, subsidy_unattributed, subsidy_voucher_balances and the subsidy_state_* tables.
    """
    _run(con, lines, vouchers, policy, affiliations, columns, None)


def attribute_day(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    vouchers: str,
    policy: Policy,
    affiliations: str | None,
    day: dt.date,
    last: dt.date | None = None,
    *,
    columns: Columns = Columns(),
) -> None:
    """Attribute the lines of one local charge day (or of the days `day` to `last`), continuing from the state
    left by earlier days.

    Days must come in increasing order; running every day of a period, one by one or in consecutive ranges
    after a whole-period run of its first days, gives the whole-period result.
    """
    if _table_exists(con, "subsidy_state_days"):
        done = con.execute("SELECT max(day) FROM subsidy_state_days").fetchone()[0]
        if done is not None and day <= done:
            raise ValueError(f"day {day} is not after the last attributed day {done}")
    _run(con, lines, vouchers, policy, affiliations, columns, (day, last or day))


def load_affiliations(
    con: duckdb.DuckDBPyConnection, policy: Policy, table: str = "subsidy_affiliations"
) -> str:
    """Load the policy's affiliations CSV into `table` and return its name."""
    if policy.affiliations is None:
        raise ValueError(f"policy {policy.name!r} names no affiliations file")
    con.execute(
        f"CREATE OR REPLACE TABLE {sql_ident(table)} AS SELECT * FROM read_csv("
        f"{sql_str(str(policy.affiliations))}, header = true, "
        "columns = {'tenant_id': 'VARCHAR', 'provider_id': 'VARCHAR', 'relation': 'VARCHAR'})"
    )
    return table


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    query = (
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND database_name = current_database()"
    )
    return con.execute(query, [table]).fetchone()[0] > 0


def _run(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    vouchers: str,
    policy: Policy,
    affiliations: str | None,
    columns: Columns,
    days: tuple[dt.date, dt.date] | None,
) -> None:
    """In one transaction: (for a whole period) drop earlier results, prepare the inputs, run the epochs in order,
    write balances and fold the state."""
    con.execute("BEGIN TRANSACTION")
    try:
        for table in OUTPUTS + STATE if days is None else ():
            con.execute(f"DROP TABLE IF EXISTS {table}")
        _policy_tables(con, policy)
        _prepare_vouchers(con, vouchers, policy, columns)
        epochs = _prepare_lines(con, lines, policy, affiliations, columns, days)
        _create_outputs(con)
        start, end = days or con.execute("SELECT min(day), max(day) FROM __sub_work").fetchone()
        previous: list[int] = []
        for epoch in range(1, epochs + 1):
            tiers = _open_epoch(con, epoch, policy)
            _allocate(con, epoch, policy, tiers)
            _settle_credits(con, epoch, tiers, previous)
            for table in ("__sub_step", "__sub_pool", "__sub_epoch"):
                con.execute(
                    f"DROP TABLE IF EXISTS {table}_previous; ALTER TABLE {table} RENAME TO {table}_previous"
                )
            previous = tiers
        if start is not None:
            _write_balances(con, start, end)
            con.execute("INSERT INTO subsidy_state_days VALUES (?)", [end])
        _compact_state(con)
        scratch = (
            "SELECT DISTINCT table_name FROM duckdb_columns() WHERE database_name = 'temp' "
            "AND starts_with(table_name, '__sub_')"
        )
        for (table,) in con.execute(scratch).fetchall():
            con.execute(f"DROP TABLE {table}")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _money(units: str) -> str:
    return f"CAST({units} / {UNIT} AS DECIMAL(18,4))"


def _category_sql(policy: Policy, columns: Columns) -> str:
    """SQL of a line's eligibility category: by its FOCUS ServiceSubcategory where the policy names it (model
    APIs inside "AI and Machine Learning"), else by its ServiceCategory; NULL when the policy knows neither."""
    by_category = " ".join(
        f"WHEN {sql_str(service)} THEN {sql_str(cat)}" for service, cat in policy.service_categories.items()
    )
    value = f"CASE service_category {by_category} END"
    if columns.subcategory and policy.service_subcategories:
        by_sub = " ".join(
            f"WHEN {sql_str(sub)} THEN {sql_str(cat)}" for sub, cat in policy.service_subcategories.items()
        )
        value = f"coalesce(CASE {sql_ident(columns.subcategory)} {by_sub} END, {value})"
    return value


def _units(money: str) -> str:
    return f"CAST(round(CAST({money} AS DOUBLE) * {UNIT}) AS BIGINT)"


def _share(units: str, ppm: str) -> str:
    """floor(units x ppm / 1e6); lines are checked to be below MAX_UNITS so that the product fits a BIGINT."""
    return f"({units} * {ppm} // {PPM})"


def _values(rows: list[tuple], names: str) -> str:
    """A VALUES relation of Python literals (str, int, bool, None)."""

    def literal(value: object) -> str:
        if value is None:
            return "NULL"
        return sql_str(value) if isinstance(value, str) else str(value)

    body = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return f"(VALUES {body}) t({names})"


def _policy_tables(con: duckdb.DuckDBPyConnection, policy: Policy) -> None:
    """__sub_tiers (one row per tier, in order), __sub_categories and __sub_tier_categories."""
    tiers = [
        (
            no,
            name,
            tier.rule,
            int(tier.max_ratio * PPM),
            None if tier.annual_cap is None else int(tier.annual_cap * UNIT),
        )
        for no, (name, _programme, tier) in enumerate(policy.tiers())
    ]
    eligible = {cat for programme in policy.programmes.values() for cat in programme.categories}
    known = {*policy.service_categories.values(), *policy.service_subcategories.values()}
    categories = [(cat, cat in eligible) for cat in sorted(known)]
    pairs = [
        (no, cat) for no, (_, programme, _t) in enumerate(policy.tiers()) for cat in programme.categories
    ]
    for table, rows, names in (
        ("__sub_tiers", tiers, "tier_no, programme, rule, max_ppm, cap_units"),
        ("__sub_categories", categories, "category, eligible"),
        ("__sub_tier_categories", pairs, "tier_no, category"),
    ):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {_values(rows, names)}")


def _tier_case(policy: Policy) -> str:
    """CASE expression of a voucher's tier from its programme and funder (a named funder before '*')."""
    named, anyone = [], []
    for no, (name, _programme, tier) in enumerate(policy.tiers()):
        funders = ", ".join(sql_str(f) for f in tier.funders if f != ANY_FUNDER)
        if funders:
            named.append(f"WHEN programme = {sql_str(name)} AND funder IN ({funders}) THEN {no}")
        if ANY_FUNDER in tier.funders:
            anyone.append(f"WHEN programme = {sql_str(name)} THEN {no}")
    return "CASE " + " ".join(named + anyone) + " END"


def _prepare_vouchers(
    con: duckdb.DuckDBPyConnection, vouchers: str, policy: Policy, columns: Columns
) -> None:
    """__sub_vouchers: every voucher with its tier, units, effective ratio and its tenant's annual cap."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_vouchers AS
        WITH v AS (
            SELECT CAST(voucher_id AS VARCHAR) AS voucher_id, CAST(tenant_id AS VARCHAR) AS tenant_id,
                   CAST(programme AS VARCHAR) AS programme, CAST(funder AS VARCHAR) AS funder,
                   valid_from, valid_to, coalesce({_units(sql_ident(columns.face_value))}, 0) AS face_units,
                   CAST(round(coverage_ratio * {PPM}) AS BIGINT) AS ratio_ppm,
                   {_units("annual_cap")} AS cap_units
            FROM {vouchers}
        ),
        tiered AS (SELECT *, {_tier_case(policy)} AS tier_no FROM v)
        SELECT v.* REPLACE (
                   least(coalesce(v.ratio_ppm, t.max_ppm), t.max_ppm) AS ratio_ppm,
                   least(t.cap_units, min(v.cap_units) OVER (PARTITION BY v.tenant_id, v.tier_no)) AS cap_units),
               t.rule
        FROM tiered v LEFT JOIN __sub_tiers t USING (tier_no)
        """
    )


def _prepare_lines(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    policy: Policy,
    affiliations: str | None,
    columns: Columns,
    days: tuple[dt.date, dt.date] | None,
) -> int:
    """__sub_days (each tenant's days numbered by epoch) and __sub_work (the lines, grouped by epoch).

    Lines are in units, with their category and kind: 'candidate' (paid, eligible, the tenant holds a voucher for
    it), 'reversal' (billed cost < 0) or the reason the line can never be subsidised. Returns the epoch count.
    """
    local_day = (
        f"CAST(timezone({sql_str(policy.timezone)}, CAST(charge_period_start AS TIMESTAMPTZ)) AS DATE)"
    )
    # Lines without a cost (a workload trace loaded as unpriced) are no charge: nothing to subsidise or explain.
    where = f"WHERE {sql_ident(columns.cost)} IS NOT NULL"
    if days is not None:
        where += f" AND {local_day} BETWEEN DATE {sql_str(days[0].isoformat())} AND DATE {sql_str(days[1].isoformat())}"
    corrects = sql_ident(columns.corrects) if columns.corrects else "CAST(NULL AS VARCHAR)"
    source = (
        f"SELECT {sql_ident(columns.line_id)} AS line_id, CAST(tenant_id AS VARCHAR) AS tenant_id, "
        "CAST(provider_id AS VARCHAR) AS provider_id, charge_period_start AS charge_time, "
        f"{local_day} AS day, {_units(sql_ident(columns.cost))} AS units, charge_category, "
        f"{_category_sql(policy, columns)} AS category, "
        f"{corrects} AS corrects FROM {lines} {where}"
    )
    paid = ", ".join(map(sql_str, policy.paid_charge_categories))
    affiliated = "SELECT NULL AS tenant_id, NULL AS provider_id WHERE FALSE"
    if policy.exclude_affiliated_providers and affiliations is not None:
        affiliated = (
            "SELECT DISTINCT CAST(tenant_id AS VARCHAR) AS tenant_id, CAST(provider_id AS VARCHAR) AS provider_id "
            f"FROM {affiliations}"
        )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_days AS
        WITH days AS (SELECT tenant_id, day, bool_or(units < 0) AS credit FROM ({source}) GROUP BY ALL),
        bounds AS (
            SELECT tenant_id, valid_from AS start FROM __sub_vouchers WHERE tier_no IS NOT NULL
            UNION SELECT tenant_id, valid_to + 1 FROM __sub_vouchers WHERE tier_no IS NOT NULL
            UNION SELECT tenant_id, make_date(year(day), 1, 1) FROM days
            UNION SELECT tenant_id, day + 1 FROM days WHERE credit
        ),
        dated AS (
            SELECT d.tenant_id, d.day, b.start
            FROM days d ASOF JOIN bounds b ON d.tenant_id = b.tenant_id AND d.day >= b.start
        )
        SELECT tenant_id, day, dense_rank() OVER (PARTITION BY tenant_id ORDER BY start) AS epoch FROM dated;
        CREATE OR REPLACE TEMP TABLE __sub_work AS
        WITH held AS (
            SELECT DISTINCT v.tenant_id, c.category FROM __sub_vouchers v JOIN __sub_tier_categories c USING (tier_no)
        )
        SELECT l.* EXCLUDE (charge_category), e.epoch,
               CASE WHEN l.units < 0 AND t.tenant_id IS NULL THEN 'nothing_to_reverse'
                    WHEN l.units < 0 THEN 'reversal'
                    WHEN coalesce(l.units, 0) = 0 OR coalesce(l.charge_category NOT IN ({paid}), TRUE) THEN 'not_paid'
                    WHEN NOT coalesce(m.eligible, FALSE) THEN 'ineligible_category'
                    WHEN a.tenant_id IS NOT NULL THEN 'affiliated_provider'
                    WHEN h.tenant_id IS NULL THEN 'no_valid_voucher'
                    ELSE 'candidate' END AS kind
        FROM ({source}) l LEFT JOIN __sub_categories m ON m.category = l.category
        LEFT JOIN ({affiliated}) a ON a.tenant_id = l.tenant_id AND a.provider_id = l.provider_id
        LEFT JOIN held h ON h.tenant_id = l.tenant_id AND h.category = l.category
        LEFT JOIN (SELECT DISTINCT tenant_id FROM held) t ON t.tenant_id = l.tenant_id
        LEFT JOIN __sub_days e ON e.tenant_id = l.tenant_id AND e.day = l.day
        ORDER BY e.epoch
        """
    )
    epochs, largest = con.execute(
        "SELECT (SELECT coalesce(max(epoch), 0) FROM __sub_days), (SELECT max(abs(units)) FROM __sub_work)"
    ).fetchone()
    if largest is not None and largest >= MAX_UNITS:
        raise ValueError(
            f"a charge line of {largest / UNIT} is too large to attribute (limit {MAX_UNITS / UNIT})"
        )
    return epochs


def _create_outputs(con: duckdb.DuckDBPyConnection) -> None:
    """Output tables and state ledgers where absent (line ids keep the input's type); lines never subsidised."""
    money = "CAST(NULL AS DECIMAL(18,4))"
    con.execute(
        f"""
        CREATE TABLE IF NOT EXISTS subsidy_attribution AS
        SELECT i.line_id, v.voucher_id, i.tenant_id, i.provider_id, v.programme, v.funder, v.rule,
               {money} AS amount, i.charge_time, i.day AS charge_date, {money} AS line_cost,
               i.line_id AS reverses_line_id
        FROM __sub_work i, __sub_vouchers v WHERE FALSE;
        CREATE TABLE IF NOT EXISTS subsidy_unattributed AS
        SELECT line_id, tenant_id, provider_id, charge_time, day AS charge_date, {money} AS cost, kind AS reason
        FROM __sub_work WHERE FALSE;
        CREATE TABLE IF NOT EXISTS subsidy_voucher_balances AS
        SELECT CAST(NULL AS DATE) AS balance_date, voucher_id, tenant_id, programme, funder, {money} AS issued,
               {money} AS redeemed, {money} AS expired, {money} AS outstanding
        FROM __sub_vouchers WHERE FALSE;
        CREATE TABLE IF NOT EXISTS subsidy_state_vouchers (voucher_id VARCHAR, redeemed BIGINT);
        CREATE TABLE IF NOT EXISTS subsidy_state_caps (tenant_id VARCHAR, tier_no INTEGER, year INTEGER, used BIGINT);
        CREATE TABLE IF NOT EXISTS subsidy_state_first_use (tenant_id VARCHAR, programme VARCHAR, first_day DATE);
        CREATE TABLE IF NOT EXISTS subsidy_state_credited AS SELECT line_id, units AS added FROM __sub_work WHERE FALSE;
        CREATE TABLE IF NOT EXISTS subsidy_state_days (day DATE);
        CREATE OR REPLACE TEMP TABLE __sub_net (voucher_id VARCHAR, day DATE, units BIGINT);
        INSERT INTO subsidy_unattributed
        SELECT line_id, tenant_id, provider_id, charge_time, day, {_money("units")}, kind FROM __sub_work
        WHERE kind NOT IN ('candidate', 'reversal');
        """
    )


def _compact_state(con: duckdb.DuckDBPyConnection) -> None:
    """Fold the state ledgers (appended to during the run) into one row per key."""
    for table, keys, value in (
        ("subsidy_state_vouchers", "voucher_id", "sum(redeemed) AS redeemed"),
        ("subsidy_state_caps", "tenant_id, tier_no, year", "sum(used) AS used"),
        ("subsidy_state_first_use", "tenant_id, programme", "min(first_day) AS first_day"),
        ("subsidy_state_credited", "line_id", "sum(added) AS added"),
    ):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {keys}, {value} FROM {table} GROUP BY {keys}")


def _open_epoch(con: duckdb.DuckDBPyConnection, epoch: int, policy: Policy) -> list[int]:
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


def _allocate(con: duckdb.DuckDBPyConnection, epoch: int, policy: Policy, tiers: list[int]) -> None:
    """All tiers over the epoch's lines: takes, attribution rows, state, and the lines left without subsidy.

    When no line's demand in a tier can be cut by the takes of earlier tiers (the usual case: city 30% plus a
    district share of at most 70%), all tiers' running sums come from one window; otherwise tier by tier.
    """
    specs = _tier_specs(policy, tiers)
    con.execute(_flat_step(epoch, specs))
    if con.execute("SELECT count(*) FROM __sub_step WHERE dependent").fetchone()[0]:
        con.execute(_chained_step(epoch, specs))
    reasons = "[" + ", ".join(map(sql_str, REASONS)) + "]"
    con.execute(
        "INSERT INTO subsidy_unattributed SELECT w.line_id, w.tenant_id, w.provider_id, w.charge_time, w.day, "
        f"{_money('w.units')}, {reasons}[s.reason + 1] FROM __sub_step s "
        f"JOIN __sub_work w ON w.rowid = s.rid AND w.epoch = {epoch} WHERE s.taken = 0"
    )
    if tiers:
        con.execute(
            "INSERT INTO subsidy_attribution SELECT p.line_id, p.voucher_id, p.tenant_id, p.provider_id, "
            f"t.programme, p.funder, t.rule, {_money('p.amount')}, p.charge_time, p.day, {_money('p.units')}, NULL "
            f"FROM ({_pieces(epoch, tiers)}) p JOIN __sub_tiers t USING (tier_no)"
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
        held = f"(cap{no} IS NOT NULL AND category IN ({', '.join(map(sql_str, programme.categories))}))"
        own = f"CASE WHEN {held} AND {inside} THEN {_share('units', f'ratio{no}')} ELSE 0 END"
        line_cap = _share("units", str(int(programme.max_line_ratio * PPM)))
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


def _pieces(epoch: int, tiers: list[int], rids: str | None = None, suffix: str = "") -> str:
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


def _settle_credits(
    con: duckdb.DuckDBPyConnection, epoch: int, tiers: list[int], previous: list[int]
) -> None:
    """Reverse attributions for the epoch's credits (all on its last day), one credit per tenant at a time.

    A credit looks for subsidised lines latest first: this epoch's, the previous epoch's, then any older ones;
    each later search runs only for what is still due.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_credits AS
        SELECT line_id, tenant_id, provider_id, charge_time, day, -units AS amount, corrects,
               row_number() OVER (PARTITION BY tenant_id ORDER BY charge_time, line_id) AS rank
        FROM __sub_work WHERE epoch = {epoch} AND kind = 'reversal';
        CREATE OR REPLACE TEMP TABLE __sub_settled AS SELECT line_id FROM __sub_credits WHERE FALSE;
        """
    )
    searches = [
        *([lambda t: _epoch_search(epoch, tiers, t)] if tiers else []),
        *([lambda t: _epoch_search(epoch - 1, previous, t, "_previous")] if previous else []),
        lambda t: _older_search(t, "__sub_epoch_previous" if epoch > 1 else "__sub_epoch"),
    ]
    ranks = con.execute("SELECT coalesce(max(rank), 0) FROM __sub_credits").fetchone()[0]
    for rank in range(1, ranks + 1):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __sub_due AS SELECT line_id, tenant_id, provider_id, charge_time, day, "
            f"amount AS due, corrects FROM __sub_credits WHERE rank = {rank}"
        )
        for search in searches:
            tenants = _due_tenants(con)
            if tenants:
                _reverse(con, *search(tenants))
                con.execute("DELETE FROM __sub_due WHERE due <= 0")
    con.execute(
        f"""
        INSERT INTO subsidy_unattributed
        SELECT line_id, tenant_id, provider_id, charge_time, day, {_money("-amount")}, 'nothing_to_reverse'
        FROM __sub_credits ANTI JOIN __sub_settled USING (line_id)
        """
    )


def _due_tenants(con: duckdb.DuckDBPyConnection) -> str | None:
    """The tenants of __sub_due ever subsidised (the state ledgers include this epoch), as an SQL list literal
    (a filter table scans can use), or None if none: the others have no subsidised line to reverse."""
    query = (
        "SELECT DISTINCT tenant_id FROM __sub_due SEMI JOIN subsidy_state_first_use USING (tenant_id) "
        "ORDER BY tenant_id"
    )
    tenants = con.execute(query).fetchall()
    return "(" + ", ".join(sql_str(t) for (t,) in tenants) + ")" if tenants else None


def _epoch_search(epoch: int, tiers: list[int], tenants: str, suffix: str = "") -> tuple[str, str]:
    """The subsidised lines of `tenants` in an epoch (its step and pool tables end in `suffix`), and their
    attribution pieces restricted to the lines __sub_hits reaches."""
    lines = (
        "SELECT s.rid, w.line_id, w.tenant_id, w.provider_id, w.charge_time, w.units "
        f"FROM __sub_step{suffix} s JOIN __sub_work w ON w.rowid = s.rid AND w.epoch = {epoch} "
        f"WHERE s.taken > 0 AND s.tenant_id IN {tenants}"
    )
    hit = "(SELECT l.rid FROM __sub_lines l SEMI JOIN __sub_hits h ON h.target = l.line_id)"
    pieces = (
        "SELECT line_id, tenant_id, provider_id, charge_time, units, voucher_id, amount, day "
        f"FROM ({_pieces(epoch, tiers, hit, suffix)})"
    )
    return lines, pieces


def _older_search(tenants: str, epochs: str) -> tuple[str, str]:
    """Attribution rows of `tenants` charged before their epoch in `epochs` (the lines a credit reaches last),
    and those of the lines __sub_hits reaches."""
    lines = (
        f"SELECT a.line_id, a.tenant_id, a.provider_id, a.charge_time, {_units('a.line_cost')} AS units, "
        f"a.voucher_id, {_units('a.amount')} AS amount, a.charge_date AS day "
        f"FROM subsidy_attribution a JOIN {epochs} e ON a.tenant_id = e.tenant_id AND a.charge_date < e.day "
        f"WHERE a.reverses_line_id IS NULL AND a.tenant_id IN {tenants}"
    )
    return lines, "SELECT * FROM __sub_lines SEMI JOIN __sub_hits h ON h.target = __sub_lines.line_id"


def _reverse(con: duckdb.DuckDBPyConnection, subsidised: str, pieces: str) -> None:
    """Credit lines of `subsidised` for what __sub_due still owes; reverse their `pieces` in proportion.

    `subsidised` selects subsidised lines (line_id, tenant_id, provider_id, charge_time, units, more columns
    allowed) into __sub_lines; `pieces`, the attribution rows of the lines credited (__sub_hits), into __sub_rows.
    A linked credit adds its whole amount to its line; an unlinked one spreads over the tenant's lines from the
    same provider, latest first, up to each line's cost not yet credited.
    """
    before = "(l.charge_time < c.charge_time OR (l.charge_time = c.charge_time AND l.line_id < c.line_id))"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __sub_lines AS {subsidised};
        CREATE OR REPLACE TEMP TABLE __sub_hits AS
        WITH c AS (SELECT * FROM __sub_due),
        lines AS (SELECT DISTINCT line_id, tenant_id, provider_id, charge_time, units FROM __sub_lines),
        credited AS (SELECT line_id, sum(added) AS credited FROM subsidy_state_credited GROUP BY line_id),
        linked AS (
            SELECT c.line_id AS credit_id, l.line_id AS target, c.due AS added
            FROM c JOIN lines l ON l.line_id = c.corrects AND l.tenant_id = c.tenant_id WHERE {before}
        ),
        open AS (
            SELECT c.line_id AS credit_id, c.due, l.line_id AS target, l.charge_time,
                   l.units - coalesce(k.credited, 0) AS rest
            FROM c JOIN lines l ON l.tenant_id = c.tenant_id AND l.provider_id IS NOT DISTINCT FROM c.provider_id
            LEFT JOIN credited k ON k.line_id = l.line_id
            WHERE c.corrects IS NULL AND {before} AND l.units > coalesce(k.credited, 0)
        ),
        ranked AS (
            SELECT *, sum(rest) OVER (PARTITION BY credit_id ORDER BY charge_time DESC, target DESC) AS upto
            FROM open
        )
        SELECT * FROM linked
        UNION ALL
        SELECT credit_id, target, CAST(least(due, upto) - (upto - rest) AS BIGINT) FROM ranked WHERE upto - rest < due;
        CREATE OR REPLACE TEMP TABLE __sub_rows AS {pieces};
        CREATE OR REPLACE TEMP TABLE __sub_reversal AS
        WITH a AS (
            SELECT h.credit_id, h.target, r.voucher_id, r.day, r.units, h.added, CAST(r.amount AS HUGEINT) AS alloc,
                   coalesce(k.credited, 0) AS credited
            FROM __sub_hits h JOIN __sub_rows r ON r.line_id = h.target
            LEFT JOIN (SELECT line_id, sum(added) AS credited FROM subsidy_state_credited GROUP BY line_id) k
                ON k.line_id = h.target
        )
        SELECT credit_id, target, voucher_id, day AS target_day,
               CAST((alloc * least(credited + added, units) + units - 1) // units
                    - (alloc * least(credited, units) + units - 1) // units AS BIGINT) AS units
        FROM a;
        INSERT INTO subsidy_attribution
        SELECT r.credit_id, r.voucher_id, c.tenant_id, c.provider_id, v.programme, v.funder, 'reversal',
               {_money("-r.units")}, c.charge_time, c.day, {_money("-c.amount")}, r.target
        FROM __sub_reversal r JOIN __sub_credits c ON c.line_id = r.credit_id JOIN __sub_vouchers v USING (voucher_id)
        WHERE r.units > 0;
        INSERT INTO __sub_net
        SELECT r.voucher_id, c.day, -sum(r.units) FROM __sub_reversal r JOIN __sub_credits c ON c.line_id = r.credit_id
        GROUP BY ALL;
        INSERT INTO subsidy_state_credited SELECT target, added FROM __sub_hits;
        INSERT INTO subsidy_state_vouchers SELECT voucher_id, -sum(units) FROM __sub_reversal GROUP BY voucher_id;
        INSERT INTO subsidy_state_caps
        SELECT v.tenant_id, v.tier_no, year(r.target_day), -sum(r.units)
        FROM __sub_reversal r JOIN __sub_vouchers v USING (voucher_id) GROUP BY ALL;
        INSERT INTO __sub_settled SELECT DISTINCT credit_id FROM __sub_reversal WHERE units > 0;
        UPDATE __sub_due d SET due = d.due - h.added
        FROM (SELECT credit_id, sum(added) AS added FROM __sub_hits GROUP BY ALL) h WHERE d.line_id = h.credit_id;
        """
    )


def _write_balances(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """Daily issued, redeemed (net of reversals), expired and outstanding per voucher over [start, end]."""
    first, last = (f"DATE {sql_str(d.isoformat())}" for d in (start, end))
    con.execute(
        f"""
        INSERT INTO subsidy_voucher_balances
        WITH days AS (
            SELECT CAST(generate_series AS DATE) AS d FROM generate_series({first}, {last}, INTERVAL 1 DAY)
        ),
        net AS (SELECT voucher_id, day AS d, sum(units) AS units FROM __sub_net GROUP BY ALL),
        final AS (SELECT voucher_id, sum(redeemed) AS redeemed FROM subsidy_state_vouchers GROUP BY ALL),
        grid AS (
            SELECT v.voucher_id, days.d, coalesce(n.units, 0) AS net
            FROM __sub_vouchers v JOIN days ON days.d >= v.valid_from
            LEFT JOIN net n ON n.voucher_id = v.voucher_id AND n.d = days.d
        ),
        later AS (
            SELECT voucher_id, d, coalesce(sum(net) OVER (
                       PARTITION BY voucher_id ORDER BY d DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                   ), 0) AS later
            FROM grid
        ),
        cumulative AS (
            SELECT l.d, v.*, coalesce(f.redeemed, 0) - l.later AS redeemed
            FROM later l JOIN __sub_vouchers v USING (voucher_id) LEFT JOIN final f USING (voucher_id)
        )
        SELECT d, voucher_id, tenant_id, programme, funder, {_money("face_units")}, {_money("redeemed")},
               {_money("CASE WHEN d > valid_to THEN face_units - redeemed ELSE 0 END")},
               {_money("CASE WHEN d > valid_to THEN 0 ELSE face_units - redeemed END")}
        FROM cumulative
        """
    )
