"""The synthetic company drawn with numpy from one seed: contracts, changes, recognition.

Month by month over all contracts at once, so a million contracts and their fifteen
million recognition lines take a minute or two. Clean by construction: recognition follows
each contract's remaining value over its term (never before the start, never after a
termination, never above the value), partial cancellations and decreases take a share of
what is left, and every amount is a whole number of cents. The order of the draws is the
company: the same seed (and numpy) gives the same company.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backlog_pipeline.money import percent_of, units_to_cents
from backlog_pipeline.periods import first_days

# (share of contracts, months of service, months from signing to start): the demo's mix
# with more multi-year contracts. With the bundles below, a contract has about 15 lines.
_TERMS = (
    (0.20, (12,), (0,)),  # monthly-billed
    (0.25, (12, 24), (0, 1)),  # annual and two-year
    (0.40, (24, 36, 48), (0, 1)),  # multi-year
    (0.10, (12, 24), (2, 3, 4)),  # future-start
    (0.05, (1, 2, 3), (0, 1)),  # one-off
)
_ONE_OFF = 4
_MONTHLY_FEES = units_to_cents(np.array([500, 750, 1000, 1500, 2500, 4000, 8000], dtype=np.int64))
_CHANGE_RATE = 0.035  # chance of a change in a month of service after the signing month
_CHANGE_WEIGHTS = (0.40, 0.25, 0.15, 0.20)  # increase, decrease, partial and full cancellation
_BUNDLE_RATE = 0.20  # contracts with two performance obligations: two lines a month
_REVERSAL_RATE = 0.01  # share of recognition lines posted as a larger line and a reversal

_CHANGE_FIELDS = ("change_contract", "change_month", "change_day", "change_kind", "change_amount")
_LINE_FIELDS = ("line_contract", "line_month", "line_amount")


@dataclass
class Ledger:
    """The drawn company, every column a numpy array."""

    signed_month: np.ndarray
    signed_day: np.ndarray
    start_month: np.ndarray
    end_month: np.ndarray
    tcv: np.ndarray
    customer: np.ndarray
    product: np.ndarray
    segment: np.ndarray
    region: np.ndarray
    change_contract: np.ndarray
    change_month: np.ndarray
    change_day: np.ndarray
    change_kind: np.ndarray
    change_amount: np.ndarray  # -1: none (a full termination)
    line_contract: np.ndarray
    line_month: np.ndarray
    line_amount: np.ndarray


def _days_in(months: np.ndarray) -> np.ndarray:
    return (first_days(months + 1) - first_days(months)).astype(np.int64)


def _day_in(months: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(months)) * _days_in(months)).astype(np.int64)


def _draw_contracts(n: int, first: int, last: int, rng: np.random.Generator) -> dict:
    """The contracts' columns, sorted by signing."""
    signed_month = np.sort(rng.integers(first, last + 1, n))
    signed_day = _day_in(signed_month, rng)
    order = np.lexsort((signed_day, signed_month))
    signed_month, signed_day = signed_month[order], signed_day[order]
    term_kind = rng.choice(len(_TERMS), size=n, p=[t[0] for t in _TERMS])
    term = np.zeros(n, dtype=np.int64)
    delay = np.zeros(n, dtype=np.int64)
    for kind, (_, lengths, delays) in enumerate(_TERMS):
        chosen = term_kind == kind
        term[chosen] = rng.choice(np.array(lengths), size=int(chosen.sum()))
        delay[chosen] = rng.choice(np.array(delays), size=int(chosen.sum()))
    start_month = signed_month + delay
    fee = rng.choice(_MONTHLY_FEES, size=n)
    one_off = term_kind == _ONE_OFF
    one_off_value = units_to_cents(rng.integers(5_000, 60_000, n)) + rng.choice(
        [0, 25, 50, 99], size=n
    )
    return {
        "signed_month": signed_month,
        "signed_day": signed_day,
        "start_month": start_month,
        "end_month": start_month + term - 1,
        "tcv": np.where(one_off, one_off_value, fee * term),
        "customer": rng.integers(1, max(n // 8, 2), n),
        "product": np.where(one_off, 2, rng.integers(0, 2, n)),
        "segment": rng.integers(0, 3, n),
        "region": rng.integers(0, 3, n),
    }


def _simulate(contracts: dict, first: int, last: int, rng: np.random.Generator) -> tuple:
    """Month by month over all contracts: the changes drawn and the lines recognized."""
    signed_month, start_month, end_month = (
        contracts["signed_month"], contracts["start_month"], contracts["end_month"]
    )  # fmt: skip
    remaining = contracts["tcv"].copy()
    terminated = np.zeros(len(remaining), dtype=bool)
    changes: list[tuple[np.ndarray, ...]] = []
    lines: list[tuple[np.ndarray, ...]] = []
    for month in range(first, last + 1):
        # Contracts are sorted by signing: those signed by this month are a prefix.
        signed = int(np.searchsorted(signed_month, month, side="right"))
        alive = ~terminated[:signed] & (month <= end_month[:signed])
        candidates = np.flatnonzero(
            alive & (month > signed_month[:signed]) & (remaining[:signed] > 0)
        )
        drawn = candidates[rng.random(len(candidates)) < _CHANGE_RATE]
        kind = rng.choice(4, size=len(drawn), p=_CHANGE_WEIGHTS)
        share = np.where(
            kind == 0, rng.integers(10, 40, len(drawn)), rng.integers(5, 40, len(drawn))
        )
        amount = percent_of(remaining[drawn], share)
        amount = np.where(kind == 3, -1, amount)
        remaining[drawn] += np.where(kind == 0, amount, np.where(kind == 3, 0, -amount))
        changes.append((drawn, np.full(len(drawn), month), _day_in(np.full(len(drawn), month), rng),
                        kind, amount))  # fmt: skip

        serving = np.flatnonzero(alive & (month >= start_month[:signed]) & (remaining[:signed] > 0))
        months_left = end_month[serving] - month + 1
        recognized = np.where(
            months_left == 1, remaining[serving], remaining[serving] // months_left
        )
        remaining[serving] -= recognized
        lines.append((serving, np.full(len(serving), month), recognized))
        terminated[drawn[kind == 3]] = True
    return (
        tuple(np.concatenate(column) for column in zip(*changes, strict=True)),
        tuple(np.concatenate(column) for column in zip(*lines, strict=True)),
    )


def _split_and_correct(
    line_contract: np.ndarray,
    line_month: np.ndarray,
    line_amount: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bundles in two lines a month, and some lines posted larger and reversed in part."""
    # Bundles recognize each month's amount in two lines, one per performance obligation.
    bundle = rng.random(n) < _BUNDLE_RATE
    split = np.flatnonzero(bundle[line_contract] & (line_amount >= 2))
    second = line_amount[split] - line_amount[split] // 2
    line_amount = line_amount.copy()
    line_amount[split] -= second
    line_contract = np.insert(line_contract, split + 1, line_contract[split])
    line_month = np.insert(line_month, split + 1, line_month[split])
    line_amount = np.insert(line_amount, split + 1, second)
    # Corrections: some lines are posted as a larger amount and a reversal in the same month.
    corrected = np.flatnonzero(rng.random(len(line_amount)) < _REVERSAL_RATE)
    reversal = line_amount[corrected] // 3 + 1
    line_amount[corrected] += reversal
    at = corrected + 1  # each reversal right after its line
    line_contract = np.insert(line_contract, at, line_contract[corrected])
    line_month = np.insert(line_month, at, line_month[corrected])
    line_amount = np.insert(line_amount, at, -reversal)
    return line_contract, line_month, line_amount


def draw(n: int, first: int, months: int, rng: np.random.Generator) -> Ledger:
    """A company of ``n`` contracts signed over ``months`` months from ``first`` (an index)."""
    last = first + months - 1
    contracts = _draw_contracts(n, first, last, rng)
    changes, lines = _simulate(contracts, first, last, rng)
    lines = _split_and_correct(*lines, n, rng)
    return Ledger(
        **contracts,
        **dict(zip(_CHANGE_FIELDS, changes, strict=True)),
        **dict(zip(_LINE_FIELDS, lines, strict=True)),
    )
