"""The flow and the closing backlog by customer, product, segment and region.

Each slice set is a partition of the contract rows (a contract without the attribute is its
own slice, ``(none)``), so each sums to the flow figure by figure: :func:`slice_discrepancies`
is the blocking check that says so. Vectorised: each (month, slice) is an integer key, and
the figures are summed into the keys' slots in int64.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.lookup import (
    RowContracts,
    group_slots,
    month_slots,
    row_contracts,
    text_codes,
)
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label

# The flow's figures, as ``rollforward.FLOW_COLUMNS`` names them; pass ``figures`` to add
# others (an FX revaluation line, say).
FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")
DIMENSIONS = {
    "customer": "customer_id",
    "product": "product",
    "segment": "segment",
    "region": "region",
}
NONE_SLICE = "(none)"


def backlog_slices(
    contract_rows: pd.DataFrame,
    contracts: pd.DataFrame | RowContracts,
    *,
    dimensions: tuple[str, ...] = tuple(DIMENSIONS),
    figures: tuple[str, ...] = FIGURES,
    months: list[int] | None = None,
) -> pd.DataFrame:
    """``period, dimension, slice, *figures`` (cents), one row per month and slice holding
    any contract row, ordered by dimension, month and slice.

    ``contract_rows``: ``period, contract_id, *figures``; ``contracts``: canonical contracts
    (the attribute columns of ``DIMENSIONS``; a missing column makes every contract
    ``(none)``), or a ``RowContracts`` of these rows. ``months``: the months the rows may
    fall in (default: their own).
    """
    unknown = [name for name in dimensions if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"backlog_slices: no dimension {', '.join(unknown)}; see DIMENSIONS")
    period = contract_rows["period"].to_numpy(np.int64)
    month_array, month_position = month_slots(period, months, "backlog_slices")
    lookup = row_contracts(contract_rows, contracts)
    table, contract = lookup.table, lookup.positions
    values = {name: contract_rows[name].to_numpy(np.int64) for name in figures}
    frames = []
    for dimension in dimensions:
        column = DIMENSIONS[dimension]
        attribute = table[column] if column in table else pd.Series(None, index=table.index)
        codes, distinct = text_codes(attribute, NONE_SLICE)
        frames.append(
            _summed(dimension, month_array, month_position, codes[contract], distinct, values)
        )
    return pd.concat(frames, ignore_index=True)


def _summed(
    dimension: str,
    month_array: np.ndarray,
    month_position: np.ndarray,
    slice_code: np.ndarray,
    distinct: np.ndarray,
    values: dict[str, np.ndarray],
) -> pd.DataFrame:
    width = max(len(distinct), 1)
    slots, slot_of = group_slots(month_position * width + slice_code, len(month_array) * width)
    slot_month, slot_slice = np.divmod(slots, width)
    frame = {
        "period": month_array[slot_month],
        "dimension": dimension,
        "slice": distinct[slot_slice] if len(distinct) else np.array([], dtype=object),
    }
    for name, figure in values.items():
        total = np.zeros(len(slots), dtype=np.int64)
        np.add.at(total, slot_of, figure)
        frame[name] = total
    return pd.DataFrame(frame, copy=False)


def slice_discrepancies(
    slices: pd.DataFrame, flow: pd.DataFrame, figures: tuple[str, ...] = FIGURES
) -> list[dict[str, str]]:
    """Per dimension, month and figure: where the slices do not sum to the flow's figure.

    A month of the flow with no slice row of a dimension counts as slices summing to 0.
    """
    found = []
    flow_by_month = flow.set_index(flow["period"].astype(int))[list(figures)].astype("int64")
    for dimension, rows in slices.groupby("dimension", sort=False):
        sums = rows.groupby("period")[list(figures)].sum().astype("int64")
        sums = sums.reindex(flow_by_month.index.union(sums.index), fill_value=0)
        expected = flow_by_month.reindex(sums.index, fill_value=0)
        for at, figure in zip(*np.nonzero((sums != expected).to_numpy()), strict=True):
            flow_figure, sliced = int(expected.iat[at, figure]), int(sums.iat[at, figure])
            found.append(
                {
                    "period": month_label(int(sums.index[at])),
                    "dimension": str(dimension),
                    "figure": figures[figure],
                    "flow": format_cents(flow_figure),
                    "sum_of_slices": format_cents(sliced),
                    "difference": format_cents(sliced - flow_figure),
                }
            )
    return found
