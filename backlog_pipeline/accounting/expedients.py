"""What the disclosed RPO leaves out: the practical expedients a company elects, stated.

ASC 606-10-50-14(a) and IFRS 15.121(a) let a company leave out of the disclosure the
performance obligations of contracts whose original expected duration is one year or less.
Other expedients (ASC 606-10-50-14(b) and 50-14A, IFRS 15.121(b)) depend on facts the
pipeline does not hold, so the company names those contracts itself, with a reason.

The bookings backlog flow is never reduced: the disclosed RPO is published beside it as
closing − excluded, and every excluded amount is listed (the exclusion register).

Decisions:

- "One year or less" in calendar terms: the end date is no later than the day before the
  first anniversary of the date the term runs from (2023-07-01 to 2024-06-30 is one year;
  to 2024-07-01 is a year and a day). The first anniversary of 29 February is 1 March of
  the next year, so a term from 2024-02-29 to 2025-02-28 is one year.
- The term runs from the start date (``duration_from="start"``, the default) or the signed
  date (``"signed"``). A contract without a start date is measured from its signed date:
  the term cannot begin before the signature, so this never shortens a duration and never
  excludes a contract that measuring from a later start would keep.
- No end date: the duration is not known, the contract is not excluded.
- An end date before the date the term runs from contradicts itself: not excluded (the
  timing calls its backlog undated); the data is what needs fixing.
- A contract both short and flagged carries both reasons, the flag's first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.lookup import (
    RowContracts,
    UnknownContractError,
    datetimes,
    month_slots,
    row_contracts,
    unique_contracts,
)
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label

DURATION_FROM = ("start", "signed")
SHORT_CONTRACT_REASON = (
    "original expected duration of one year or less (ASC 606-10-50-14(a), IFRS 15.121(a))"
)
EXCLUSION_COLUMNS = ("contract_id", "reason")
REGISTER_COLUMNS = ("period", "contract_id", "amount", "reason")
MONTH_COLUMNS = ("period", "closing", "excluded", "disclosed")


@dataclass(frozen=True)
class Exclusions:
    """``excluded``: per contract row (input order), whether it is left out of the disclosed
    RPO; ``register``: ``REGISTER_COLUMNS`` for the excluded rows holding backlog (amount in
    cents, ≠ 0); ``by_month``: ``MONTH_COLUMNS`` in cents, closing − excluded = disclosed."""

    excluded: np.ndarray
    register: pd.DataFrame
    by_month: pd.DataFrame


def one_year_or_less(contracts: pd.DataFrame, duration_from: str = "start") -> pd.Series:
    """Per contract (indexed by ``contract_id``): whether its original expected duration is
    one year or less, measured as the module docstring says."""
    if duration_from not in DURATION_FROM:
        raise ValueError(f"duration_from must be one of {DURATION_FROM}, not {duration_from!r}")
    table = unique_contracts(contracts)
    signed = datetimes(table["signed_date"])
    begins = signed if duration_from == "signed" else datetimes(table["start_date"]).fillna(signed)
    day = begins.to_numpy(dtype="datetime64[D]")
    month = day.astype("datetime64[M]")
    # The same day a year on; a day that month lacks (29 February) rolls into the next.
    anniversary = (month + 12).astype("datetime64[D]") + (day - month.astype("datetime64[D]"))
    end = datetimes(table["end_date"]).to_numpy(dtype="datetime64[D]")
    short = (end >= day) & (end <= anniversary - np.timedelta64(1, "D"))  # NaT compares False
    return pd.Series(short, index=table.index, name="one_year_or_less")


def contract_exclusions(
    contracts: pd.DataFrame,
    *,
    short_contract_expedient: bool,
    duration_from: str = "start",
    flagged: pd.Series | None = None,
) -> pd.DataFrame:
    """``EXCLUSION_COLUMNS``, one row per contract left out of the disclosed RPO.

    ``short_contract_expedient``: whether the company elects ASC 606-10-50-14(a) /
    IFRS 15.121(a). ``flagged``: optional reasons by contract id for contracts the company
    leaves out under another expedient; blank or missing means not flagged. A flag naming
    no known contract is an error, not ignored: it would leave the RPO silently too high.
    """
    table = unique_contracts(contracts)
    reasons = pd.Series("", index=table.index, dtype=object)
    if flagged is not None:
        given = flagged.astype("string").str.strip()
        given = given[given.notna() & (given != "")]
        unknown = given.index.difference(table.index)
        if len(unknown):
            raise UnknownContractError(
                f"excluded-contract flags: {len(unknown)} flag(s) name a contract that is not in "
                f"the contracts table, the first {unknown[0]!r}"
            )
        reasons[given.index] = given.astype(object)
    if short_contract_expedient:
        short = one_year_or_less(table, duration_from)
        flag_first = reasons[short].where(reasons[short] == "", reasons[short] + "; ")
        reasons[short] = flag_first + SHORT_CONTRACT_REASON
    excluded = reasons[reasons != ""]
    return pd.DataFrame(
        {"contract_id": excluded.index.to_numpy(), "reason": excluded.to_numpy()}, copy=False
    )


def apply_exclusions(
    contract_rows: pd.DataFrame,
    exclusions: pd.DataFrame,
    contracts: pd.DataFrame | RowContracts,
    *,
    amount_column: str = "closing",
    months: list[int] | None = None,
) -> Exclusions:
    """Leave the excluded contracts' rows out of the disclosed RPO (the rows stay whole).

    ``contract_rows``: ``period, contract_id`` and ``amount_column`` in cents;
    ``exclusions``: from :func:`contract_exclusions`; ``contracts``: the contracts table, or
    a ``RowContracts`` of these rows; ``months``: the months of ``by_month`` (default: those
    of the rows).
    """
    lookup = row_contracts(contract_rows, contracts)
    period = contract_rows["period"].to_numpy(np.int64)
    amount = contract_rows[amount_column].to_numpy(np.int64)
    at = lookup.table.index.get_indexer(exclusions["contract_id"].to_numpy())
    if (at < 0).any():
        unknown = exclusions["contract_id"].to_numpy()[at < 0][0]
        raise UnknownContractError(f"exclusions: no contract {unknown!r} in the contracts table")
    reason_of_contract = np.full(len(lookup.table), None, dtype=object)
    reason_of_contract[at] = exclusions["reason"].to_numpy()
    excluded_contract = np.zeros(len(lookup.table), dtype=bool)
    excluded_contract[at] = True
    excluded = excluded_contract[lookup.positions]
    listed = np.flatnonzero(excluded & (amount != 0))
    register = pd.DataFrame(
        {
            "period": period[listed],
            "contract_id": contract_rows["contract_id"].to_numpy()[listed],
            "amount": amount[listed],
            "reason": reason_of_contract[lookup.positions[listed]],
        }
    )
    month_array, position = month_slots(period, months, "apply_exclusions")
    closing = np.zeros(len(month_array), dtype=np.int64)
    left_out = np.zeros(len(month_array), dtype=np.int64)
    np.add.at(closing, position, amount)
    np.add.at(left_out, position[excluded], amount[excluded])
    by_month = pd.DataFrame(
        {
            "period": month_array,
            "closing": closing,
            "excluded": left_out,
            "disclosed": closing - left_out,
        }
    )
    return Exclusions(excluded, register, by_month)


def exclusion_discrepancies(
    by_month: pd.DataFrame, register: pd.DataFrame, flow: pd.DataFrame
) -> list[dict[str, str]]:
    """Months where closing − excluded ≠ disclosed, the closing is not the flow's, or the
    excluded amount is not the register's sum (the blocking check of the disclosed RPO)."""
    flow_closing = dict(zip(flow["period"].astype(int), flow["closing"].astype(int), strict=True))
    listed = register.groupby("period")["amount"].sum()
    found = []
    for month in by_month.itertuples(index=False):
        period = int(month.period)
        checks = {
            "closing − excluded = disclosed": (
                int(month.closing) - int(month.excluded),
                int(month.disclosed),
            ),
            "closing = the flow's closing": (int(month.closing), flow_closing.get(period, 0)),
            "excluded = Σ exclusion register": (int(month.excluded), int(listed.get(period, 0))),
        }
        for identity, (left, right) in checks.items():
            if left != right:
                found.append(
                    {
                        "period": month_label(period),
                        "problem": f"{identity} does not hold",
                        "left": format_cents(left),
                        "right": format_cents(right),
                        "difference": format_cents(left - right),
                    }
                )
    return found
