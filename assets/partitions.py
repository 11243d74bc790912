"""The day partitioning the daily assets share, and the run tags that name a range of days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg


def daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    """Daily partitions (Asia/Shanghai days) from `start` to today."""
    return dg.DailyPartitionsDefinition(start_date=start, timezone="Asia/Shanghai", end_offset=1)


SHANGHAI = ZoneInfo("Asia/Shanghai")
# Providers deliver the previous day's files overnight: the daily work runs at 06:00 Shanghai time.
DAILY_HOUR = 6
DAILY_CRON = f"0 {DAILY_HOUR} * * *"
# Tag of assets refitted once a day (at DAILY_CRON), not on every delivery: a refresh leaves them alone until
# the day's tick has passed since their last materialization.
REFIT_TAG = "computeflow/refit"


def last_daily_tick(now: datetime | None = None) -> datetime:
    """The latest DAILY_CRON tick at or before `now` (default: now), in Shanghai time."""
    now = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    tick = now.replace(hour=DAILY_HOUR, minute=0, second=0, microsecond=0)
    return tick if tick <= now else tick - timedelta(days=1)


def today_in_shanghai() -> str:
    """Today's date in Asia/Shanghai, ISO."""
    return datetime.now(SHANGHAI).date().isoformat()


# The run tags with which Dagster runs one step over a range of partitions (its single-run backfills set them;
# a RunRequest has no other way to ask for a range).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def day_range(first: date | str, last: date | str) -> dict[str, str]:
    """Run tags that make one run cover the day partitions first..last (inclusive)."""
    first, last = (d if isinstance(d, str) else d.isoformat() for d in (first, last))
    if first > last:
        raise ValueError(f"the first day {first} is after the last day {last}")
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def days_between(first: str, last: str) -> list[str]:
    """Every day partition key from `first` to `last`, inclusive."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


PARTITION_TAG = "dagster/partition"


def run_days(tags: dict[str, str]) -> tuple[str, str] | None:
    """The first and last day partition a run covers (from its range or partition tags); None for a run that
    names no day."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    return None
