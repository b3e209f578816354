"""Closing backlog at a month end straight from the source records (SPEC's second route).

Deliberately written apart from the month-by-month roll-forward: it sums every event on
or before the month end, starting after the contract's last termination, with no running
totals. Where both routes agree to the cent, neither has dropped or doubled an event.
"""

from __future__ import annotations

import pandas as pd

from backlog_pipeline.accounting.activity import known_contract_rows


def closing_as_of(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame, month: int
) -> pd.Series:
    """Closing backlog in cents per contract at the end of ``month`` (contracts with events)."""
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
    return int(closing_as_of(contracts, changes, recognition, month).sum())
