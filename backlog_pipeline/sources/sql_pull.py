"""Incremental pulls of a SQL source into its local snapshot (``snapshot``).

A pull asks the source only for what changed: with a mapped modification column, the rows
modified at or after the snapshot's high-water mark; without one, the rows of the months
not yet closed (``open_from`` on). The query sent carries the filter (``changed_select``);
nothing is read whole and diffed here. The fetched rows replace, in the snapshot, the rows
with the same id and those the filter covers (so a row moved out of the open months, or
deleted inside them, goes too).

Deleted rows outside the filter are what an incremental pull cannot see. Two checks catch
them: after every incremental pull the database counts the source's rows, and a count
that differs from the snapshot's forces a full pull; and every ``reconcile_days`` a full
pull is made anyway, its content compared with the snapshot's (both sorted, value by
value: a deletion and an insertion together keep the count). Either says what disagreed in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from backlog_pipeline.sources.http import Log
from backlog_pipeline.sources.local_copy import _utc_times, latest
from backlog_pipeline.sources.snapshot import Snapshot, SnapshotState
from backlog_pipeline.sources.sql import MODIFIED, changed_select, count_rows, read_select

ID = "line_id"
PERIOD = "period"
RECONCILE_SETTING = "BACKLOG_SOURCE_RECONCILE_DAYS"


@dataclass(frozen=True)
class SqlSource:
    """What is read: the whole source's select, with canonical column names."""

    url: str
    describe: str
    select: sa.Select

    @property
    def dialect(self) -> str:
        return sa.make_url(self.url).get_backend_name()

    @property
    def modified(self) -> bool:
        return MODIFIED in self.select.selected_columns


@dataclass(frozen=True)
class Pull:
    rows: pa.Table  # the snapshot after the pull
    state: SnapshotState  # to be saved with the rows (marks added by the caller)
    fetched: int  # rows the source returned
    changed: bool  # whether the rows differ from the stored snapshot's
    full: str | None  # why the pull was a full one; None: incremental
    since: str | None  # the high-water mark asked from
    open_from: str | None  # the first open month asked for
    reconciliation: str | None  # what a reconciliation found, when one ran
    save: bool = True  # the snapshot must be written (rows changed, or a reconciliation ran)


@dataclass(frozen=True)
class PullSettings:
    full_refresh: bool = False
    reconcile_days: float = 7.0
    open_from: str | None = None  # YYYY-MM: the first month not yet closed


def _high_water_mark(rows: pa.Table) -> str | None:
    """The latest modification time, as ``local_copy.latest`` gives it: Arrow parses the
    column when it can (ISO 8601, all with an offset or all without: UTC), pandas else."""
    if MODIFIED not in rows.column_names:
        return None
    column = rows.column(MODIFIED)
    for kind in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
        try:
            newest = pc.max(column.cast(kind)).as_py()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return None if newest is None else latest(pd.Series([newest.isoformat()]))
    return latest(column.to_pandas())


def _replaced(
    previous: pa.Table, fetched: pa.Table, since: str | None, first: str | None
) -> pa.ChunkedArray | pa.Array:
    """The previous rows the fetch replaces: same id, or inside the filter sent."""
    ids = previous.column(ID)
    gone = pc.fill_null(pc.is_in(ids, value_set=fetched.column(ID).combine_chunks()), False)
    if first is not None:
        period = previous.column(PERIOD)
        gone = pc.or_(gone, pc.fill_null(pc.greater_equal(period, first), True))
    if since is not None:  # rows without an id are matched by their time (few: quarantined)
        no_id = pc.is_null(ids).to_numpy(zero_copy_only=False)
        if no_id.any():
            times = _utc_times(previous.column(MODIFIED).to_pandas()[no_id])
            again = (times.isna() | (times >= pd.Timestamp(since))).to_numpy()
            mask = gone.to_numpy(zero_copy_only=False).copy()
            mask[no_id] |= again
            gone = pa.array(mask)
    return gone


def _same_rows(replaced: pa.Table, fetched: pa.Table) -> bool:
    """Whether two sets of rows hold the same content, whatever their order: both sorted on
    every column and compared value by value (exact, where a digest is only likely).

    Used for the periodic reconciliation, and after an incremental pull to see whether the
    fetch only gave back the rows it replaces (the boundary row, asked again on purpose):
    then the snapshot, and the mark it carries, stand."""
    if len(replaced) != len(fetched):
        return False
    order = [(name, "ascending") for name in fetched.column_names]
    return replaced.sort_by(order).equals(fetched.sort_by(order))


def _reason_for_full(
    snapshot: Snapshot, state: SnapshotState | None, source: SqlSource, settings: PullSettings
) -> str | None:
    why = snapshot.unusable(state)
    if settings.full_refresh:
        return "BACKLOG_FULL_REFRESH is set"
    if why is not None:
        return why
    assert state is not None
    if state.full_at is None or _days_since(state.full_at) >= settings.reconcile_days:
        return f"the periodic reconciliation ({RECONCILE_SETTING}={settings.reconcile_days:g})"
    if source.modified and state.high_water_mark is None:
        return "the snapshot has no high-water mark"
    if not source.modified and settings.open_from is None:
        return "no modification column is mapped and no month is closed (locked)"
    return None


def _days_since(when: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(when)) / timedelta(days=1)


def _incremental(
    source: SqlSource, snapshot: Snapshot, state: SnapshotState, open_from: str | None, log: Log
) -> tuple[Pull | None, str | None]:
    """The incremental pull, or None and why a full one is needed instead."""
    since = state.high_water_mark if source.modified else None
    first = None if source.modified else open_from
    query = changed_select(source.select, source.dialect, since=since, open_from=first)
    asked = f"rows modified since {since}" if since else f"the rows of {first} and later"
    log.info(f"{source.describe}: pulling {asked}")
    fetched = read_select(source.url, source.describe, query, log)
    previous = snapshot.rows()
    gone = _replaced(previous, fetched, since, first)
    kept = previous.filter(pc.invert(gone))
    rows = pa.concat_tables([kept, fetched.cast(kept.schema)], promote_options="none")
    counted = count_rows(source.url, source.describe, source.select)
    if counted != len(rows):
        found = f"the source has {counted} rows, the snapshot {len(rows)} after the pull"
        log.warning(f"{source.describe}: reconciliation: {found}; a full pull replaces it")
        return None, f"reconciliation: {found}"
    marks = [m for m in (state.high_water_mark, _high_water_mark(fetched)) if m]
    new_state = replace(state, high_water_mark=max(marks) if marks else None)
    changed = not _same_rows(previous.filter(gone), fetched.cast(kept.schema))
    pull = Pull(rows, new_state, len(fetched), changed, None, since, first, None, save=changed)
    return pull, None


def pull(source: SqlSource, snapshot: Snapshot, settings: PullSettings, log: Log) -> Pull:
    """Pull what changed into the snapshot's rows (saved by :func:`settle_mark`)."""
    state = snapshot.state()
    full = _reason_for_full(snapshot, state, source, settings)
    reconciliation = None
    if full is None:
        assert state is not None
        done, full = _incremental(source, snapshot, state, settings.open_from, log)
        if done is not None:
            return done
        reconciliation = full
    log.info(f"{source.describe}: pulling every row (full pull: {full})")
    rows = read_select(source.url, source.describe, source.select, log)
    previous = snapshot.rows() if snapshot.unusable(state) is None else None
    same = previous is not None and previous.equals(rows)  # the mark it carries stands
    periodic = full.startswith("the periodic")
    if periodic and previous is not None:
        agree = same or _same_rows(previous, rows.cast(previous.schema))
        reconciliation = "snapshot and source agree" if agree else (
            f"the source's content differs from the snapshot's ({len(rows)} rows now)")  # fmt: skip
        log.info(f"{source.describe}: reconciliation: {reconciliation}")
    new_state = SnapshotState(
        snapshot.signature,
        snapshot.system,
        high_water_mark=_high_water_mark(rows),
        full_at=datetime.now(UTC).isoformat(),
        marks=state.marks if same and state is not None else {},
    )
    return Pull(rows, new_state, len(rows), not same, full, None, None, reconciliation,
                save=not same or periodic)  # fmt: skip


@dataclass(frozen=True)
class Pulled:
    """A source's rows as a close reads them, and how they were pulled."""

    rows: pa.Table
    snapshot: Snapshot | None  # None: no snapshot kept, the source read whole
    pull: Pull | None
    fetched: int  # rows the source returned
    how: str  # for the log and the asset's metadata


def _how(pull: Pull) -> str:
    if pull.full:
        how = f"full: {pull.full}"
    elif pull.since:
        how = f"incremental: {pull.fetched} changed row(s) since {pull.since}"
    else:
        how = f"incremental: {pull.fetched} row(s) of {pull.open_from} and later"
    return f"{how}; reconciliation: {pull.reconciliation}" if pull.reconciliation else how


def pull_into(
    source: SqlSource, folder: Path | None, name: str, settings: PullSettings, log: Log
) -> Pulled:
    """The whole source (no folder), or ``folder/<name>.parquet`` after a pull."""
    if folder is None:
        rows = read_select(source.url, source.describe, source.select, log)
        return Pulled(rows, None, None, len(rows), "full (no snapshot kept)")
    system = sa.make_url(source.url).render_as_string(hide_password=True)
    snapshot = Snapshot(folder / f"{name}.parquet", str(source.select), system)
    done = pull(source, snapshot, settings, log)
    return Pulled(done.rows, snapshot, done, done.fetched, _how(done))


def settle_mark(
    pulled: Pulled, key: str, compute: Callable[[], dict[str, Any]] | None
) -> dict[str, Any] | None:
    """The source mark carried by the snapshot, computed (by ``compute``) only when the rows
    changed or none is stored; the snapshot is saved with it whenever either happened."""
    if pulled.pull is None or pulled.snapshot is None:
        return compute() if compute else None
    state, changed = pulled.pull.state, pulled.pull.changed
    stored = None if changed else state.marks.get(key)
    mark = stored if stored is not None else compute() if compute else None
    if pulled.pull.save or (mark is not None and stored is None):
        marks = {**({} if changed else state.marks), **({key: mark} if mark else {})}
        pulled.snapshot.save(pulled.rows, replace(state, marks=marks))
    return mark
