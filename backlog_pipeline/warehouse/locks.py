"""Locks: a signed-off month is never overwritten until someone unlocks it, with a reason.

Every lock and unlock is logged in ``period_lock_log``; ``period_locks`` holds the months
locked now. Publication checks the locks inside its own transaction (see ``versions``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.reads import current_versions
from backlog_pipeline.warehouse.schema import period_lock_log_table, period_locks_table


class PublicationError(Exception):
    """A publication that must not happen; the message says why and what to do."""


class PeriodLockedError(PublicationError):
    """A run would change a month whose close has been signed off."""


@dataclass(frozen=True)
class Lock:
    period: str
    locked_by: str
    locked_at: datetime
    reason: str

    def describe(self) -> str:
        when = f"{self.locked_at:%Y-%m-%d}"
        return f"{self.period} (locked by {self.locked_by} on {when}: {self.reason})"


def locks(connection: sa.Connection, months: Iterable[int]) -> dict[int, Lock]:
    by_label = {month_label(month): month for month in months}
    if not by_label:
        return {}
    query = sa.select(period_locks_table).where(period_locks_table.c.period.in_(list(by_label)))
    return {
        by_label[row.period]: Lock(row.period, row.locked_by, row.locked_at, row.reason)
        for row in connection.execute(query)
    }


def lock_month(engine: sa.Engine, month: int, actor: str, reason: str) -> Lock:
    """Lock a published month against any change; the lock is logged with its reason."""
    label = month_label(month)
    _require_reason(actor, reason)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        if month not in current_versions(connection, [month]):
            raise PublicationError(f"{label} has not been published; there is nothing to lock")
        existing = locks(connection, [month])
        if month in existing:
            raise PublicationError(f"{existing[month].describe()} is already locked")
        connection.execute(
            period_locks_table.insert().values(
                period=label, locked_by=actor, locked_at=now, reason=reason
            )
        )
        connection.execute(
            period_lock_log_table.insert().values(
                period=label, action="lock", actor=actor, reason=reason, at=now
            )
        )
    return Lock(label, actor, now, reason)


def unlock_month(engine: sa.Engine, month: int, actor: str, reason: str) -> None:
    label = month_label(month)
    _require_reason(actor, reason)
    with engine.begin() as connection:
        removed = connection.execute(
            period_locks_table.delete().where(period_locks_table.c.period == label)
        ).rowcount
        if not removed:
            raise PublicationError(f"{label} is not locked")
        connection.execute(
            period_lock_log_table.insert().values(
                period=label, action="unlock", actor=actor, reason=reason, at=datetime.now(UTC)
            )
        )


def _require_reason(actor: str, reason: str) -> None:
    if not actor.strip() or not reason.strip():
        raise PublicationError("a lock or unlock needs who does it and why (--by and --reason)")
