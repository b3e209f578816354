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
from backlog_pipeline.accounting.flow import period_flow
from backlog_pipeline.accounting.rollforward import REPORTING_COLUMNS
from backlog_pipeline.defs.currency import CONVERSION_INS, converted_rows
from backlog_pipeline.defs.fx_source import FxRatesSource
from backlog_pipeline.defs.partitions import SINGLE_RUN, monthly_partitions, months_in_run
from backlog_pipeline.defs.resources import Reporting
from backlog_pipeline.defs.sources import OWNERS
from backlog_pipeline.money import cents_to_decimal
from backlog_pipeline.periods import month_label, partition_key

FLOW_FIGURES = (*REPORTING_COLUMNS, "net_change")  # the flow's order


def flow_metadata(row: pd.Series, currency: str) -> dict[str, dg.MetadataValue]:
    """A month's figures: each as exact text with its currency (``3946899.40 USD``), and as
    a number for the UI's plots (display only), labelled ``1 opening`` .. ``9 net_change``
    so the plots come in the flow's order. A missing figure is left out; the checks say why.
    """
    metadata: dict[str, dg.MetadataValue] = {}
    for position, column in enumerate(FLOW_FIGURES, start=1):
        if column in row and not pd.isna(row[column]):
            amount = cents_to_decimal(row[column])
            metadata[column] = dg.MetadataValue.text(f"{amount} {currency}")
            metadata[f"{position} {column}"] = dg.MetadataValue.float(float(amount))
    return metadata


def flow_table(flow: pd.DataFrame, currency: str) -> dg.TableMetadataValue:
    """The flow as a typed table: money as exact decimal text, in ``currency``."""
    money = [column for column in FLOW_FIGURES if column in flow]
    columns = [
        dg.TableColumn("period", "string", description="month, YYYY-MM"),
        *(dg.TableColumn(c, "decimal(18,2)", description=currency) for c in money),
        dg.TableColumn("net_change_pct", "decimal(9,2)", description="% of opening"),
    ]
    records = [
        dg.TableRecord(
            {
                "period": month_label(int(row["period"])),
                **{c: None if pd.isna(row[c]) else str(cents_to_decimal(row[c])) for c in money},
                "net_change_pct": None
                if pd.isna(row.get("net_change_pct"))
                else str(row["net_change_pct"]),
            }
        )
        for _, row in flow.iterrows()
    ]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


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
def backlog_flow(
    context: dg.AssetExecutionContext, contract_rows: pd.DataFrame, reporting: Reporting
) -> pd.DataFrame:
    first, last = months_in_run(context)
    flow = period_flow(contract_rows, list(range(first, last + 1)))
    for _, row in flow.iterrows():
        context.add_asset_metadata(
            {
                **flow_metadata(row, reporting.currency),
                "flow": flow_table(flow[flow["period"] == row["period"]], reporting.currency),
            },
            partition_key=partition_key(int(row["period"])),
        )
    return flow
