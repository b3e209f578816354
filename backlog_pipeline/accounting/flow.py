"""The per-period flow of SPEC.md, as the sum of the contract rows behind it."""

from __future__ import annotations

import pandas as pd

from backlog_pipeline.accounting.activity import contract_activity
from backlog_pipeline.accounting.rollforward import (
    FLOW_COLUMNS,
    REPORTING_COLUMNS,
    contract_backlog,
    roll_forward,
)
from backlog_pipeline.money import percent_change
from backlog_pipeline.periods import month_label


def flow_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The figures a flow or its contract rows hold: with ``fx_revaluation`` when converted
    to the reporting currency (``REPORTING_COLUMNS``), else ``FLOW_COLUMNS``."""
    return REPORTING_COLUMNS if "fx_revaluation" in frame.columns else FLOW_COLUMNS


def period_flow(contract_rows: pd.DataFrame, months: list[int]) -> pd.DataFrame:
    """One row per month in ``months`` (zeros where nothing happened), in cents.

    Rows converted to the reporting currency give the reporting flow, ``fx_revaluation``
    included; rows in one currency give that currency's flow.
    """
    columns = flow_columns(contract_rows)
    sums = contract_rows.groupby("period")[list(columns)].sum()
    flow = sums.reindex(months, fill_value=0).astype("int64")
    flow.index.name = "period"
    flow = flow.reset_index()
    flow["net_change"] = flow["closing"] - flow["opening"]
    flow["net_change_pct"] = [
        percent_change(change, opening)
        for change, opening in zip(flow["net_change"], flow["opening"], strict=True)
    ]
    return flow[["period", *columns, "net_change", "net_change_pct"]]


def compute_backlog(
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
    first_month: int,
    last_month: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contract rows and the period flow for every month in the range, from full history."""
    ledger = roll_forward(contract_activity(contracts, changes, recognition))
    rows = contract_backlog(ledger, first_month, last_month)
    flow = period_flow(rows, list(range(first_month, last_month + 1)))
    return rows, flow


def with_month_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """The same frame with ``period`` as ``YYYY-MM`` text, as it is published."""
    labelled = frame.copy()
    labelled["period"] = labelled["period"].map(month_label)
    return labelled
