"""The partitioning every daily asset shares."""

from __future__ import annotations

import dagster as dg

from warehouse.settings import Settings


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """Daily partitions (Asia/Shanghai days) from the deployment's first day."""
    return dg.DailyPartitionsDefinition(
        start_date=Settings.from_env().partition_start, timezone="Asia/Shanghai", end_offset=1
    )


DAILY = daily_partitions()
