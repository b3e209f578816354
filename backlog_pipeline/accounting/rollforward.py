"""Opening and closing backlog per contract and month, rolled forward from the first event.

Each month is computed from the full history, so any month stands alone: a backfill can
run months in any order, or all at once, and gets the same figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FLOW_COLUMNS = (
    "opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing",
)  # fmt: skip
CONTRACT_BACKLOG_COLUMNS = ("period", "contract_id", *FLOW_COLUMNS)


def roll_forward(activity: pd.DataFrame) -> pd.DataFrame:
    """Add ``opening``, ``lost`` and ``closing`` to each activity row.

    A termination (a cancellation without an amount) loses whatever backlog the contract
    still holds after its month's own recognition and changes, so the month closes at
    exactly 0; events after it start again from 0 (and are data errors of their own).
    """
    ledger = activity.sort_values(["contract_id", "period"], kind="stable").reset_index(drop=True)
    terminates = ledger["terminations"] > 0
    delta = (
        ledger["new_bookings"]
        - ledger["converted"]
        - ledger["partial_lost"]
        + ledger["increases"]
        - ledger["decreases"]
    )
    # The termination row closes the segment it ends; the next segment starts after it.
    segment = terminates.astype("int64").groupby(ledger["contract_id"], sort=False).cumsum()
    segment -= terminates.astype("int64")
    running = delta.groupby([ledger["contract_id"], segment], sort=False).cumsum()
    ledger["closing"] = running.where(~terminates, 0).astype("int64")
    ledger["lost"] = (ledger["partial_lost"] + running.where(terminates, 0)).astype("int64")
    ledger["opening"] = (
        ledger.groupby("contract_id", sort=False)["closing"].shift(1).fillna(0).astype("int64")
    )
    return ledger


def contract_backlog(ledger: pd.DataFrame, first_month: int, last_month: int) -> pd.DataFrame:
    """Contract rows for every month in ``[first_month, last_month]``.

    A contract has a row in a month when it has activity then or carries backlog into it;
    a fully delivered or terminated contract with nothing happening has none.
    """
    in_range = ledger[(ledger["period"] >= first_month) & (ledger["period"] <= last_month)]
    active = in_range[list(CONTRACT_BACKLOG_COLUMNS)]

    next_period = (
        ledger.groupby("contract_id", sort=False)["period"]
        .shift(-1)
        .fillna(last_month + 1)
        .astype("int64")
        .to_numpy()
    )
    carry_from = np.maximum(ledger["period"].to_numpy() + 1, first_month)
    carry_to = np.minimum(next_period - 1, last_month)
    counts = np.where(ledger["closing"].to_numpy() != 0, carry_to - carry_from + 1, 0).clip(min=0)
    rows = np.repeat(np.arange(len(ledger)), counts)
    # Month offsets 0, 1, ... within each repeated run.
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    closing = ledger["closing"].to_numpy()[rows]
    zeros = np.zeros(len(rows), dtype="int64")
    carried = pd.DataFrame(
        {
            "period": (np.repeat(carry_from, counts) + offsets).astype("int64"),
            "contract_id": ledger["contract_id"].to_numpy()[rows],
            "opening": closing,
            "new_bookings": zeros,
            "converted": zeros,
            "lost": zeros,
            "increases": zeros,
            "decreases": zeros,
            "closing": closing,
        }
    )
    rows_out = pd.concat([active, carried], ignore_index=True)
    return rows_out.sort_values(["period", "contract_id"], kind="stable").reset_index(drop=True)
