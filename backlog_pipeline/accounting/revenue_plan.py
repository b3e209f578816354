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

    keys: np.ndarray  # contract position * span + (period - base)
    period: np.ndarray
    amount: np.ndarray
    cumulative: np.ndarray  # prefix sums of amount, one longer
    negatives: np.ndarray  # prefix counts of negative lines, one longer
    base: int
    span: int
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
        span = int(period.max()) - base + 2 if len(period) else 2
        keys = contract * span + (period - base)
        order = np.argsort(keys, kind="stable")
        keys, period, amount, contract = keys[order], period[order], amount[order], contract[order]
        _refuse_oversized_totals(contract, amount, known)
        cumulative = np.concatenate(([0], np.cumsum(amount)))
        negatives = np.concatenate(([0], np.cumsum(amount < 0)))
        unknown = int((~found).sum())
        return cls(keys, period, amount, cumulative, negatives, base, span, unknown)

    def remaining(
        self, contract: np.ndarray, month: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each (contract position, month end): where its plan lines start, and the range
        ``lo:hi`` of those after the month (``start == hi``: the contract has no plan)."""
        first = contract * self.span
        after = np.clip(month - self.base, -1, self.span - 1)
        start = np.searchsorted(self.keys, first, side="left")
        lo = np.searchsorted(self.keys, first + after, side="right")
        hi = np.searchsorted(self.keys, first + self.span - 1, side="right")
        return start, lo, hi

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
    """Each row's ``amount`` split over its entries in proportion to ``weight`` (whose sum per
    row is ``total`` > 0; weights ≥ 0), exactly: ``amount·weight/total`` rounded down, then the
    cents left over one each to the largest remainders, ties to the earlier entry.

    ``row`` (nondecreasing) names each entry's row; a row's entries are in month order.
    Products above int64 (amounts and weights up to 10^18 cents each) take an exact
    Python-integer path, entry by entry; the rest is vectorised.
    """
    entry_amount, entry_total = amount[row], total[row]
    part = weight.copy()  # exact where the amount is the plan total
    remainder = np.zeros(len(weight), dtype=np.int64)
    scaled = entry_amount != entry_total
    fits = scaled & (weight <= _INT64_MAX // np.maximum(entry_amount, 1))
    product = entry_amount[fits] * weight[fits]
    part[fits], remainder[fits] = np.divmod(product, entry_total[fits])
    large = np.flatnonzero(scaled & ~fits)
    if len(large):
        exact = entry_amount[large].astype(object) * weight[large].astype(object)
        part[large] = (exact // entry_total[large].astype(object)).astype(np.int64)
        remainder[large] = (exact % entry_total[large].astype(object)).astype(np.int64)
    placed = np.zeros(len(amount), dtype=np.int64)
    np.add.at(placed, row, part)
    short = amount - placed  # cents still to place: fewer than the row's entries
    if not short.any():
        return part
    order = np.lexsort((-remainder, row))  # stable: equal remainders keep month order
    segment_start = np.searchsorted(row, row)
    rank = np.arange(len(row)) - segment_start[order]
    part[order] += rank < short[row[order]]
    return part


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
