"""Locks: a signed-off month is never overwritten until someone unlocks it, with a reason.

Every lock and unlock is logged in ``period_lock_log``; ``period_locks`` holds the months
locked now. Publication checks the locks inside its own transaction (see ``versions``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from backlog_pipeline.money import decimal_to_cents, format_cents
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.warehouse.reads import current_versions
from backlog_pipeline.warehouse.schema import (
    backlog_flow_table,
    period_lock_log_table,
    period_locks_table,
)


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


def latest_lock_before(connection: sa.Connection, month: int) -> tuple[int, Lock] | None:
    """The latest month before ``month`` that is locked, with its lock; None if there is none."""
    table = period_locks_table
    row = connection.execute(
        sa.select(table)
        .where(table.c.period < month_label(month))
        .order_by(table.c.period.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return parse_month(row.period), Lock(row.period, row.locked_by, row.locked_at, row.reason)


def _how(locked: str) -> str:
    return (
        f"Unlock and restate {locked} first: `backlog-months unlock {locked} --by NAME "
        f"--reason TEXT`, then `backlog-close --from {locked}`"
    )


def skipped_lock(
    first: int, opening: int, locked_month: int, lock: Lock, published: dict[int, int]
) -> list[dict[str, Any]]:
    """Why a run's first month, opening at ``opening`` cents, does not follow the lock
    before it (``published``: the closing of the month before the run, if published).

    Right after the locked month, the opening must be its published closing. With
    published months in between, it must be the closing of the month before the run, and
    a break there is not the WARN it is without a lock: whether the locked month itself
    moved cannot be told without recomputing it, so the run must start right after it.
    """
    before = first - 1
    if before not in published or published[before] == opening:
        return []
    run, locked = month_label(first), month_label(locked_month)
    if before == locked_month:
        problem = (
            f"{run} would open at {format_cents(opening)}, but locked month {lock.describe()} "
            f"closed at {format_cents(published[before])}: the sources now change {locked} "
            f"or a month before it. {_how(locked)}"
        )
    else:
        after = month_label(locked_month + 1)
        problem = (
            f"{run} would open at {format_cents(opening)}, but {month_label(before)} closed at "
            f"{format_cents(published[before])}, after locked month {lock.describe()}. A run "
            f"after a locked month must continue from it: rerun from {after} "
            f"(`backlog-close --from {after}`); if that fails on {locked}, {_how(locked)}"
        )
    difference = format_cents(opening - published[before])
    return [{"period": run, "locked_month": locked, "difference": difference, "problem": problem}]


def refuse_skipped_lock(connection: sa.Connection, first: int, opening: int) -> None:
    """Inside the publishing transaction: :func:`skipped_lock` as a refusal."""
    latest = latest_lock_before(connection, first)
    if latest is None:
        return
    table = backlog_flow_table
    closing = connection.execute(
        sa.select(table.c.closing).where(table.c.period == month_label(first - 1))
    ).scalar()
    published = {} if closing is None else {first - 1: decimal_to_cents(closing)}
    found = skipped_lock(first, opening, *latest, published)
    if found:
        raise PeriodLockedError(f"Refusing to publish: {found[0]['problem']}. Nothing was written.")


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
