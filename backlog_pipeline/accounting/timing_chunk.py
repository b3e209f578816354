"""One chunk of contract rows through the timing rules of :mod:`timing`, vectorised.

Each row's parts come from closed forms; the month's waterfall is accumulated separately,
straight-line rows as difference arrays (+q from the first month, −q after the last, +1 from
the first month and −1 after the first ``B % n``), plan rows as their placed cents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.revenue_plan import RevenuePlan, spread

PARTS = ("within_12_months", "after_12_months", "undated", "over_recognized")
BASES = (
    "none", "plan", "plan_scaled", "straight_line", "past_end", "undated", "end_before_start",
    "over_recognized",
)  # fmt: skip
_CODE = {name: code for code, name in enumerate(BASES)}
_WIDTH = 38  # waterfall offsets 0..37 after the month end; 37 gathers all after 36 months
_FAR = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class Terms:
    """Per contract position: the start and end months of its term, and which are known."""

    start: np.ndarray
    start_known: np.ndarray
    end: np.ndarray
    end_known: np.ndarray


class Waterfall:
    """Per month and future offset: the amounts placed, exactly, in int64 cents."""

    def __init__(self, months: int) -> None:
        self.steps = np.zeros((months, _WIDTH), dtype=np.int64)  # straight-line differences
        self.placed = np.zeros((months, _WIDTH), dtype=np.int64)
        self.undated = np.zeros(months, dtype=np.int64)
        self.over = np.zeros(months, dtype=np.int64)

    @staticmethod
    def _add(table: np.ndarray, month: np.ndarray, offset: np.ndarray, value: np.ndarray) -> None:
        np.add.at(table.reshape(-1), month * _WIDTH + np.minimum(offset, _WIDTH - 1), value)

    def step(self, month: np.ndarray, offset: np.ndarray, value: np.ndarray) -> None:
        self._add(self.steps, month, offset, value)

    def place(self, month: np.ndarray, offset: np.ndarray, value: np.ndarray) -> None:
        self._add(self.placed, month, offset, value)

    def lines(self) -> np.ndarray:
        """Months × 17: months 1..12, 13–24, 25–36, after 36, undated, over-recognized."""
        per_offset = np.cumsum(self.steps, axis=1) + self.placed
        return np.column_stack(
            [
                per_offset[:, 1:13],
                per_offset[:, 13:25].sum(axis=1),
                per_offset[:, 25:37].sum(axis=1),
                self.placed[:, 37],  # straight-line rows place theirs by closed form
                self.undated,
                self.over,
            ]
        )


@dataclass
class ChunkTiming:
    parts: dict[str, np.ndarray]
    basis: np.ndarray
    reports: list[pd.DataFrame] = field(default_factory=list)  # ``row`` is chunk-local


def _overlap(lo: np.ndarray, hi: np.ndarray, first: int, last: int) -> np.ndarray:
    """How many whole months of ``lo..hi`` fall in ``first..last``."""
    return np.clip(np.minimum(hi, last) - np.maximum(lo, first) + 1, 0, None)


def split_chunk(
    period: np.ndarray,
    position: np.ndarray,
    contract: np.ndarray,
    amount: np.ndarray,
    local: np.ndarray,
    include: np.ndarray,
    terms: Terms,
    plan: RevenuePlan | None,
    waterfall: Waterfall,
) -> ChunkTiming:
    """The parts of each row (see :mod:`timing` for the rules), the waterfall updated with the
    rows in ``include``."""
    rows = len(amount)
    within = np.zeros(rows, dtype=np.int64)
    basis = np.zeros(rows, dtype=np.int8)
    result = ChunkTiming({}, basis)
    planned = np.zeros(rows, dtype=bool)
    if plan is not None:
        planned = _planned(
            period, position, contract, amount, local, include, plan, waterfall, within, result
        )
    rest = (amount > 0) & ~planned
    start, end = terms.start[contract], terms.end[contract]
    end_known = terms.end_known[contract]
    first = np.where(terms.start_known[contract] & (start > period + 1), start, period + 1)
    past_end = rest & end_known & (end <= period)
    straight = rest & end_known & (end >= first)
    undated = rest & ~past_end & ~straight
    over = amount < 0
    basis[past_end] = _CODE["past_end"]
    basis[straight] = _CODE["straight_line"]
    basis[undated] = np.where(end_known[undated], _CODE["end_before_start"], _CODE["undated"])
    basis[over] = _CODE["over_recognized"]
    within[past_end] = amount[past_end]
    shown = past_end & include
    waterfall.place(position[shown], np.ones(int(shown.sum()), np.int64), amount[shown])
    idx = np.flatnonzero(straight)
    within[idx] = _straight_line(
        position[idx],
        first[idx] - period[idx],
        end[idx] - period[idx],
        amount[idx],
        include[idx],
        waterfall,
    )
    dated = planned | past_end | straight
    result.parts = {
        "within_12_months": within,
        "after_12_months": np.where(dated, amount - within, 0),
        "undated": np.where(undated, amount, 0),
        "over_recognized": np.where(over, amount, 0),
    }
    np.add.at(waterfall.undated, position[undated & include], amount[undated & include])
    np.add.at(waterfall.over, position[over & include], amount[over & include])
    return result


def _straight_line(
    position: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    amount: np.ndarray,
    include: np.ndarray,
    waterfall: Waterfall,
) -> np.ndarray:
    """Rows spread over offsets ``first..last`` (months after the month end): their amounts
    within the next 12 months; the waterfall gets the included ones."""
    q, r = np.divmod(amount, last - first + 1)
    extra_last = first + r - 1  # the first r months carry one cent more
    within = q * _overlap(first, last, 1, 12) + _overlap(first, extra_last, 1, 12)
    after_36 = q * _overlap(first, last, 37, _FAR) + _overlap(first, extra_last, 37, _FAR)
    p, f, g, q, r = (values[include] for values in (position, first, last, q, r))
    waterfall.step(
        np.concatenate((p, p, p, p)),
        np.concatenate((f, g + 1, f, f + r)),
        np.concatenate((q, -q, np.ones_like(q), -np.ones_like(q))),
    )
    waterfall.place(p, np.full(len(p), _WIDTH - 1), after_36[include])
    return within


def _planned(
    period: np.ndarray,
    position: np.ndarray,
    contract: np.ndarray,
    amount: np.ndarray,
    local: np.ndarray,
    include: np.ndarray,
    plan: RevenuePlan,
    waterfall: Waterfall,
    within: np.ndarray,
    result: ChunkTiming,
) -> np.ndarray:
    """Rows scheduled by the plan (returned as a mask), their within-12 amounts written into
    ``within``, their basis and the plan report into ``result``."""
    start, lo, hi = plan.remaining(contract, period)
    total, negatives = plan.totals(lo, hi)
    in_plan = (amount > 0) & (hi > start)
    usable = in_plan & (hi > lo) & (total > 0) & (negatives == 0)
    scaled = np.flatnonzero(usable & (total != local))
    result.basis[usable] = _CODE["plan"]
    result.basis[scaled] = _CODE["plan_scaled"]
    reason = "the plan's lines after the month do not sum to the backlog: scaled to it"
    _report(result, scaled, total, local, "scaled", np.full(len(scaled), reason, dtype=object))
    fallback = np.flatnonzero(in_plan & ~usable)
    reasons = np.select(
        [hi[fallback] == lo[fallback], negatives[fallback] > 0],
        ["the plan has no line after the month", "the plan holds a negative line after the month"],
        "the plan's lines after the month sum to 0",
    ).astype(object)
    _report(result, fallback, total, local, "not_used", reasons)
    rows = np.flatnonzero(usable)
    counts = (hi - lo)[rows]
    entry_row = np.repeat(np.arange(len(rows)), counts)
    entry_start = np.cumsum(counts) - counts
    line = lo[rows][entry_row] + np.arange(len(entry_row)) - entry_start[entry_row]
    offset = plan.period[line] - period[rows][entry_row]
    part = spread(amount[rows], total[rows], plan.amount[line], entry_row)
    near = np.zeros(len(rows), dtype=np.int64)
    np.add.at(near, entry_row[offset <= 12], part[offset <= 12])
    within[rows] = near
    shown = include[rows][entry_row]
    waterfall.place(position[rows][entry_row][shown], offset[shown], part[shown])
    return usable


def _report(
    result: ChunkTiming,
    rows: np.ndarray,
    total: np.ndarray,
    local: np.ndarray,
    action: str,
    reasons: np.ndarray,
) -> None:
    if len(rows):
        result.reports.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "plan_total": total[rows],
                    "backlog": local[rows],
                    "action": action,
                    "reason": reasons,
                }
            )
        )
