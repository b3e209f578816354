"""Figures too large to publish: NUMERIC(18,2) holds at most ±9,999,999,999,999,999.99.

Every source amount fits (the parsers refuse the rest), but a month's total of them, a
contract's running backlog or a net change percentage can pass the limit. PostgreSQL
would refuse such a figure with an overflow naming neither month nor figure, and a
database that does not check would store something else; so publication checks each one
first and names the month, the figure (and the contract) that does not fit.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.flow import flow_columns
from backlog_pipeline.accounting.reconcile import Discrepancy
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS, REPORTING_COLUMNS
from backlog_pipeline.money import MAX_ABS_CENTS, cents_to_decimal, format_cents
from backlog_pipeline.periods import month_label

LIMIT = cents_to_decimal(MAX_ABS_CENTS)
_PROBLEM = f"does not fit NUMERIC(18,2) (at most ±{LIMIT})"
_LOCAL = tuple(f"{column}_local" for column in FLOW_COLUMNS)  # a contract row's own currency
_ORDER = {
    figure: rank
    for rank, figure in enumerate((*REPORTING_COLUMNS, "net_change", "net_change_pct", *_LOCAL))
}


def _in_order(found: list[Discrepancy]) -> list[Discrepancy]:
    """Month by month, each month's figures in the flow's order."""
    return sorted(found, key=lambda d: (d["period"], d.get("contract_id", ""), _ORDER[d["figure"]]))


def _figures(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The money figures of flow or contract rows in cents, net change included (and the
    revaluation and local figures where the frame has them)."""
    columns = (*flow_columns(frame), *(column for column in _LOCAL if column in frame))
    figures = {column: frame[column].to_numpy(np.int64) for column in columns}
    figures["net_change"] = (
        frame["net_change"].to_numpy(np.int64)
        if "net_change" in frame
        else figures["closing"] - figures["opening"]
    )
    return figures


def _beyond(frame: pd.DataFrame, with_contract: bool) -> list[Discrepancy]:
    found = []
    for figure, cents in _figures(frame).items():
        for position in np.flatnonzero(np.abs(cents) > MAX_ABS_CENTS)[:20].tolist():
            row = frame.iloc[position]
            found.append(
                {
                    "period": month_label(int(row["period"])),
                    **({"contract_id": str(row["contract_id"])} if with_contract else {}),
                    "figure": figure,
                    "value": format_cents(int(cents[position])),
                    "problem": _PROBLEM,
                }
            )
    return found


def out_of_range_figures(flow: pd.DataFrame, contract_rows: pd.DataFrame) -> list[Discrepancy]:
    """Flow figures (net change percentage included), then contract figures, that do not
    fit; at most 20 per figure and table, the month's flow first."""
    found = _beyond(flow, with_contract=False)
    for period, percent in zip(flow["period"], flow["net_change_pct"], strict=True):
        if percent is not None and not pd.isna(percent) and abs(Decimal(percent)) > LIMIT:
            found.append(
                {
                    "period": month_label(int(period)),
                    "figure": "net_change_pct",
                    "value": str(percent),
                    "problem": _PROBLEM,
                }
            )
    return _in_order(found) + _in_order(_beyond(contract_rows, with_contract=True))


def describe(problem: Discrepancy) -> str:
    where = f"{problem['period']} {problem['figure']}"
    if "contract_id" in problem:
        where += f" of contract {problem['contract_id']}"
    return f"{where} = {problem['value']} {problem['problem']}"
