"""The accounting period as Dagster partitions: one partition per calendar month."""

import dagster as dg

from backlog_pipeline.config import Settings
from backlog_pipeline.periods import first_day, parse_month


def monthly_partitions(settings: Settings) -> dg.MonthlyPartitionsDefinition:
    """Months from the start month to the end month (or the last complete month)."""
    end = (
        first_day(parse_month(settings.end_month) + 1).isoformat()
        if settings.end_month is not None
        else None
    )
    return dg.MonthlyPartitionsDefinition(
        start_date=first_day(parse_month(settings.start_month)).isoformat(),
        end_date=end,
        timezone=settings.close_timezone,
    )


def months_in_run(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[int, int]:
    """First and last month (indices) this run covers: one month, or a backfill's range."""
    keys = context.partition_keys
    return parse_month(keys[0]), parse_month(keys[-1])
