"""The ERP's revenue plan as a schedule: a contract's plan lines after a month end, and a
backlog spread over them in proportion, placed to the cent by largest remainder.

The plan (canonical ``contract_id, period, amount``: revenue scheduled and not yet
recognized, in cents, in the contract's own currency) is held sorted by contract and month,
so "the lines of contract c after month M" is two binary searches and their total is a
difference of prefix sums, for millions of contract rows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backlog_pipeline.money import MAX_ABS_CENTS, format_cents
from backlog_pipeline.periods import month_label

PLAN_COLUMNS = ("contract_id", "period", "amount")
_INT64_MAX = np.iinfo(np.int64).max


class PlanError(ValueError):
    """A revenue plan that cannot be used as a whole (a missing column, a total too large)."""


@dataclass(frozen=True)
class RevenuePlan:
    """Plan lines of known contracts, ordered by contract position, then month."""

    first_line: np.ndarray  # per contract position, where its lines start (one longer)
    period: np.ndarray
    amount: np.ndarray
    cumulative: np.ndarray  # prefix sums of amount, one longer
    negatives: np.ndarray  # prefix counts of negative lines, one longer
    unknown_contract_lines: int  # lines naming no known contract, left out

    @classmethod
    def of(cls, plan: pd.DataFrame, known: pd.Index) -> RevenuePlan:
        """The plan of the contracts in ``known`` (positions as in ``known``)."""
        missing = [column for column in PLAN_COLUMNS if column not in plan.columns]
        if missing:
            raise PlanError(f"revenue plan: the column(s) {', '.join(missing)} are missing")
        contract = known.get_indexer(plan["contract_id"].to_numpy())
        found = contract >= 0
        period = plan["period"].to_numpy(np.int64)[found]
        amount = plan["amount"].to_numpy(np.int64)[found]
        contract = contract[found].astype(np.int64)
        base = int(period.min()) if len(period) else 0
        span = int(period.max()) - base + 1 if len(period) else 1
        order = np.argsort(contract * span + (period - base), kind="stable")
        period, amount, contract = period[order], amount[order], contract[order]
        _refuse_oversized_totals(contract, amount, known)
        lines = np.bincount(contract, minlength=len(known))
        return cls(
            np.concatenate(([0], np.cumsum(lines))),
            period,
            amount,
            np.concatenate(([0], np.cumsum(amount))),
            np.concatenate(([0], np.cumsum(amount < 0))),
            int((~found).sum()),
        )

    def remaining(
        self, contract: np.ndarray, month: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each (contract position, month end): where its plan lines start, and the range
        ``lo:hi`` of those after the month (``start == hi``: the contract has no plan).

        A binary search within each contract's own few lines, all rows at once: a handful of
        steps, instead of a search of the whole plan per row.
        """
        start, hi = self.first_line[contract], self.first_line[contract + 1]
        lo, high = start.copy(), hi.copy()
        last = max(len(self.period) - 1, 0)
        while True:
            open_ = lo < high
            if not open_.any():
                return start, lo, hi
            middle = (lo + high) >> 1
            later = self.period[np.minimum(middle, last)] > month
            high = np.where(open_ & later, middle, high)
            lo = np.where(open_ & ~later, middle + 1, lo)

    def totals(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sum of the lines ``lo:hi``, and how many of them are negative."""
        return self.cumulative[hi] - self.cumulative[lo], self.negatives[hi] - self.negatives[lo]


def _refuse_oversized_totals(contract: np.ndarray, amount: np.ndarray, known: pd.Index) -> None:
    """A contract's plan must fit NUMERIC(18,2) in absolute terms, which also keeps every
    prefix-sum difference exact in int64."""
    if not len(amount):
        return
    starts = np.flatnonzero(np.concatenate(([True], contract[1:] != contract[:-1])))
    rough = np.add.reduceat(np.abs(amount).astype(np.float64), starts)
    for start in starts[rough > MAX_ABS_CENTS / 2]:  # rare: checked exactly
        lines = amount[start : np.searchsorted(contract, contract[start], side="right")]
        if sum(abs(int(line)) for line in lines) > MAX_ABS_CENTS:
            raise PlanError(
                f"revenue plan: the lines of contract {known[contract[start]]!r} total more "
                "than NUMERIC(18,2) holds"
            )


def spread(
    amount: np.ndarray, total: np.ndarray, weight: np.ndarray, row: np.ndarray
) -> np.ndarray:
    """Each row's ``amount`` (> 0) split over its entries in proportion to ``weight`` (whose
    sum per row is ``total`` > 0; weights ≥ 0), exactly: ``amount·weight/total`` rounded
    down, then the cents left over one each to the largest remainders, ties to the earlier
    entry.

    ``row`` (nondecreasing) names each entry's row; a row's entries are in month order.
    A row where ``amount·total`` exceeds int64 (amounts and totals reach 10^18 cents) takes
    an exact Python-integer path, entry by entry; the rest is vectorised.
    """
    scaled_row = amount != total
    exact_row = scaled_row & (amount > _INT64_MAX // total)  # weight ≤ total: this suffices
    part = weight.copy()  # exact where the amount is the plan total
    remainder = np.zeros(len(weight), dtype=np.int64)
    vector = (scaled_row & ~exact_row)[row]
    entry_total = total[row[vector]]
    part[vector], remainder[vector] = np.divmod(amount[row[vector]] * weight[vector], entry_total)
    large = np.flatnonzero(exact_row[row])
    if len(large):
        product = amount[row[large]].astype(object) * weight[large].astype(object)
        part[large] = (product // total[row[large]].astype(object)).astype(np.int64)
        remainder[large] = (product % total[row[large]].astype(object)).astype(np.int64)
    placed = np.zeros(len(amount), dtype=np.int64)
    np.add.at(placed, row, part)
    short = amount - placed  # cents still to place: fewer than the row's entries
    if short.any():
        order = _by_row_then_remainder(row, remainder, int(total.max()))
        entries = np.bincount(row, minlength=len(amount))
        first_entry = np.cumsum(entries) - entries
        rank = np.arange(len(row)) - first_entry[row[order]]
        part[order] += rank < short[row[order]]
    return part


def _by_row_then_remainder(row: np.ndarray, remainder: np.ndarray, largest: int) -> np.ndarray:
    """Entries ordered by row, then remainder descending, then entry (stable)."""
    row_bits = max(int(row[-1]).bit_length(), 1)
    if largest <= 1 << (63 - row_bits):  # one packed key: remainders are below the total
        room = 63 - row_bits
        return np.argsort((row << room) | ((1 << room) - 1 - remainder), kind="stable")
    return np.lexsort((-remainder, row))


PLAN_REPORT_COLUMNS = (
    "period", "contract_id", "plan_total", "backlog", "difference", "action", "reason",
)  # fmt: skip


def describe(report_row: pd.Series) -> str:
    """One plan-report row as a sentence, for a WARN."""
    return (
        f"{month_label(int(report_row['period']))} contract {report_row['contract_id']}: plan "
        f"{format_cents(int(report_row['plan_total']))} vs backlog "
        f"{format_cents(int(report_row['backlog']))} (difference "
        f"{format_cents(int(report_row['difference']))}): {report_row['reason']}"
    )
