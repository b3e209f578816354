"""The monthly close: one job over every asset; the months come from their partitions."""

import dagster as dg

from backlog_pipeline.defs.policies import CLOSE_TAG, close_run_tags

__all__ = ["CLOSE_TAG", "monthly_close"]
# Dagster's tags for a run over a range of partitions (a single-run backfill).
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"

monthly_close = dg.define_asset_job(
    "monthly_close",
    selection=dg.AssetSelection.all(),
    description="Sources to published backlog for one month (or a range, in one run).",
    tags=close_run_tags,
)
