"""SPEC's data errors ("Data errors are surfaced, never hidden"), each found by one function.

Every function returns the offending records as an *exceptions frame*: one row per record
with the period it lands in (month index, or null), the source it came from, its record and
contract ids, the amount in cents where one applies, and a reason a person can act on.
Nothing here decides what is fatal; the Dagster layer gives each finding its severity.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.lookup import positions as id_positions
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_indices, month_label

_HASHED_FROM = 100_000  # ids from which hashing and sorting beats a hash table
EXCEPTION_COLUMNS = ("period", "source", "record_id", "contract_id", "amount", "reason")


def empty_exceptions() -> pd.DataFrame:
    return _exceptions([], "", [], [], [], [])


def _exceptions(
    periods: object,
    source: str,
    record_ids: object,
    contract_ids: object,
    amounts: object,
    reasons: object,
) -> pd.DataFrame:
    reasons = list(reasons)
    frame = pd.DataFrame(
        {
            "period": pd.array(list(periods), dtype="Int64"),
            "source": [source] * len(reasons),
            "record_id": pd.Series(list(record_ids), dtype=object),
            "contract_id": pd.Series(list(contract_ids), dtype=object),
            "amount": pd.array(list(amounts), dtype="Int64"),
            "reason": pd.Series(reasons, dtype=object),
        }
    )
    return frame[list(EXCEPTION_COLUMNS)]


def _label(month: object) -> str:
    return "an unknown month" if pd.isna(month) else month_label(int(month))


def duplicate_ids(
    frame: pd.DataFrame, id_column: str, source: str, period_column: str, amount_column: str
) -> pd.DataFrame:
    """Every record whose id is not unique: all copies are listed, since any may be the bad one."""
    repeated = frame[repeated_values(frame[id_column])]
    counts = repeated[id_column].map(repeated[id_column].value_counts())
    return _exceptions(
        repeated[period_column],
        source,
        repeated[id_column],
        repeated["contract_id"],
        repeated[amount_column].astype("Int64"),
        [
            f"{id_column} {record_id!r} appears {int(count)} times"
            for record_id, count in zip(repeated[id_column], counts, strict=True)
        ],
    )


def repeated_values(values: pd.Series) -> np.ndarray:
    """Which values occur more than once (every copy), exactly.

    Fifteen million ids in a hash table take long; their 64-bit hashes sort quickly. Values
    whose hash is unique are unique; the few that share a hash are compared as they are.
    """
    if len(values) < _HASHED_FROM:
        return values.duplicated(keep=False).to_numpy()
    hashed = pd.util.hash_array(values.to_numpy(), categorize=False)
    ordered = np.sort(hashed)
    shared = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    repeated = np.zeros(len(values), dtype=bool)
    if not len(shared):
        return repeated
    at = np.minimum(shared.searchsorted(hashed), len(shared) - 1)
    candidates = np.flatnonzero(shared[at] == hashed)
    repeated[candidates] = values.iloc[candidates].duplicated(keep=False).to_numpy()
    return repeated


def negative_tcv(contracts: pd.DataFrame, source: str) -> pd.DataFrame:
    negative = contracts[contracts["tcv"] < 0]
    return _exceptions(
        negative["signed_month"],
        source,
        negative["contract_id"],
        negative["contract_id"],
        negative["tcv"],
        [f"TCV {format_cents(int(tcv))} is negative" for tcv in negative["tcv"]],
    )


def unknown_currencies(
    contracts: pd.DataFrame, source: str, known: Collection[str]
) -> pd.DataFrame:
    """Contracts in a code that is not ISO 4217: their amounts are in no known unit.

    Any ISO currency is converted (with the rates the close reads); the reporting
    currency needs none.
    """
    wrong = contracts[~contracts["currency"].isin(list(known))]
    return _exceptions(
        wrong["signed_month"],
        source,
        wrong["contract_id"],
        wrong["contract_id"],
        wrong["tcv"],
        [f"currency {code!r} is not an ISO 4217 code" for code in wrong["currency"]],
    )


def ledger_amount_mismatches(
    recognition: pd.DataFrame, contracts: pd.DataFrame, reporting_currency: str, source: str
) -> pd.DataFrame:
    """Lines of reporting-currency contracts whose ledger amount (``amount_reporting``)
    differs from their ``amount``: the same money twice, and not the same. The close uses
    ``amount``; the amount listed is the ledger's excess over it."""
    if "amount_reporting" not in recognition:
        return empty_exceptions()
    in_reporting = recognition["contract_id"].isin(
        contracts.loc[contracts["currency"] == reporting_currency, "contract_id"]
    )
    carried = recognition["amount_reporting"].notna()
    lines = recognition[(in_reporting & carried).to_numpy()]
    ledger = lines["amount_reporting"].astype("int64")
    differ = lines[(ledger != lines["amount"]).to_numpy()]
    ledger = ledger[differ.index]
    return _exceptions(
        differ["period"],
        source,
        differ["line_id"],
        differ["contract_id"],
        ledger - differ["amount"],
        [
            f"a {reporting_currency} contract's line has amount_reporting "
            f"{format_cents(int(booked))} but amount {format_cents(int(amount))}; the close "
            "uses amount"
            for booked, amount in zip(ledger, differ["amount"], strict=True)
        ],
    )


@dataclass(frozen=True)
class ContractLookup:
    """The contracts' distinct ids, and for each record its contract's position among them
    (-1 for none): found once and shared by the checks of fifteen million lines."""

    known: pd.Index
    positions: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, contracts: pd.DataFrame) -> ContractLookup:
        known = pd.Index(contracts["contract_id"].unique())
        return cls(known, id_positions(known, frame["contract_id"]))

    def per_record(self, by_contract: pd.Series, frame: pd.DataFrame) -> pd.Series:
        """``frame["contract_id"].map(by_contract)``, through the positions found once."""
        aligned = by_contract.reindex(self.known).to_numpy(dtype=np.float64, na_value=np.nan)
        found = self.positions >= 0
        values = np.full(len(frame), np.nan)
        values[found] = aligned[self.positions[found]]
        mapped = pd.Series(values, index=frame.index)
        if not found.all():  # a record of no known contract: looked up as it is
            mapped[~found] = frame["contract_id"][~found].map(by_contract).astype(np.float64)
        return mapped


def orphans(
    frame: pd.DataFrame,
    contracts: pd.DataFrame,
    source: str,
    id_column: str,
    period_column: str,
    quarantined_contracts: Collection[str] = (),
    lookup: ContractLookup | None = None,
) -> pd.DataFrame:
    """Records for a contract the contracts table does not hold (left out of every figure).

    A contract that was quarantined makes orphans of its records: the reason says so, since
    the fix is in the contract's row, not in these.
    """
    quarantined = set(quarantined_contracts)
    if lookup is not None:
        lost = frame[lookup.positions < 0]
    else:
        lost = frame[~frame["contract_id"].isin(contracts["contract_id"])]
    reasons = [
        f"contract {contract_id!r} was quarantined (see source_quarantine); record left out"
        if contract_id in quarantined
        else f"contract {contract_id!r} is not in the contracts; record left out"
        for contract_id in lost["contract_id"]
    ]
    return _exceptions(
        lost[period_column],
        source,
        lost[id_column],
        lost["contract_id"],
        lost["amount"].astype("Int64"),
        reasons,
    )


def _signing_months(contracts: pd.DataFrame) -> pd.Series:
    return contracts.groupby("contract_id")["signed_month"].min()


def _termination_months(changes: pd.DataFrame) -> pd.DataFrame:
    """The first termination (cancellation without an amount) of each contract."""
    terminations = changes[(changes["kind"] == "cancellation") & changes["amount"].isna()]
    first = terminations.sort_values(["effective_month", "change_id"]).drop_duplicates(
        "contract_id"
    )
    return first.set_index("contract_id")[["effective_month", "change_id"]]


def recognition_before_signing(
    recognition: pd.DataFrame,
    contracts: pd.DataFrame,
    source: str,
    lookup: ContractLookup | None = None,
) -> pd.DataFrame:
    if lookup is not None:
        signed = lookup.per_record(_signing_months(contracts), recognition)
    else:
        signed = recognition["contract_id"].map(_signing_months(contracts))
    early = recognition[signed.notna() & (recognition["period"] < signed)]
    return _exceptions(
        early["period"],
        source,
        early["line_id"],
        early["contract_id"],
        early["amount"],
        [
            f"recognized in {_label(period)}, before the contract was signed in {_label(month)}"
            for period, month in zip(early["period"], signed[early.index], strict=True)
        ],
    )


def recognition_after_termination(
    recognition: pd.DataFrame,
    changes: pd.DataFrame,
    source: str,
    lookup: ContractLookup | None = None,
) -> pd.DataFrame:
    terminated = _termination_months(changes)
    if lookup is not None:
        month = lookup.per_record(terminated["effective_month"], recognition)
    else:
        month = recognition["contract_id"].map(terminated["effective_month"])
    late = recognition[month.notna() & (recognition["period"] > month)]
    change_id = late["contract_id"].map(terminated["change_id"])
    return _exceptions(
        late["period"],
        source,
        late["line_id"],
        late["contract_id"],
        late["amount"],
        [
            f"recognized in {_label(period)}, after the contract was terminated in "
            f"{_label(ended)} (change {change!r})"
            for period, ended, change in zip(
                late["period"], month[late.index], change_id, strict=True
            )
        ],
    )


def over_recognition(contract_rows: pd.DataFrame, source: str) -> pd.DataFrame:
    """Contract months whose backlog is negative: reported as it is, never clamped."""
    negative = contract_rows[contract_rows["closing"] < 0]
    return _exceptions(
        negative["period"],
        source,
        negative["contract_id"],
        negative["contract_id"],
        negative["closing"],
        [
            f"closing backlog {format_cents(int(closing))} is negative: more recognized (or "
            "taken off) than the contract is worth"
            for closing in negative["closing"]
        ],
    )


def phantom_backlog(
    contract_rows: pd.DataFrame, contracts: pd.DataFrame, changes: pd.DataFrame, source: str
) -> pd.DataFrame:
    """Backlog still held a whole month after the contract's end date, not terminated.

    The end month itself is allowed: its last recognition may close the contract that month.
    Only a termination (a cancellation without an amount) clears a contract from its month
    on; a partial cancellation does not, however small (SPEC), since what it leaves is still
    held past the end. A cancellation that leaves nothing needs no exemption: the closing is 0.
    """
    end = contracts.drop_duplicates("contract_id").set_index("contract_id")["end_date"]
    end_month = month_indices(end).astype("Int64")
    # Millions of rows: positive closings past an end month are found on plain arrays with
    # one lookup each, and only those few are checked against the cancellations.
    positive = np.flatnonzero(contract_rows["closing"].to_numpy(np.int64) > 0)
    ends = end_month.to_numpy(dtype=np.float64, na_value=np.nan)
    at = end_month.index.get_indexer(contract_rows["contract_id"].to_numpy()[positive])
    row_end = ends[at] if len(ends) else np.full(len(at), np.nan)
    row_end[at < 0] = np.nan
    past_end = positive[row_end < contract_rows["period"].to_numpy(np.int64)[positive]]
    rows = contract_rows.iloc[past_end]
    terminated = rows["contract_id"].map(_termination_months(changes)["effective_month"])
    phantom = rows[~(terminated.notna() & (terminated <= rows["period"]))]
    return _exceptions(
        phantom["period"],
        source,
        phantom["contract_id"],
        phantom["contract_id"],
        phantom["closing"],
        [
            f"ended {end[contract_id].date().isoformat()} and still holds "
            f"{format_cents(int(closing))} of backlog without a termination"
            for contract_id, closing in zip(phantom["contract_id"], phantom["closing"], strict=True)
        ],
    )


def oversized_cancellations(
    contract_rows: pd.DataFrame, changes: pd.DataFrame, source: str
) -> pd.DataFrame:
    """Partial cancellations that take off more than the contract had left that month.

    What was left is the month's opening plus its bookings and changes less its recognition,
    as a full termination reckons it; every partial cancellation of that contract-month is
    listed, with the total cancelled and what remained.
    """
    partial = changes[(changes["kind"] == "cancellation") & changes["amount"].notna()]
    if partial.empty or contract_rows.empty:
        return empty_exceptions()
    # Only the contracts with a partial cancellation: a few rows of millions are indexed.
    involved = contract_rows["contract_id"].isin(partial["contract_id"].unique())
    rows = contract_rows[involved.to_numpy(bool)].set_index(["contract_id", "period"])
    remaining = (
        rows["opening"]
        + rows["new_bookings"]
        - rows["converted"]
        + rows["increases"]
        - rows["decreases"]
    )
    keys = pd.MultiIndex.from_arrays([partial["contract_id"], partial["effective_month"]])
    cancelled = partial.groupby(["contract_id", "effective_month"])["amount"].transform("sum")
    left = pd.Series(remaining.reindex(keys).to_numpy(), index=partial.index)
    too_big = partial[left.notna() & (cancelled > left)]
    return _exceptions(
        too_big["effective_month"],
        source,
        too_big["change_id"],
        too_big["contract_id"],
        too_big["amount"].astype("Int64"),
        [
            f"cancels {format_cents(int(amount))} (with this month's other partial "
            f"cancellations {format_cents(int(total))}) but only "
            f"{format_cents(int(before))} of backlog remained in {_label(month)}"
            for amount, total, before, month in zip(
                too_big["amount"],
                cancelled[too_big.index],
                left[too_big.index],
                too_big["effective_month"],
                strict=True,
            )
        ],
    )


def in_scope(exceptions: pd.DataFrame, first: int | None, last: int) -> pd.DataFrame:
    """Findings that touch the months ``first``..``last``; undated ones always do.

    With ``first`` None, everything up to ``last``: a source error in an earlier month
    carries into every later closing, since each month is computed from full history.
    """
    period = exceptions["period"]
    keep = period.isna() | (period <= last)
    if first is not None:
        keep &= period.isna() | (period >= first)
    return exceptions[keep.fillna(True).astype(bool)].reset_index(drop=True)
