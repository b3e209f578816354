"""How the close behaves under faults and concurrency: pools, retries and run tags.

Transient faults (a source that timed out, a dropped database connection, a locked ERP
file) are retried by Dagster with exponential backoff and jitter; faults a retry cannot
mend (refused credentials, a daily quota, a read-only or full warehouse, unreadable data)
fail at once with their own message, so an operator is not made to wait for a retry that
will fail the same way. ``faults.is_transient`` says which is which, for every step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dagster as dg
import sqlalchemy as sa

from backlog_pipeline.config import settings
from backlog_pipeline.faults import describe, is_transient
from backlog_pipeline.periods import month_label

# Steps in one pool run one at a time across all runs of the instance (`concurrency.pools`
# in deploy/*.yaml). Sources write the local copies and the quarantine; publishing writes
# the warehouse tables and the KPI documents.
SOURCES_POOL = "backlog_sources"
PUBLISH_POOL = "backlog_publish"
POOLS = (SOURCES_POOL, PUBLISH_POOL)

T = TypeVar("T")


# ``BACKLOG_STEP_RETRIES`` step retries, doubling from ``BACKLOG_STEP_RETRY_DELAY``, for the
# steps that call outside systems: the sources and the publishers. None: no retries.
transient_retry_policy = (
    dg.RetryPolicy(
        max_retries=settings.step_retries,
        delay=settings.step_retry_delay,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )
    if settings.step_retries
    else None
)

# Every close run carries it, so the run queue can hold close runs apart (deploy/*.yaml).
CLOSE_TAG = "backlog/close"

# Dagster run retries for a crashed run worker; failed checks and bad data do not retry.
# The instance must have ``run_retries: enabled: true`` (both shipped dagster.yaml do).
run_retry_tags = {
    "dagster/max_retries": str(settings.run_retries),
    "dagster/retry_on_asset_or_op_failure": "false",
}
# What every close run carries, however it was started (see ``CloseRunCoordinator``).
close_run_tags = {CLOSE_TAG: "true", **run_retry_tags}


_MONTH_TAGS = {"dagster/partition", "dagster/asset_partition_range_start"}


class CloseRunCoordinator(dg.QueuedRunCoordinator):
    """The run queue, giving every run it queues the close's tags (retries, ``backlog/close``).

    A run launched from the UI's asset selection, a backfill, the schedule or the sensor is
    queued here (``run_coordinator`` in deploy/*.yaml), so each gets ``BACKLOG_RUN_RETRIES``
    like the ``monthly_close`` job's runs; tags the run already has (a Launchpad's) win.
    """

    def submit_run(self, context: dg.SubmitRunContext) -> dg.DagsterRun:
        run = context.dagster_run
        missing = {key: value for key, value in close_run_tags.items() if key not in run.tags}
        # A close run has months (every asset is partitioned); a late-data scan has none.
        if missing and _MONTH_TAGS & set(run.tags):
            self._instance.add_run_tags(run.run_id, missing)
        return super().submit_run(context)


# On a run that published new versions of months published before: the runs list shows
# the restatement beside the run's "Success" (its WARN checks say which figures moved).
RESTATED_TAG = "backlog/restated"


def tag_restatement(context: dg.AssetExecutionContext, restated: list[int]) -> None:
    """Tags the run with the months it restated, if any."""
    if restated:
        first, last = month_label(restated[0]), month_label(restated[-1])
        months = first if len(restated) == 1 else f"{first}..{last} ({len(restated)} months)"
        context.instance.add_run_tags(context.run.run_id, {RESTATED_TAG: months})


def retried_only_if_transient(work: Callable[[], T]) -> T:
    """``work()``; an error a retry cannot mend becomes a Failure that skips the RetryPolicy.

    Which errors a retry may mend is ``faults.is_transient``, the one classification.
    """
    try:
        return work()
    except dg.Failure:
        raise  # already says whether it may be retried
    except Exception as error:
        if is_transient(error):
            raise
        raise dg.Failure(description=describe(error), allow_retries=False) from error


def ensure_pools(instance: dg.DagsterInstance) -> None:
    """Gives the pools their limit before any run claims a slot.

    Dagster creates a pool with the instance's default limit on first use; two runs that
    first use it at the same moment both insert it, and one fails on the unique key (seen
    with dagster-postgres 0.29.27). Created here, once, the race cannot happen.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    limit = instance.global_op_concurrency_default_limit
    if limit is None:
        return
    known = storage.get_concurrency_keys()
    for pool in POOLS:
        if pool not in known:
            try:
                storage.set_concurrency_slots(pool, limit)
            except sa.exc.IntegrityError:
                pass  # another process created it first, with the same limit
