"""``source_not_shrunk``: each source against what the last publication read (see
``source_shrink``), a blocking check evaluated in the source's own step, where the rows are
at hand (fifteen million recognition lines are not loaded a second time for it).

A shrink the run says is expected (the run tag, from ``backlog-close --expect-shrink``, the
Launchpad, a backfill's tags or the late-data sensor; or the setting) is reported as a WARN
and the close goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg
import pandas as pd

from backlog_pipeline.config import settings
from backlog_pipeline.defs.check_partitions import each_month
from backlog_pipeline.defs.partitions import monthly_partitions
from backlog_pipeline.defs.policies import retried_only_if_transient
from backlog_pipeline.defs.resources import Warehouse
from backlog_pipeline.money import format_cents
from backlog_pipeline.provenance import source_total
from backlog_pipeline.source_shrink import (
    EXPECT_SHRINK_SETTING,
    EXPECT_SHRINK_TAG,
    Baseline,
    how_to_proceed,
    is_true,
    shrink_problem,
)
from backlog_pipeline.warehouse.reads import last_publication

SHRINK_CHECK = "source_not_shrunk"


def shrink_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        SHRINK_CHECK,
        asset=asset,
        blocking=True,
        partitions_def=monthly_partitions,
        description=(
            "The source has not lost more rows, or more of its total amount, than "
            "BACKLOG_MAX_SOURCE_SHRINK allows since the last publication read it (ERROR; "
            f"WARN when the run says it is expected: tag {EXPECT_SHRINK_TAG}=true)."
        ),
    )


def baseline(warehouse: Warehouse, asset: str) -> Baseline | None:
    """What the last publication read of ``asset``; None if nothing was published yet."""
    last = last_publication(warehouse.engine)
    if last is None or asset not in last.source_marks:
        return None
    return Baseline.of(last.source_marks[asset], last.period, last.version, last.run_id)


def expected_by(context: dg.AssetExecutionContext) -> str | None:
    """What says this run's shrink is expected, if anything."""
    if is_true(context.run.tags.get(EXPECT_SHRINK_TAG)):
        return f"run tag {EXPECT_SHRINK_TAG}=true"
    if settings.expect_source_shrink:
        return f"{EXPECT_SHRINK_SETTING}=true"
    return None


def shrink_result(
    context: dg.AssetExecutionContext, asset: str, rows: pd.DataFrame, before: Baseline | None
) -> dg.AssetCheckResult:
    total = source_total(rows)
    metadata: dict[str, dg.MetadataValue] = {
        "rows": dg.MetadataValue.int(len(rows)),
        "total": dg.MetadataValue.text(format_cents(total)),
        "max_shrink": dg.MetadataValue.float(settings.max_source_shrink),
    }
    if before is None:
        metadata["compared_with"] = dg.MetadataValue.text("nothing published yet")
        return dg.AssetCheckResult(asset_key=asset, check_name=SHRINK_CHECK, passed=True,
                                   metadata=metadata)  # fmt: skip
    metadata["compared_with"] = dg.MetadataValue.text(before.describe())
    metadata["published_rows"] = dg.MetadataValue.int(before.rows)
    if before.total is not None:
        metadata["published_total"] = dg.MetadataValue.text(format_cents(before.total))
    problem = shrink_problem(asset, len(rows), total, before, settings.max_source_shrink)
    if problem is None:
        return dg.AssetCheckResult(asset_key=asset, check_name=SHRINK_CHECK, passed=True,
                                   metadata=metadata)  # fmt: skip
    expected = expected_by(context)
    if expected:
        summary = f"{problem}; expected ({expected}), so the close goes on"
        context.log.warning(summary)
        severity = dg.AssetCheckSeverity.WARN
    else:
        summary = f"{problem}. {how_to_proceed()}."
        context.log.error(summary)
        severity = dg.AssetCheckSeverity.ERROR
    metadata["summary"] = dg.MetadataValue.text(summary)
    return dg.AssetCheckResult(
        asset_key=asset, check_name=SHRINK_CHECK, passed=False, severity=severity,
        metadata=metadata,
    )  # fmt: skip


def landed_and_checked(
    context: dg.AssetExecutionContext,
    asset: str,
    warehouse: Warehouse,
    land: Callable[[], dg.Output[pd.DataFrame]],
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """The source's output, then its shrink check; a transient fault of either is retried."""

    def work() -> tuple[dg.Output[pd.DataFrame], Baseline | None]:
        return land(), baseline(warehouse, asset)

    output, before = retried_only_if_transient(work)
    yield output
    # The source as read for the run is the source of each of its months.
    yield from each_month(context, shrink_result(context, asset, output.value, before),
                          SHRINK_CHECK, asset)  # fmt: skip
