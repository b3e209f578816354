"""The schedule of the monthly close: the previous month, on a settable day and hour."""

import dagster as dg

from backlog_pipeline.config import settings
from backlog_pipeline.defs.jobs import monthly_close

# Stopped until turned on. The time zone is the partitions' own (BACKLOG_CLOSE_TIMEZONE):
# Dagster takes it from there and refuses a second one here.
monthly_close_schedule = dg.build_schedule_from_partitioned_job(
    monthly_close,
    name="monthly_close_schedule",
    description=(
        f"Closes the previous month on day {settings.close_day_of_month} at "
        f"{settings.close_hour:02d}:00 ({settings.close_timezone}); a tick in July 2025 "
        "closes 2025-06, the partition its run request names. Stopped until turned on (needs "
        "the daemon)."
    ),
    day_of_month=settings.close_day_of_month,
    hour_of_day=settings.close_hour,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
