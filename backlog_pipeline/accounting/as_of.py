"""Closing backlog at a month end straight from the source records (SPEC's second route).

Deliberately written apart from the month-by-month roll-forward: it sums every event on
or before the month end, starting after the contract's last termination, with no running
totals. Where both routes agree to the cent, neither has dropped or doubled an event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.activity import known_contract_rows, require_exact_arithmetic
from backlog_pipeline.accounting.lookup import positions


def closing_as_of(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame, month: int
) -> pd.Series:
    """Closing backlog in cents per contract at the end of ``month`` (contracts with events).

    Test oracle: the rule written plainly, one month at a time. The pipeline uses
    :func:`total_closing_as_of_months`; the tests hold it to this function.
    """
    changes = changes[
        known_contract_rows(changes, contracts) & (changes["effective_month"] <= month)
    ]
    recognition = recognition[
        known_contract_rows(recognition, contracts) & (recognition["period"] <= month)
    ]
    terminations = changes[(changes["kind"] == "cancellation") & changes["amount"].isna()]
    terminated_in = terminations.groupby("contract_id")["effective_month"].max()

    signed = contracts[contracts["signed_month"] <= month]
    sign = changes["kind"].map({"increase": 1, "decrease": -1, "cancellation": -1})
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "contract_id": signed["contract_id"],
                    "month": signed["signed_month"],
                    "amount": signed["tcv"],
                }
            ),
            pd.DataFrame(
                {
                    "contract_id": changes["contract_id"],
                    "month": changes["effective_month"],
                    "amount": changes["amount"].fillna(0).astype("int64") * sign,
                }
            ),
            pd.DataFrame(
                {
                    "contract_id": recognition["contract_id"],
                    "month": recognition["period"],
                    "amount": -recognition["amount"],
                }
            ),
        ],
        ignore_index=True,
    )
    after_termination = events["month"] > events["contract_id"].map(terminated_in).fillna(-1)
    return events[after_termination].groupby("contract_id")["amount"].sum().astype("int64")


def total_closing_as_of(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame, month: int
) -> int:
    """Total closing backlog in cents at the end of ``month``. Test oracle (see above)."""
    return int(closing_as_of(contracts, changes, recognition, month).sum())


def total_closing_as_of_months(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame, months: list[int]
) -> dict[int, int]:
    """:func:`total_closing_as_of` for many month ends in one pass over the records.

    The same rule, turned around: an event of month m counts in every closing from m up to
    the month before the contract's first termination on or after m (a termination in
    month t drops every event up to t from the closings from t on). So each event adds its
    amount at m and takes it back at that termination, and the closings are running sums
    of those, for all month ends at once.
    """
    if not len(months):
        return {}
    require_exact_arithmetic(contracts, changes, recognition)
    known = pd.Index(contracts["contract_id"].unique())
    # Each record's contract number, looked up once; -1 marks an orphan, which is left out.
    change_contract = known.get_indexer(changes["contract_id"])
    line_contract = positions(known, recognition["contract_id"])
    changes = changes[change_contract >= 0]
    change_contract = change_contract[change_contract >= 0]
    lines = line_contract >= 0
    sign = changes["kind"].map({"increase": 1, "decrease": -1, "cancellation": -1})
    event_contract = np.concatenate(
        [known.get_indexer(contracts["contract_id"]), change_contract, line_contract[lines]]
    ).astype(np.int64)
    event_month = np.concatenate(
        [
            contracts["signed_month"].to_numpy(np.int64),
            changes["effective_month"].to_numpy(np.int64),
            recognition["period"].to_numpy(np.int64)[lines],
        ]
    )
    event_amount = np.concatenate(
        [
            contracts["tcv"].to_numpy(np.int64),
            (changes["amount"].fillna(0).astype("int64") * sign).to_numpy(np.int64),
            -recognition["amount"].to_numpy(np.int64)[lines],
        ]
    )
    terminations = changes[(changes["kind"] == "cancellation") & changes["amount"].isna()]
    # Contract and month in one sortable key; months are far below 2**20.
    termination_keys = np.unique(
        known.get_indexer(terminations["contract_id"]).astype(np.int64) << 20
        | terminations["effective_month"].to_numpy(np.int64)
    )
    event_keys = event_contract << 20 | event_month
    ended = np.zeros(len(event_keys), dtype=bool)
    taken_back = np.zeros(len(event_keys), dtype=np.int64)
    if len(termination_keys):
        following = termination_keys.searchsorted(event_keys, "left")
        candidate = termination_keys[np.minimum(following, len(termination_keys) - 1)]
        ended = (following < len(termination_keys)) & (candidate >> 20 == event_contract)
        taken_back = candidate & ((1 << 20) - 1)
    # Sum every move into its month (exact int64), then closings are running sums.
    move_month = np.concatenate([event_month, taken_back[ended]])
    move_amount = np.concatenate([event_amount, -event_amount[ended]])
    if not len(move_month):
        return {int(month): 0 for month in months}
    base = int(move_month.min())
    by_month = np.zeros(int(move_month.max()) - base + 1, dtype=np.int64)
    np.add.at(by_month, move_month - base, move_amount)
    upto = np.clip(np.asarray(months, dtype=np.int64) - base + 1, 0, len(by_month))
    values = np.concatenate([[0], np.cumsum(by_month)])
    return {int(month): int(values[at]) for month, at in zip(months, upto, strict=True)}
