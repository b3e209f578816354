"""A month's rows as the published tables take them, handed to the bulk route
(``bulk_stage``) ahead of the transaction that publishes them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from backlog_pipeline.periods import month_label, month_positions
from backlog_pipeline.warehouse.bulk_stage import StagedLoads
from backlog_pipeline.warehouse.fx_publication import contract_values
from backlog_pipeline.warehouse.schema import backlog_source_records_table, contract_backlog_table


def contract_rows_frame(rows: pd.DataFrame, label: str, currency: str) -> pd.DataFrame:
    """A month's contract rows as :func:`insert_rows` takes them: figures in cents."""
    return pd.DataFrame(
        {
            "period": label,
            "contract_id": rows["contract_id"].to_numpy(),
            **contract_values(rows, currency),
        },
        index=pd.RangeIndex(len(rows)),
    )


def source_records_frame(records: pd.DataFrame, label: str) -> pd.DataFrame:
    """A month's source records as :func:`insert_rows` takes them (the version is added
    when they are inserted, once it is known)."""
    return pd.DataFrame(
        {
            "period": label,
            **{
                column: records[column].to_numpy()
                for column in ("contract_id", "figure", "source", "record_id")
            },
            "amount": records["amount"].array,
        },
        index=pd.RangeIndex(len(records)),
    )


def stage_months(
    loads: StagedLoads,
    months: list[int],
    contract_rows: pd.DataFrame,
    records_of: Callable[[int], pd.DataFrame],
    currency: str,
) -> dict[int, np.ndarray]:
    """Each month's contract rows and source records handed to the bulk route ahead of the
    transaction; the positions of each month's rows."""
    row_positions = month_positions(contract_rows["period"], months)
    for month in months:
        label, at = month_label(month), row_positions[month]
        loads.stage(
            contract_backlog_table,
            label,
            lambda at=at, label=label: contract_rows_frame(contract_rows.iloc[at], label, currency),
        )
        loads.stage(
            backlog_source_records_table,
            label,
            lambda month=month, label=label: source_records_frame(records_of(month), label),
        )
    return row_positions


def records_by_month(
    source_records: pd.DataFrame | Callable[[int], pd.DataFrame], months: list[int]
) -> Callable[[int], pd.DataFrame]:
    if not isinstance(source_records, pd.DataFrame):
        return source_records
    positions = month_positions(source_records["period"], months)
    return lambda month: source_records.iloc[positions[month]]
