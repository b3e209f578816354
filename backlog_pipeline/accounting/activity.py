"""What happened to each contract in each month, before any roll-forward."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.lookup import positions
from backlog_pipeline.money import require_exact_sums

# The source columns the roll-forward (and the as-of route) read; ids of lines are not.
ROLL_FORWARD_INPUTS = {
    "contracts": ("contract_id", "signed_month", "tcv"),
    "changes": ("contract_id", "effective_month", "kind", "amount"),
    "recognition": ("contract_id", "period", "amount"),
}
ACTIVITY_COLUMNS = (
    "new_bookings", "converted", "partial_lost", "increases", "decreases", "terminations",
)  # fmt: skip


def known_contract_rows(frame: pd.DataFrame, contracts: pd.DataFrame) -> pd.Series:
    """Mask of rows that belong to a contract in the contracts table (the rest are orphans)."""
    return frame["contract_id"].isin(contracts["contract_id"])


def require_exact_arithmetic(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame
) -> None:
    """Refuse sources whose amounts could wrap an int64 sum (see ``money``); both routes
    to the closing call it, so neither computes a figure it cannot hold."""
    require_exact_sums(
        {
            "crm_contracts tcv": contracts["tcv"].to_numpy(np.int64),
            "crm_contract_changes amount": changes["amount"].dropna().to_numpy(np.int64),
            "erp_recognition amount": recognition["amount"].to_numpy(np.int64),
        }
    )


def contract_index(contracts: pd.DataFrame) -> pd.Index:
    """The contract ids, each once, in sorted order: position in it is a contract's number.

    Numbers in sorted order make "by contract, then month" an integer order that is the
    same as the text order of the ids.
    """
    known = pd.Index(contracts["contract_id"].unique())
    return known if known.is_monotonic_increasing else known.sort_values()


def contract_activity(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame
) -> pd.DataFrame:
    """One row per (contract, month) with any event, each event kind summed in cents.

    Changes and recognition for unknown contracts are left out here: SPEC counts
    conversion "against known contracts", and orphans are reported as data errors.
    ``terminations`` counts cancellations without an amount (full terminations); their
    lost amount depends on the roll-forward and is computed there. Rows are ordered by
    contract, then month.

    Millions of lines: each (contract, month) is a slot of an integer key, and every
    figure is summed into its slots with exact int64 arithmetic (``np.add.at``), with no
    sort and no group-by on text.
    """
    require_exact_arithmetic(contracts, changes, recognition)
    known = contract_index(contracts)
    by_contract = known.get_indexer(contracts["contract_id"])
    line_contract = positions(known, recognition["contract_id"])
    change_contract = known.get_indexer(changes["contract_id"])
    lines = line_contract >= 0
    known_changes = change_contract >= 0
    months = [
        contracts["signed_month"].to_numpy(np.int64),
        recognition["period"].to_numpy(np.int64)[lines],
        changes["effective_month"].to_numpy(np.int64)[known_changes],
    ]
    codes = [by_contract, line_contract[lines], change_contract[known_changes]]
    if not sum(len(part) for part in codes):
        return pd.DataFrame(
            {"contract_id": pd.Series(dtype=object), "period": pd.Series(dtype="int64")}
            | {column: pd.Series(dtype="int64") for column in ACTIVITY_COLUMNS}
        )
    base = min(int(part.min()) for part in months if len(part))
    span = max(int(part.max()) for part in months if len(part)) - base + 1
    keys = [
        code.astype(np.int64) * span + (month - base)
        for code, month in zip(codes, months, strict=True)
    ]
    slots, slot_of = _slots(np.concatenate(keys), len(known) * span)
    contract_slots, line_slots, change_slots = np.split(
        slot_of, np.cumsum([len(part) for part in keys])[:-1]
    )

    def summed(slots_of_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        total = np.zeros(len(slots), dtype=np.int64)
        np.add.at(total, slots_of_rows, values)
        return total

    kind = changes["kind"].to_numpy(dtype=object)[known_changes]
    amount = changes["amount"][known_changes]
    has_amount = amount.notna().to_numpy()
    amount = amount.fillna(0).to_numpy(dtype=np.int64)
    is_cancellation = kind == "cancellation"

    def of_kind(mask: np.ndarray) -> np.ndarray:
        return summed(change_slots[mask], amount[mask])

    activity = {
        "contract_id": known.to_numpy()[slots // span],
        "period": slots % span + base,
        "new_bookings": summed(contract_slots, contracts["tcv"].to_numpy(np.int64)),
        "converted": summed(line_slots, recognition["amount"].to_numpy(np.int64)[lines]),
        "partial_lost": of_kind(is_cancellation),
        "increases": of_kind(kind == "increase"),
        "decreases": of_kind(kind == "decrease"),
        "terminations": summed(
            change_slots[is_cancellation & ~has_amount],
            np.ones(int((is_cancellation & ~has_amount).sum()), dtype=np.int64),
        ),
    }
    return pd.DataFrame(activity, copy=False)


def _slots(keys: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys in order, and for each key the position of its slot among them."""
    if key_space <= max(4 * len(keys), 1 << 22):
        used = np.bincount(keys, minlength=key_space) > 0
        slots = np.flatnonzero(used)
        position = np.cumsum(used) - 1
        return slots, position[keys]
    slots, slot_of = np.unique(keys, return_inverse=True)
    return slots, slot_of
