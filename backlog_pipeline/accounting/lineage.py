"""The source records behind each contract's figures in each month: the audit trail's last step.

A contract row's new bookings, converted, lost, increases and decreases are sums of these
records (a termination's lost amount is computed, so its record carries no amount); orphans
are not here, since they are in no figure (they are in ``backlog_exceptions``).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.activity import known_contract_rows
from backlog_pipeline.periods import month_positions

LINEAGE_COLUMNS = ("period", "contract_id", "figure", "source", "record_id", "amount")
_FIGURE_OF_KIND = {"increase": "increases", "decrease": "decreases", "cancellation": "lost"}


def _records(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame
) -> pd.DataFrame:
    """The lineage rows of records already known to belong to a contract."""
    parts = [
        pd.DataFrame(
            {
                "period": contracts["signed_month"],
                "contract_id": contracts["contract_id"],
                "figure": "new_bookings",
                "source": "crm_contracts",
                "record_id": contracts["contract_id"],
                "amount": contracts["tcv"].astype("Int64"),
            }
        ),
        pd.DataFrame(
            {
                "period": changes["effective_month"],
                "contract_id": changes["contract_id"],
                "figure": changes["kind"].map(_FIGURE_OF_KIND),
                "source": "crm_contract_changes",
                "record_id": changes["change_id"],
                "amount": changes["amount"].astype("Int64"),
            }
        ),
        pd.DataFrame(
            {
                "period": recognition["period"],
                "contract_id": recognition["contract_id"],
                "figure": "converted",
                "source": "erp_recognition",
                "record_id": recognition["line_id"],
                "amount": recognition["amount"].astype("Int64"),
            }
        ),
    ]
    parts = [part for part in parts if not part.empty]
    if not parts:
        return pd.DataFrame({column: [] for column in LINEAGE_COLUMNS})
    records = pd.concat(parts, ignore_index=True)
    records["period"] = records["period"].astype("int64")
    return records[list(LINEAGE_COLUMNS)]


def source_records(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame
) -> pd.DataFrame:
    """One row per source record of a known contract, with the figure it feeds (cents).

    Test oracle: every month at once, for the tests of :class:`MonthlySourceRecords` and of
    publication; the pipeline builds the records a month at a time with that class.
    """
    return _records(
        contracts,
        changes[known_contract_rows(changes, contracts)],
        recognition[known_contract_rows(recognition, contracts)],
    )


class MonthlySourceRecords:
    """:func:`source_records` one month at a time: a backfill of fifteen million lines never
    holds them all as lineage rows at once, and a month's close builds only its own month's.

    Each source is put in month order once (positions only) and its orphans marked once.
    """

    def __init__(
        self,
        contracts: pd.DataFrame,
        changes: pd.DataFrame,
        recognition: pd.DataFrame,
        months: Collection[int],
    ) -> None:
        self._sources = [
            (frame, _month_positions(frame, column, months, contracts if check else None))
            for frame, column, check in (
                (contracts, "signed_month", False),
                (changes, "effective_month", True),
                (recognition, "period", True),
            )
        ]

    def __call__(self, month: int) -> pd.DataFrame:
        parts = [frame.iloc[positions.get(month, [])] for frame, positions in self._sources]
        return _records(*parts)


def _month_positions(
    frame: pd.DataFrame, column: str, months: Collection[int], contracts: pd.DataFrame | None
) -> dict[int, np.ndarray]:
    """The positions of each month's rows in row order, without orphans if ``contracts``
    is given (looked up only for the rows in ``months``)."""
    values = frame[column].to_numpy(np.int64)
    rows = np.flatnonzero(np.isin(values, np.fromiter(months, dtype=np.int64)))
    if contracts is not None:
        ids = frame["contract_id"].iloc[rows]
        rows = rows[ids.isin(contracts["contract_id"]).to_numpy(bool)]
    return {month: rows[at] for month, at in month_positions(values[rows], months).items()}
