"""The monthly close: a job over every asset and the schedule that runs it."""

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from backlog_pipeline.settings import Settings


def build_close_job() -> UnresolvedAssetJobDefinition:
    """Every asset; the months come from the assets' own monthly partitions."""
    return dg.define_asset_job(
        "monthly_close",
        selection=dg.AssetSelection.all(),
        description="Sources to published backlog for one month (or a range, in one run).",
    )


def build_close_schedule(
    job: UnresolvedAssetJobDefinition, settings: Settings
) -> dg.ScheduleDefinition:
    """Closes the previous month on the settable day and hour; stopped until turned on.

    The time zone is the partitions' own (``BACKLOG_CLOSE_TIMEZONE``): Dagster takes it
    from there and refuses a second one here.
    """
    return dg.build_schedule_from_partitioned_job(
        job,
        name="monthly_close_schedule",
        day_of_month=settings.close_day_of_month,
        hour_of_day=settings.close_hour,
        minute_of_hour=0,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
