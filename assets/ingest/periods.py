"""Usage lines whose charge period spans more than one Asia/Shanghai day, split into daily charge periods.

Only usage charges are split (FOCUS ChargeCategory `Usage`): a purchase, credit or adjustment keeps its period.

A line from 22:00 one day to 02:00 two days later becomes three rows: 22:00-24:00, the whole next day and
00:00-02:00, each dated by its own day. Costs and quantities go pro rata to each part's share of the period;
money is cut at rounded cumulative shares, so a line's parts add up to its amounts exactly. The parts keep the
line's source_file and source_row (traceable to the landed record) and say which part of how many they are.
"""

from __future__ import annotations

from assets.ingest.targets import LOCAL_TZ, MONEY
from warehouse.lake import sql_ident, sql_str

# The period columns of a usage row: which daily part of its line it is (1-based) and of how many.
PERIOD_COLUMNS = ("period_part", "period_parts")
MONEY_COLUMNS = ("billed_cost", "effective_cost", "list_cost", "contracted_cost")
QUANTITY_COLUMNS = ("gpu_hours", "consumed_quantity", "pricing_quantity", "pflop_hours")
FIRST_PART = "coalesce(period_part, 1) = 1"  # a line's first part (rows loaded before lines were split: all)


def _local_day(timestamp: str) -> str:
    return f"CAST(timezone({sql_str(LOCAL_TZ)}, {timestamp}) AS DATE)"


FIRST_DAY = _local_day("charge_period_start")
LAST_DAY = _local_day("charge_period_end - INTERVAL 1 MICROSECOND")
# A usage line that spans days (purchases, credits and adjustments keep their period).
SPANS_DAYS = f"coalesce(charge_category, 'Usage') = 'Usage' AND {FIRST_DAY} < {LAST_DAY}"


def whole_lines(lines: str, columns: list[str]) -> str:
    """SQL of `columns` of the rows of the FROM item `lines`, each line one part (1 of 1 when the columns
    include the period columns, as usage tables do)."""
    select = ", ".join(f"1 AS {sql_ident(c)}" if c in PERIOD_COLUMNS else sql_ident(c) for c in columns)
    return f"SELECT {select} FROM {lines}"


def daily_parts(lines: str, columns: list[str]) -> str:
    """SQL of `columns` of the usage rows of the FROM item `lines`, each line that spans days split into one
    row per Asia/Shanghai day (the period columns added: 1 of 1 for a line within one day)."""
    first, last, spans = FIRST_DAY, LAST_DAY, SPANS_DAYS

    def midnight(day: str) -> str:
        return f"timezone({sql_str(LOCAL_TZ)}, CAST({day} AS TIMESTAMP))"

    share = (
        "(epoch({}) - epoch(charge_period_start)) / (epoch(charge_period_end) - epoch(charge_period_start))"
    )
    before, through = share.format("__part_start"), share.format("__part_end")

    def cut(column: str) -> str:
        return f"CAST(round(CAST({sql_ident(column)} AS DOUBLE) * {{}}, 4) AS {MONEY})"

    replaced = {
        "charge_period_start": "__part_start",
        "charge_period_end": "__part_end",
        "charge_date": "__day",
        "period_part": "__part",
        "period_parts": "__parts",
        **{
            m: f"{cut(m).format(through)} - {cut(m).format(before)}"
            for money in MONEY_COLUMNS
            for m in (money, f"{money}_cny")
        },
        **{q: f"{sql_ident(q)} * ({through} - {before})" for q in QUANTITY_COLUMNS},
    }
    parts = ", ".join(f"{replaced.get(c, sql_ident(c))} AS {sql_ident(c)}" for c in columns)
    days = (
        f"SELECT *, CAST(unnest(generate_series(CAST({first} AS TIMESTAMP), CAST({last} AS TIMESTAMP), "
        f"INTERVAL 1 DAY)) AS DATE) AS __day, date_diff('day', {first}, {last}) + 1 AS __parts "
        f"FROM {lines} WHERE {spans}"
    )
    bounded = (
        f"SELECT *, greatest(charge_period_start, {midnight('__day')}) AS __part_start, "
        f"least(charge_period_end, {midnight('__day + 1')}) AS __part_end, "
        f"date_diff('day', {first}, __day) + 1 AS __part FROM ({days})"
    )
    return f"{whole_lines(lines, columns)} WHERE NOT ({spans}) UNION ALL SELECT {parts} FROM ({bounded})"
