"""Late data: what changes when source records move months already published.

The late-data sensor recomputes the published months from the sources and compares each
month's content digest with its current version's (``defs/sensors.py``). A month that
differs was closed on data that has since moved (a late recognition line, a back-dated
change, a corrected contract); :class:`LateData` says which months to rerun and which to
flag, since a locked month, and every month after it, waits for an unlock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from backlog_pipeline.accounting.data_errors import EXCEPTION_COLUMNS
from backlog_pipeline.periods import month_label

SOURCE = "late data sensor"


class Lock(Protocol):
    """A lock on a published month, as the warehouse describes it."""

    def describe(self) -> str: ...


@dataclass(frozen=True)
class LateData:
    examined: list[int] = field(default_factory=list)  # the published months recomputed
    changed: list[int] = field(default_factory=list)  # published months the sources now change
    locked: dict[int, Lock] = field(default_factory=dict)  # the changed months that are locked
    closing_moves: dict[int, int] = field(default_factory=dict)  # cents, recomputed − published

    @property
    def to_rerun(self) -> list[int]:
        """Changed months before the first locked one.

        A month after a locked one cannot be restated: its opening must equal the locked
        month's published closing, which the new sources no longer give. It waits, flagged.
        """
        first_locked = min(self.locked, default=None)
        return [m for m in self.changed if first_locked is None or m < first_locked]

    @property
    def blocked(self) -> list[int]:
        """Changed, unlocked months that wait for a locked month before them."""
        rerun = set(self.to_rerun)
        return [m for m in self.changed if m not in self.locked and m not in rerun]

    def ranges(self) -> list[tuple[int, int]]:
        """The months to rerun as contiguous ranges, each one single-run backfill."""
        spans: list[tuple[int, int]] = []
        for month in self.to_rerun:
            if spans and spans[-1][1] == month - 1:
                spans[-1] = (spans[-1][0], month)
            else:
                spans.append((month, month))
        return spans

    def flags(self) -> pd.DataFrame:
        """One exception row per locked month the sources now change, and per month after it."""
        first_locked = min(self.locked, default=None)
        waiting = [
            {
                "period": month,
                "source": SOURCE,
                "record_id": None,
                "contract_id": None,
                "amount": None,
                "reason": (
                    f"the sources now change this month, but it follows locked month "
                    f"{month_label(first_locked)}; it is restated once that month is unlocked"
                ),
            }
            for month in self.blocked
        ]
        locked = [
            {
                "period": month,
                "source": SOURCE,
                "record_id": None,
                "contract_id": None,
                "amount": self.closing_moves.get(month),
                "reason": (
                    f"the sources now change locked month {lock.describe()}: its closing "
                    f"would move by the amount; unlock it to restate it"
                ),
            }
            for month, lock in sorted(self.locked.items())
        ]
        frame = pd.DataFrame([*locked, *waiting], columns=list(EXCEPTION_COLUMNS))
        return frame.sort_values("period", kind="stable").reset_index(drop=True)


def marks_digest(marks: Mapping[str, Mapping[str, Any]]) -> str:
    """One digest of the sources' marks (rows, content fingerprint, high-water mark)."""
    return hashlib.sha256(json.dumps(marks, sort_keys=True, default=str).encode()).hexdigest()


def describe(late: LateData) -> str:
    parts = []
    if late.to_rerun:
        spans = ", ".join(f"{month_label(a)}..{month_label(b)}" for a, b in late.ranges())
        parts.append(f"rerun {spans}")
    if late.locked:
        parts.append(f"locked, flagged for restatement: {', '.join(map(month_label, late.locked))}")
    return "; ".join(parts) or "no published month changes"
