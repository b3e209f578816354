"""Versioned publication: a month's figures change only as a new, recorded version.

The current figures live in ``backlog_flow`` and ``contract_backlog`` (what readers query);
every version of a month is a row of ``publication_versions`` with the run that made it,
the code version and the source high-water marks; the contract rows a restatement replaced
move to ``contract_backlog_history``; the source records behind each version's figures are in
``backlog_source_records``. A locked month (``period_locks``) is never overwritten.

Plain SQLAlchemy, no Dagster: the same functions serve the pipeline and the CLI.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.money import decimal_to_cents
from backlog_pipeline.periods import month_label, month_positions, parse_month
from backlog_pipeline.warehouse.schema import (
    backlog_flow_table,
    backlog_source_records_table,
    contract_backlog_history_table,
    contract_backlog_table,
    flow_records,
    insert_rows,
    period_lock_log_table,
    period_locks_table,
    publication_versions_table,
)

_HASHED = ("contract_id", *FLOW_COLUMNS)


class PublicationError(Exception):
    """A publication that must not happen; the message says why and what to do."""


class PeriodLockedError(PublicationError):
    """A run would change a month whose close has been signed off."""


@dataclass(frozen=True)
class RunStamp:
    """Who made a version: the run, the code and what was read from the sources."""

    run_id: str
    code_version: str
    source_marks: dict[str, Any]
    published_at: datetime


@dataclass(frozen=True)
class MonthOutcome:
    month: int
    version: int
    status: str  # "first" | "restated" | "unchanged"
    restates: int | None = None


@dataclass(frozen=True)
class CurrentVersion:
    version: int
    content_hash: str
    run_id: str
    published_at: datetime


@dataclass(frozen=True)
class Lock:
    period: str
    locked_by: str
    locked_at: datetime
    reason: str

    def describe(self) -> str:
        when = f"{self.locked_at:%Y-%m-%d}"
        return f"{self.period} (locked by {self.locked_by} on {when}: {self.reason})"


def month_fingerprints(flow: pd.DataFrame, contract_rows: pd.DataFrame) -> dict[int, str]:
    """A digest of each month's published content: its flow figures and its contract rows.

    Equal digests mean the same figures to the cent, so a rerun of an unchanged month makes
    no new version. Each month's rows are hashed in contract order with pandas' stable row
    hash. Contract rows come ordered by month and contract (see ``contract_backlog``), so
    a month is a slice, sorted only if it is not in order already: a backfill's millions of
    rows are never copied whole.
    """
    periods = contract_rows["period"].to_numpy(np.int64)
    if len(periods) and not (periods[1:] >= periods[:-1]).all():
        contract_rows = contract_rows.sort_values("period", kind="stable")
        periods = contract_rows["period"].to_numpy(np.int64)
    result = {}
    for month, figures in zip(
        flow["period"].astype(int).tolist(),
        flow[list(FLOW_COLUMNS)].itertuples(index=False),
        strict=True,
    ):
        digest = hashlib.sha256(",".join(str(int(v)) for v in figures).encode())
        start, stop = periods.searchsorted(month, "left"), periods.searchsorted(month, "right")
        rows = contract_rows.iloc[start:stop][list(_HASHED)].astype({"contract_id": str})
        if not rows["contract_id"].is_monotonic_increasing:
            rows = rows.sort_values("contract_id", kind="stable")
        hashed = pd.util.hash_pandas_object(rows, index=False, categorize=False).to_numpy()
        digest.update(hashed.tobytes())
        result[month] = digest.hexdigest()
    return result


def current_versions(connection: sa.Connection, months: Iterable[int]) -> dict[int, CurrentVersion]:
    """The latest version of each of ``months`` that has been published."""
    by_label = {month_label(month): month for month in months}
    if not by_label:
        return {}
    table = publication_versions_table
    latest = (
        sa.select(table.c.period, sa.func.max(table.c.version).label("version"))
        .where(table.c.period.in_(list(by_label)))
        .group_by(table.c.period)
        .subquery()
    )
    same = (table.c.period == latest.c.period) & (table.c.version == latest.c.version)
    query = sa.select(
        table.c.period, table.c.version, table.c.content_hash, table.c.run_id, table.c.published_at
    ).join(latest, same)
    return {
        by_label[row.period]: CurrentVersion(
            row.version, row.content_hash, row.run_id, row.published_at
        )
        for row in connection.execute(query)
    }


def locks(connection: sa.Connection, months: Iterable[int]) -> dict[int, Lock]:
    by_label = {month_label(month): month for month in months}
    if not by_label:
        return {}
    query = sa.select(period_locks_table).where(period_locks_table.c.period.in_(list(by_label)))
    return {
        by_label[row.period]: Lock(row.period, row.locked_by, row.locked_at, row.reason)
        for row in connection.execute(query)
    }


def _contract_rows_frame(rows: pd.DataFrame, label: str, currency: str) -> pd.DataFrame:
    """A month's contract rows as :func:`insert_rows` takes them: figures in cents."""
    return pd.DataFrame(
        {
            "period": label,
            "contract_id": rows["contract_id"].to_numpy(),
            "currency": currency,
            **{column: rows[column].to_numpy() for column in FLOW_COLUMNS},
            "net_change": (rows["closing"] - rows["opening"]).to_numpy(),
        },
        index=pd.RangeIndex(len(rows)),
    )


def _source_records_frame(records: pd.DataFrame, label: str, version: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": label,
            "version": version,
            **{
                column: records[column].to_numpy()
                for column in ("contract_id", "figure", "source", "record_id")
            },
            "amount": records["amount"].array,
        },
        index=pd.RangeIndex(len(records)),
    )


def _supersede(connection: sa.Connection, label: str, version: int) -> None:
    """Move a month's current contract rows to the history under the version they were."""
    current = contract_backlog_table
    columns = [column.name for column in current.columns]
    connection.execute(
        contract_backlog_history_table.insert().from_select(
            [*columns, "version"],
            sa.select(*current.c, sa.literal(version, sa.Integer)).where(current.c.period == label),
        )
    )


def publish_versions(
    engine: sa.Engine,
    months: Sequence[int],
    flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    source_records: pd.DataFrame | Callable[[int], pd.DataFrame],
    currency: str,
    stamp: RunStamp,
) -> list[MonthOutcome]:
    """Publish the months whose figures changed as new versions, in one transaction.

    Unchanged months are left exactly as they are (no new version, nothing rewritten). If
    any changed month is locked, nothing at all is written. Two runs racing to publish the
    same month collide on the version key; the loser's transaction is rolled back whole.
    ``source_records`` is a frame of every month's records, or gives one month's when called.
    """
    fingerprints = month_fingerprints(flow, contract_rows)
    with engine.begin() as connection:
        current = current_versions(connection, months)
        changed = [
            m for m in months if m not in current or current[m].content_hash != fingerprints[m]
        ]
        held = locks(connection, [m for m in changed if m in current])
        if held:
            listed = "; ".join(lock.describe() for lock in held.values())
            raise PeriodLockedError(
                f"Refusing to publish: the recomputed figures differ from the published ones "
                f"for locked month(s) {listed}. Nothing was written. Unlock with "
                f"`backlog-months unlock YYYY-MM --by NAME --reason TEXT` to restate them."
            )
        outcomes = [
            MonthOutcome(m, current[m].version, "unchanged") for m in months if m not in changed
        ]
        if not changed:
            return outcomes
        versions = {m: current[m].version + 1 if m in current else 1 for m in changed}
        labels = [month_label(m) for m in changed]
        for month in changed:
            if month in current:
                _supersede(connection, month_label(month), current[month].version)
        for table in (backlog_flow_table, contract_backlog_table):
            connection.execute(table.delete().where(table.c.period.in_(labels)))
        changed_set = set(changed)
        new_flow = flow[flow["period"].isin(changed_set)]
        flow_rows = flow_records(new_flow, currency)
        insert_rows(connection, backlog_flow_table, flow_rows)
        # Month by month, in bulk: never the whole range's rows as Python objects at once.
        row_positions = month_positions(contract_rows["period"], changed)
        records_of = source_records
        if isinstance(source_records, pd.DataFrame):
            positions = month_positions(source_records["period"], changed)

            def records_of(month: int) -> pd.DataFrame:
                return source_records.iloc[positions[month]]

        for month in changed:
            label = month_label(month)
            rows = contract_rows.iloc[row_positions[month]]
            insert_rows(
                connection, contract_backlog_table, _contract_rows_frame(rows, label, currency)
            )
            records = records_of(month)
            insert_rows(
                connection,
                backlog_source_records_table,
                _source_records_frame(records, label, versions[month]),
            )
        marks = json.dumps(stamp.source_marks, sort_keys=True, default=str)
        insert_rows(
            connection,
            publication_versions_table,
            [
                {
                    **record,
                    "version": versions[month],
                    "run_id": stamp.run_id,
                    "published_at": stamp.published_at,
                    "code_version": stamp.code_version,
                    "source_marks": marks,
                    "content_hash": fingerprints[month],
                    "restates": current[month].version if month in current else None,
                    "contract_rows": len(row_positions[month]),
                }
                for month, record in zip(new_flow["period"].astype(int), flow_rows, strict=True)
            ],
        )
    outcomes += [
        MonthOutcome(
            m,
            versions[m],
            "restated" if m in current else "first",
            current[m].version if m in current else None,
        )
        for m in changed
    ]
    return sorted(outcomes, key=lambda outcome: outcome.month)


def published_figures(
    engine: sa.Engine, months: Iterable[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The current published flow and contract rows of ``months``, money in cents."""
    labels = [month_label(month) for month in months]

    def cents(frame: pd.DataFrame) -> pd.DataFrame:
        for column in FLOW_COLUMNS:
            frame[column] = [decimal_to_cents(value) for value in frame[column]]
        frame["period"] = frame["period"].map(parse_month)
        return frame

    flow_query = sa.select(backlog_flow_table).where(backlog_flow_table.c.period.in_(labels))
    rows_query = sa.select(contract_backlog_table).where(
        contract_backlog_table.c.period.in_(labels)
    )
    with engine.connect() as connection:
        flow = pd.DataFrame(
            connection.execute(flow_query).mappings().all(),
            columns=[c.name for c in backlog_flow_table.columns],
        )
        rows = pd.DataFrame(
            connection.execute(rows_query).mappings().all(),
            columns=[c.name for c in contract_backlog_table.columns],
        )
    return cents(flow), cents(rows)


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
