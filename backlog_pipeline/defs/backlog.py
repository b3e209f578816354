"""The monthly backlog: contract rows, then the period flow that sums them.

Contract rows are rolled forward in each contract's currency, then converted to the
reporting currency (``defs/currency.py``); the flow sums the converted rows, so it
carries the FX revaluation line (0.00 when every contract is in the reporting currency).
"""

import time

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting import rollforward
from backlog_pipeline.accounting.activity import contract_activity
from backlog_pipeline.accounting.flow import period_flow, with_month_labels
from backlog_pipeline.accounting.rollforward import REPORTING_COLUMNS
from backlog_pipeline.defs.currency import CONVERSION_INS, converted_rows
from backlog_pipeline.defs.fx_source import FxRatesSource
from backlog_pipeline.defs.partitions import SINGLE_RUN, monthly_partitions, months_in_run
from backlog_pipeline.defs.resources import Reporting
from backlog_pipeline.defs.sources import OWNERS
from backlog_pipeline.money import cents_to_decimal
from backlog_pipeline.periods import month_label, partition_key


def flow_metadata(row: pd.Series) -> dict[str, dg.MetadataValue]:
    """A month's figures as numbers the UI can plot across partitions (display only).

    A figure that is missing or null is left out here; the checks report it.
    """
    return {
        column: dg.MetadataValue.float(float(cents_to_decimal(row[column])))
        for column in REPORTING_COLUMNS
        if column in row and not pd.isna(row[column])
    }


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=SINGLE_RUN,
    group_name="backlog",
    kinds={"pandas"},
    owners=OWNERS,
    ins=CONVERSION_INS,
    description=(
        "Opening, new, converted, lost, increases, decreases, FX revaluation and closing "
        "backlog per contract and month, in the reporting currency and (``*_local``) in the "
        "contract's own currency: every figure of the flow drills down to these rows. A "
        "contract has a row in a month when it has activity then or carries backlog."
    ),
)
def contract_backlog(
    context: dg.AssetExecutionContext,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
    rates: pd.DataFrame,
    reporting: Reporting,
    fx_rates_source: FxRatesSource,
) -> pd.DataFrame:
    first, last = months_in_run(context)
    started = time.monotonic()
    context.log.info(
        f"Rolling forward {len(contracts)} contracts, {len(changes)} changes and "
        f"{len(recognition)} recognition lines for {month_label(first)}..{month_label(last)}"
    )
    ledger = rollforward.roll_forward(contract_activity(contracts, changes, recognition))
    context.log.info(
        f"{len(ledger)} contract-months of activity rolled forward in "
        f"{time.monotonic() - started:.1f}s"
    )
    local = rollforward.contract_backlog(ledger, first, last)
    rows = converted_rows(
        local, contracts, recognition, rates, reporting, fx_rates_source.describe()
    )
    counts = rows.groupby("period").size()
    for month in range(first, last + 1):
        context.add_asset_metadata(
            {"rows": dg.MetadataValue.int(int(counts.get(month, 0)))},
            partition_key=partition_key(month),
        )
    context.log.info(f"{len(rows)} contract rows for {last - first + 1} month(s)")
    return rows


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=SINGLE_RUN,
    group_name="backlog",
    kinds={"pandas"},
    owners=OWNERS,
    ins={"contract_rows": dg.AssetIn("contract_backlog")},
    description=(
        "The bookings-backlog flow per month in the reporting currency: opening + new − "
        "converted − lost + increases − decreases + fx_revaluation = closing, with explicit "
        "cancellation (lost) and FX revaluation lines."
    ),
)
def backlog_flow(context: dg.AssetExecutionContext, contract_rows: pd.DataFrame) -> pd.DataFrame:
    first, last = months_in_run(context)
    flow = period_flow(contract_rows, list(range(first, last + 1)))
    for _, row in flow.iterrows():
        context.add_asset_metadata(
            {
                **flow_metadata(row),
                "flow": dg.MetadataValue.md(
                    with_month_labels(flow[flow["period"] == row["period"]])
                    .pipe(_money_table)
                    .to_markdown(index=False, disable_numparse=True)
                ),
            },
            partition_key=partition_key(int(row["period"])),
        )
    return flow


def _money_table(flow: pd.DataFrame) -> pd.DataFrame:
    shown = flow.copy()
    for column in (*REPORTING_COLUMNS, "net_change"):
        if column in shown:
            shown[column] = shown[column].map(
                lambda cents: None if pd.isna(cents) else cents_to_decimal(cents)
            )
    return shown
