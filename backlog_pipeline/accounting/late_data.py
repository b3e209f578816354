"""Late data: source records that change months already published.

The sources are recomputed over the published months and each month's content digest is
compared with the digest of its current version, the same digest publication uses to
decide whether a month changed. A month that differs was closed on data that has since
moved (a late recognition line, a back-dated change, a corrected contract).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.data_errors import EXCEPTION_COLUMNS
from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.warehouse.schema import (
    backlog_exceptions_table,
    publication_versions_table,
    published_closing,
)
from backlog_pipeline.warehouse.versions import Lock, current_versions, locks, month_fingerprints

SOURCE = "late data sensor"


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


def published_months(engine: sa.Engine) -> list[int]:
    table = publication_versions_table
    with engine.connect() as connection:
        labels = connection.execute(sa.select(table.c.period).distinct()).scalars().all()
    return sorted(parse_month(label) for label in labels)


def current_marks_digests(engine: sa.Engine) -> set[str]:
    """The digests of the source marks each month's current version was published from.

    One digest means every published month was computed from the same sources; a month
    closed earlier on older sources keeps its own, so later closes cannot hide it.
    """
    table = publication_versions_table
    latest = (
        sa.select(table.c.period, sa.func.max(table.c.version).label("version"))
        .group_by(table.c.period)
        .subquery()
    )
    same = (table.c.period == latest.c.period) & (table.c.version == latest.c.version)
    query = sa.select(table.c.source_marks).join(latest, same).distinct()
    with engine.connect() as connection:
        texts = connection.execute(query).scalars().all()
    return {marks_digest(json.loads(text)) for text in texts}


def flagged_months(engine: sa.Engine, check_name: str) -> list[str]:
    """Months flagged by earlier evaluations, still waiting for an unlock and restatement."""
    table = backlog_exceptions_table
    query = sa.select(table.c.period).where(table.c.check_name == check_name).distinct()
    with engine.connect() as connection:
        return sorted(connection.execute(query).scalars().all())


def find_late_data(
    engine: sa.Engine,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
) -> LateData:
    """The published months whose figures the current sources change, and which are locked."""
    months = published_months(engine)
    if not months:
        return LateData()
    rows, flow = compute_backlog(contracts, changes, recognition, months[0], months[-1])
    flow = flow[flow["period"].isin(months)]
    digests = month_fingerprints(flow, rows)
    with engine.connect() as connection:
        current = current_versions(connection, months)
        changed = [m for m in months if digests.get(m) != current[m].content_hash]
        held = locks(connection, changed)
    published = published_closing(engine, list(held))
    recomputed = dict(zip(flow["period"].astype(int), flow["closing"].astype(int), strict=True))
    moves = {m: recomputed[m] - published[m] for m in held if m in published}
    return LateData(months, changed, held, moves)


def describe(late: LateData) -> str:
    parts = []
    if late.to_rerun:
        spans = ", ".join(f"{month_label(a)}..{month_label(b)}" for a, b in late.ranges())
        parts.append(f"rerun {spans}")
    if late.locked:
        parts.append(f"locked, flagged for restatement: {', '.join(map(month_label, late.locked))}")
    return "; ".join(parts) or "no published month changes"
