"""``continues_locked_close``: a run never publishes months that skip past a locked month.

Each month is computed from the whole history, so late data before a locked month moves
every later month. A run that starts after the locked month (``backlog-close --from``
later) would publish months whose opening no longer follows the signed-off closing: the
locked month would stand beside months that contradict it. That blocks; the way forward
is to unlock and restate the locked month first. Without a lock before the run, a broken
continuity stays the WARN of ``opening_continues_previous_close`` (a rerun can fix it).
The publishing transaction refuses the same (``warehouse.versions``), for runs that leave
the checks out.
"""

import dagster as dg
import pandas as pd

from backlog_pipeline.defs.check_partitions import MonthlyResults, each_month
from backlog_pipeline.defs.check_results import check_result, guarded
from backlog_pipeline.defs.partitions import monthly_partitions
from backlog_pipeline.defs.resources import Warehouse
from backlog_pipeline.warehouse.locks import latest_lock_before, skipped_lock
from backlog_pipeline.warehouse.reads import published_closing


@dg.asset_check(
    asset="backlog_flow",
    partitions_def=monthly_partitions,
    blocking=True,
    description=(
        "A run that starts after a locked month continues from its published close: the "
        "first month opens at the closing published before it. Otherwise the run would "
        "publish months that contradict the signed-off month (ERROR): unlock and restate "
        "the locked month first."
    ),
)
def continues_locked_close(
    context: dg.AssetCheckExecutionContext, backlog_flow: pd.DataFrame, warehouse: Warehouse
) -> MonthlyResults:
    def evaluate() -> dg.AssetCheckResult:
        first_row = backlog_flow.loc[backlog_flow["period"].idxmin()]
        first = int(first_row["period"])
        with warehouse.engine.connect() as connection:
            latest = latest_lock_before(connection, first)
        if latest is None:
            return check_result([], "", extra={"locked_month_before": dg.MetadataValue.null()})
        locked_month, lock = latest
        published = published_closing(warehouse.engine, [first - 1])
        found = skipped_lock(first, int(first_row["opening"]), locked_month, lock, published)
        return check_result(
            found,
            "run month(s) would not continue from the locked close",
            extra={"locked_month_before": dg.MetadataValue.text(lock.describe())},
        )

    # What the run starts from holds for each of its months (they all follow its first).
    yield from each_month(context, guarded(evaluate), "continues_locked_close", "backlog_flow")
