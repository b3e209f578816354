"""The monthly close: a job over every asset and the schedule that runs it."""

from collections.abc import Mapping

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from backlog_pipeline.config import Settings

# Every close run carries it, so the run queue can hold close runs apart (deploy/*.yaml).
CLOSE_TAG = "backlog/close"


def build_close_job(tags: Mapping[str, str] | None = None) -> UnresolvedAssetJobDefinition:
    """Every asset; the months come from the assets' own monthly partitions."""
    return dg.define_asset_job(
        "monthly_close",
        selection=dg.AssetSelection.all(),
        description="Sources to published backlog for one month (or a range, in one run).",
        tags={CLOSE_TAG: "true", **(tags or {})},
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
