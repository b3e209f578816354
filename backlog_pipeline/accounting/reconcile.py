"""SPEC's identities, checked by code: each function lists what disagrees, and by how much.

An empty list means the identity holds. Amounts are in cents; callers format them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.flow import flow_columns
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label

Discrepancy = dict[str, Any]


def _period(value: object) -> str:
    return value if isinstance(value, str) else month_label(int(value))


def cancellation_line_problems(flow: pd.DataFrame) -> list[Discrepancy]:
    """A flow without an explicit numeric ``lost`` on every row is an error, never a 0."""
    if "lost" not in flow.columns:
        return [{"period": "all", "problem": "the flow has no cancellation (lost) column"}]
    problems = []
    for period, lost in zip(flow["period"], flow["lost"], strict=True):
        if lost is None or pd.isna(lost):
            problems.append({"period": _period(period), "problem": "cancellation line is null"})
        elif isinstance(lost, bool) or not isinstance(lost, (int, np.integer, Decimal)):
            problems.append(
                {
                    "period": _period(period),
                    "problem": f"cancellation line {lost!r} is not a number",
                }
            )
    return problems


def revaluation_line_problems(flow: pd.DataFrame) -> list[Discrepancy]:
    """The reporting flow carries ``fx_revaluation`` on every row, 0 included (like ``lost``)."""
    if "fx_revaluation" not in flow.columns:
        return [{"period": "all", "problem": "the flow has no fx_revaluation column"}]
    return [
        {"period": _period(period), "problem": "fx_revaluation is null"}
        for period, value in zip(flow["period"], flow["fx_revaluation"], strict=True)
        if value is None or pd.isna(value)
    ]


def identity_discrepancies(flow: pd.DataFrame) -> list[Discrepancy]:
    """Rows where opening + new − converted − lost + increases − decreases ≠ closing.

    A flow in the reporting currency (one with ``fx_revaluation``) adds its revaluation
    before the closing; a currency's own flow has none.
    """
    columns = flow_columns(flow)
    missing = [column for column in FLOW_COLUMNS if column not in flow.columns]
    if missing:
        return [{"period": "all", "problem": f"the flow has no column(s) {', '.join(missing)}"}]
    with_fx = "fx_revaluation" in columns
    found = []
    for row in flow.itertuples(index=False):
        values = [getattr(row, column) for column in columns]
        if any(value is None or pd.isna(value) for value in values):
            found.append({"period": _period(row.period), "problem": "a figure is null"})
            continue
        expected = (
            row.opening
            + row.new_bookings
            - row.converted
            - row.lost
            + row.increases
            - row.decreases
            + (row.fx_revaluation if with_fx else 0)
        )
        if expected != row.closing:
            found.append(
                {
                    "period": _period(row.period),
                    "problem": "opening + new − converted − lost + increases − decreases "
                    + ("+ fx_revaluation " if with_fx else "")
                    + "≠ closing",
                    "expected_closing": format_cents(expected),
                    "closing": format_cents(row.closing),
                    "difference": format_cents(row.closing - expected),
                }
            )
    return found


def as_of_discrepancies(flow: pd.DataFrame, closing_as_of: Mapping[int, int]) -> list[Discrepancy]:
    """Months whose closing differs from the independent as-of computation."""
    found = []
    for period, closing in zip(flow["period"], flow["closing"], strict=True):
        independent = closing_as_of[int(period)]
        if pd.isna(closing) or int(closing) != independent:
            found.append(
                {
                    "period": _period(period),
                    "problem": "closing ≠ Σ events to the month end − Σ recognized to date",
                    "closing": "null" if pd.isna(closing) else format_cents(int(closing)),
                    "as_of_closing": format_cents(independent),
                    "difference": "n/a"
                    if pd.isna(closing)
                    else format_cents(int(closing) - independent),
                }
            )
    return found


def continuity_discrepancies(
    flow: pd.DataFrame, previous_closing: Mapping[int, int]
) -> list[Discrepancy]:
    """Months whose opening differs from the previous month's closing.

    ``previous_closing`` maps a month to the closing the opening is held against: the
    month before in the same flow where it is there, else the published one.
    """
    found = []
    own_closing = dict(zip(flow["period"].astype(int), flow["closing"], strict=True))
    for period, opening in zip(flow["period"].astype(int), flow["opening"], strict=True):
        before = own_closing.get(period - 1, previous_closing.get(period - 1))
        if before is None:
            continue
        if int(opening) != int(before):
            found.append(
                {
                    "period": _period(period),
                    "problem": "opening ≠ previous month's closing",
                    "opening": format_cents(int(opening)),
                    "previous_closing": format_cents(int(before)),
                    "difference": format_cents(int(opening) - int(before)),
                }
            )
    return found


def next_month_discrepancies(
    flow: pd.DataFrame, published_opening: Mapping[int, int]
) -> list[Discrepancy]:
    """Published months right after the flow whose opening no longer follows its closing.

    After a restatement of month M, the published M+1 still opens at M's old closing until
    it is rerun; this names it, so the restatement is carried forward rather than forgotten.
    """
    found = []
    own = dict(zip(flow["period"].astype(int), flow["closing"], strict=True))
    for period, closing in own.items():
        after = period + 1
        if after in own or after not in published_opening:
            continue
        if int(published_opening[after]) != int(closing):
            found.append(
                {
                    "period": _period(after),
                    "problem": f"published opening ≠ the closing {_period(period)} has now; "
                    f"rerun {_period(after)} and later months",
                    "opening": format_cents(int(published_opening[after])),
                    "previous_closing": format_cents(int(closing)),
                    "difference": format_cents(int(published_opening[after]) - int(closing)),
                }
            )
    return found


def contract_sum_discrepancies(
    flow: pd.DataFrame, contract_rows: pd.DataFrame
) -> list[Discrepancy]:
    """Months where a flow figure (``fx_revaluation`` included, where the flow has it) is
    not the sum of the contract rows behind it."""
    columns = flow_columns(flow)
    sums = contract_rows.groupby("period")[list(columns)].sum()
    found = []
    for row in flow.itertuples(index=False):
        period = int(row.period)
        for column in columns:
            behind = int(sums.at[period, column]) if period in sums.index else 0
            figure = int(getattr(row, column))
            if figure != behind:
                found.append(
                    {
                        "period": _period(period),
                        "figure": column,
                        "flow": format_cents(figure),
                        "sum_of_contracts": format_cents(behind),
                        "difference": format_cents(figure - behind),
                    }
                )
    return found
