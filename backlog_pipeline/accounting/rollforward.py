"""Opening and closing backlog per contract and month, rolled forward from the first event.

Each month is computed from the full history, so any month stands alone: a backfill can
run months in any order, or all at once, and gets the same figures.

Plain numpy over the activity rows, which come ordered by contract and month: running sums
are one cumulative sum with each segment's start subtracted, exact in int64 (a cumulative
sum that wraps around past 2**63 still gives each segment's exact sum after the
subtraction, since int64 arithmetic is modular).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FLOW_COLUMNS = (
    "opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing",
)  # fmt: skip
CONTRACT_BACKLOG_COLUMNS = ("period", "contract_id", *FLOW_COLUMNS)
# The flow in the reporting currency: the same figures and the FX revaluation before the
# closing (SPEC "Currencies"; 0 where everything is in the reporting currency).
REPORTING_COLUMNS = (*FLOW_COLUMNS[:-1], "fx_revaluation", "closing")


def _first_of_contract(contract_ids: np.ndarray) -> np.ndarray:
    """True where a row starts a new contract (rows ordered by contract)."""
    first = np.ones(len(contract_ids), dtype=bool)
    first[1:] = contract_ids[1:] != contract_ids[:-1]
    return first


def roll_forward(activity: pd.DataFrame) -> pd.DataFrame:
    """Add ``opening``, ``lost`` and ``closing`` to each activity row (ordered by contract,
    then month, as :func:`~backlog_pipeline.accounting.activity.contract_activity` gives them).

    A termination (a cancellation without an amount) loses whatever backlog the contract
    still holds after its month's own recognition and changes, so the month closes at
    exactly 0; events after it start again from 0 (and are data errors of their own).
    """
    # A shallow copy: the new columns are added without copying the activity's.
    ledger = activity.copy(deep=False)
    ledger.index = pd.RangeIndex(len(ledger))
    first = _first_of_contract(ledger["contract_id"].to_numpy())
    terminates = ledger["terminations"].to_numpy() > 0
    delta = (
        ledger["new_bookings"].to_numpy()
        - ledger["converted"].to_numpy()
        - ledger["partial_lost"].to_numpy()
        + ledger["increases"].to_numpy()
        - ledger["decreases"].to_numpy()
    )
    # A segment starts with a contract and after each termination row (which ends its own).
    starts = first.copy()
    starts[1:] |= terminates[:-1]
    cumulative = np.cumsum(delta)
    before_start = (cumulative - delta)[starts]
    running = cumulative - before_start[np.cumsum(starts) - 1]
    closing = np.where(terminates, 0, running)
    opening = np.zeros(len(ledger), dtype=np.int64)
    opening[1:] = closing[:-1]
    opening[first] = 0
    ledger["closing"] = closing
    ledger["lost"] = ledger["partial_lost"].to_numpy() + np.where(terminates, running, 0)
    ledger["opening"] = opening
    return ledger


def contract_backlog(ledger: pd.DataFrame, first_month: int, last_month: int) -> pd.DataFrame:
    """Contract rows for every month in ``[first_month, last_month]``, ordered by month and
    contract.

    A contract has a row in a month when it has activity then or carries backlog into it;
    a fully delivered or terminated contract with nothing happening has none.
    """
    period = ledger["period"].to_numpy(np.int64)
    closing = ledger["closing"].to_numpy(np.int64)
    first = _first_of_contract(ledger["contract_id"].to_numpy())
    next_period = np.full(len(ledger), last_month + 1, dtype=np.int64)
    next_period[:-1] = np.where(first[1:], last_month + 1, period[1:])
    active = (period >= first_month) & (period <= last_month)
    carry_from = np.maximum(period + 1, first_month)
    carry_to = np.minimum(next_period - 1, last_month)
    carried = np.where(closing != 0, carry_to - carry_from + 1, 0).clip(min=0)
    # Each ledger row gives its own row (when in range), then the months it carries into:
    # ordered by contract and month, like the ledger.
    counts = active.astype(np.int64) + carried
    source = np.repeat(np.arange(len(ledger)), counts)
    step = np.arange(len(source)) - np.repeat(np.cumsum(counts) - counts, counts)
    own = active[source] & (step == 0)
    months = np.where(own, period[source], carry_from[source] + step - active[source])
    # By month, keeping the contract order within a month (a radix sort on small integers).
    offsets = months - first_month
    order = np.argsort(
        offsets.astype(np.uint16 if last_month - first_month < 2**16 else np.int64), kind="stable"
    )
    source, carried, months = source[order], ~own[order], months[order]
    del own, step, offsets, order
    rows = {"period": months, "contract_id": ledger["contract_id"].to_numpy()[source]}
    for column in FLOW_COLUMNS:
        values = ledger[column].to_numpy(np.int64)[source]
        if column in ("opening", "closing"):  # a carried month opens and closes at it
            np.copyto(values, closing[source], where=carried)
        else:
            values[carried] = 0
        rows[column] = values
    return pd.DataFrame(rows, copy=False)[list(CONTRACT_BACKLOG_COLUMNS)]
