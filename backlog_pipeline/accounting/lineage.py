"""The source records behind each contract's figures in each month: the audit trail's last step.

A contract row's new bookings, converted, lost, increases and decreases are sums of these
records (a termination's lost amount is computed, so its record carries no amount); orphans
are not here, since they are in no figure (they are in ``backlog_exceptions``).
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from backlog_pipeline.accounting.activity import known_contract_rows

LINEAGE_COLUMNS = ("period", "contract_id", "figure", "source", "record_id", "amount")
_FIGURE_OF_KIND = {"increase": "increases", "decrease": "decreases", "cancellation": "lost"}


def source_records(
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
    months: Collection[int] | None = None,
) -> pd.DataFrame:
    """One row per source record of a known contract, with the figure it feeds (cents).

    With ``months``, only the records that land in them: a month's close publishes its own
    month's records, not fifteen million lines of history.
    """
    known = contracts
    if months is not None:
        wanted = list(months)
        contracts = contracts[contracts["signed_month"].isin(wanted)]
        changes = changes[changes["effective_month"].isin(wanted)]
        recognition = recognition[recognition["period"].isin(wanted)]
    # Records of a known contract: every contract, not only those signed in ``months``.
    changes = changes[known_contract_rows(changes, known)]
    recognition = recognition[known_contract_rows(recognition, known)]
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
    records = pd.concat([part for part in parts if not part.empty], ignore_index=True)
    if records.empty:
        return pd.DataFrame({column: [] for column in LINEAGE_COLUMNS})
    records["period"] = records["period"].astype("int64")
    return records[list(LINEAGE_COLUMNS)]
