"""Flow rows as they are published: two-decimal ``Decimal`` money, ``YYYY-MM`` periods."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pandas as pd

from backlog_pipeline.accounting.flow import flow_columns
from backlog_pipeline.money import cents_to_decimal
from backlog_pipeline.periods import month_label


def money_records(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, list[Decimal]]:
    return {column: [cents_to_decimal(v) for v in frame[column].tolist()] for column in columns}


def flow_records(
    flow: pd.DataFrame, currency: str | None = None, revaluation: bool = True
) -> list[dict[str, object]]:
    """One record per flow row: ``period``, ``currency`` (``currency``, or each row's own),
    the figures, ``net_change`` and ``net_change_pct``, and any other column as it is.

    ``revaluation``: the row is in the reporting currency and carries ``fx_revaluation``
    (0.00 for a flow computed in one currency, which has no such column).
    """
    figures = flow_columns(flow)
    money = money_records(flow, (*figures, "net_change"))
    if revaluation and "fx_revaluation" not in money:
        money["fx_revaluation"] = [cents_to_decimal(0)] * len(flow)
    other = [c for c in flow.columns if c not in money and c not in ("period", "currency")]
    return [
        {
            "period": month_label(period),
            "currency": currency if currency is not None else flow["currency"].iat[i],
            **{column: values[i] for column, values in money.items()},
            **{column: flow[column].iat[i] for column in other},
        }
        for i, period in enumerate(flow["period"].tolist())
    ]
