"""The accounting period as Dagster partitions: one partition per calendar month."""

import dagster as dg

from backlog_pipeline.config import settings
from backlog_pipeline.periods import PARTITION_KEY_FORMAT, month_label, parse_month

# Months from the start month to the end month (or the last complete month), keyed
# ``YYYY-MM`` (see ``periods.partition_key``).
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=month_label(parse_month(settings.start_month)),
    end_date=(
        month_label(parse_month(settings.end_month) + 1) if settings.end_month is not None else None
    ),
    timezone=settings.close_timezone,
    fmt=PARTITION_KEY_FORMAT,
)

# A range of months runs as one run (sources read once) and gives the month-by-month figures.
SINGLE_RUN = dg.BackfillPolicy.single_run()


def months_in_run(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[int, int]:
    """First and last month (indices) this run covers: one month, or a backfill's range."""
    keys = context.partition_keys
    return parse_month(keys[0]), parse_month(keys[-1])
