"""What happened to each contract in each month, before any roll-forward."""

from __future__ import annotations

import pandas as pd

ACTIVITY_COLUMNS = (
    "new_bookings", "converted", "partial_lost", "increases", "decreases", "terminations",
)  # fmt: skip


def known_contract_rows(frame: pd.DataFrame, contracts: pd.DataFrame) -> pd.Series:
    """Mask of rows that belong to a contract in the contracts table (the rest are orphans)."""
    return frame["contract_id"].isin(contracts["contract_id"])


def contract_activity(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame
) -> pd.DataFrame:
    """One row per (contract, month) with any event, each event kind summed in cents.

    Changes and recognition for unknown contracts are left out here: SPEC counts
    conversion "against known contracts", and orphans are reported as data errors.
    ``terminations`` counts cancellations without an amount (full terminations); their
    lost amount depends on the roll-forward and is computed there.
    """
    changes = changes[known_contract_rows(changes, contracts)]
    recognition = recognition[known_contract_rows(recognition, contracts)]
    kind = changes["kind"]
    amount = changes["amount"].fillna(0).astype("int64")
    is_cancellation = kind == "cancellation"
    parts = [
        pd.DataFrame(
            {
                "contract_id": contracts["contract_id"],
                "period": contracts["signed_month"],
                "new_bookings": contracts["tcv"],
            }
        ),
        pd.DataFrame(
            {
                "contract_id": recognition["contract_id"],
                "period": recognition["period"],
                "converted": recognition["amount"],
            }
        ),
        pd.DataFrame(
            {
                "contract_id": changes["contract_id"],
                "period": changes["effective_month"],
                "increases": amount.where(kind == "increase", 0),
                "decreases": amount.where(kind == "decrease", 0),
                "partial_lost": amount.where(is_cancellation, 0),
                "terminations": (is_cancellation & changes["amount"].isna()).astype("int64"),
            }
        ),
    ]
    events = pd.concat(parts, ignore_index=True)
    for column in ACTIVITY_COLUMNS:
        events[column] = events[column].fillna(0).astype("int64")
    activity = events.groupby(["contract_id", "period"], sort=True, as_index=False)[
        list(ACTIVITY_COLUMNS)
    ].sum()
    activity["period"] = activity["period"].astype("int64")
    return activity
