"""The day partitioning the daily assets share, and the run tags that name a range of days."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg


def daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    """Daily partitions (Asia/Shanghai days) from `start` to today."""
    return dg.DailyPartitionsDefinition(start_date=start, timezone="Asia/Shanghai", end_offset=1)


def today_in_shanghai() -> str:
    """Today's date in Asia/Shanghai, ISO."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


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


PARTITION_TAG = "dagster/partition"


def run_days(tags: dict[str, str]) -> tuple[str, str] | None:
    """The first and last day partition a run covers (from its range or partition tags); None for a run that
    names no day."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    return None
