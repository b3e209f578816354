"""The RPO disclosure's part of a publication (issue 14): its tables written in the
publication's own transaction, under the month's version, and the digest of what they hold.

A month's disclosure is versioned with its flow: a new version writes it afresh and moves
the replaced rows to the ``_history`` tables. Its digest (``publication_versions.
disclosure_hash``) is kept apart from the flow's ``content_hash``, so a month published
before the disclosure existed keeps its version: its disclosure is *added* to that version
(on a locked month too, logged in ``period_lock_log``), while a disclosure that differs from
the one published is a restatement like any other (refused on a locked month).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pandas.api.types import infer_dtype

from backlog_pipeline.periods import month_label, month_labels, month_positions
from backlog_pipeline.warehouse.bulk import insert_rows
from backlog_pipeline.warehouse.bulk_stage import StagedLoads
from backlog_pipeline.warehouse.disclosure_schema import (
    DISCLOSURE_TABLES,
    current_tables,
    history_tables,
)
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.schema import (
    TwoDecimals,
    period_lock_log_table,
    publication_versions_table,
)

_PERCENT = ("cancellation_share_pct", "largest_customer_share_pct", "top_10_share_pct")
ADDED = "added"  # period_lock_log.action of a disclosure added to a locked month


@dataclass(frozen=True)
class DisclosureFrames:
    """The frames of the disclosure assets, as the tables' columns (money in cents, months
    as indices, ``due_month`` a month index or missing, percents and ratios ``Decimal``)."""

    rpo_disclosure: pd.DataFrame
    rpo_contract_timing: pd.DataFrame
    rpo_timing_waterfall: pd.DataFrame
    rpo_exclusion_register: pd.DataFrame
    backlog_slices: pd.DataFrame
    backlog_ratios: pd.DataFrame
    backlog_aging: pd.DataFrame

    def published(self, months: list[int]) -> dict[str, pd.DataFrame]:
        """Each table's rows of ``months`` as written (``period`` still a month index)."""
        tables = {}
        for name in DISCLOSURE_TABLES:
            frame = getattr(self, name)
            frame = frame[frame["period"].isin(months)].reset_index(drop=True)
            columns = [c.name for c in current_tables[name].columns if c.name in frame]
            tables[name] = _as_written(frame[columns])
        return tables


def _as_written(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    if "due_month" in frame:
        due = frame["due_month"]
        frame["due_month"] = [None if pd.isna(m) else month_label(int(m)) for m in due]
    for column in _PERCENT:
        if column in frame:
            frame[column] = [None if v is None or pd.isna(v) else int(Decimal(v) * 100)
                             for v in frame[column]]  # fmt: skip
    return frame


def _canonical(frame: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """The values as the table holds them, whatever dtype a run gave a column (a month
    alone, or concatenated with others that hold nulls): whole numbers (money in cents,
    integers, booleans) as ``Int64``, everything else as text ("" for null)."""
    canonical = {}
    for name in frame.columns:
        values, kind = frame[name], table.c[name].type
        if isinstance(kind, sa.Boolean):
            canonical[name] = values.astype("boolean").astype("Int64")
        elif isinstance(kind, (sa.Integer, TwoDecimals)) or name == "period":  # a month index
            canonical[name] = values.astype("Int64")
        elif infer_dtype(values, skipna=False) == "string":
            canonical[name] = values  # text already (contract ids: millions, left as they are)
        else:
            canonical[name] = values.astype(object).where(values.notna(), "").map(str)
    return pd.DataFrame(canonical)


def disclosure_digests(tables: dict[str, pd.DataFrame], months: list[int]) -> dict[int, str]:
    """Per month: a digest of every disclosure row it publishes (versions left out)."""
    digests = {month: hashlib.sha256() for month in months}
    for name in DISCLOSURE_TABLES:
        frame = tables[name]
        canonical = _canonical(frame, current_tables[name])
        hashed = pd.util.hash_pandas_object(canonical, index=False, categorize=False).to_numpy()
        periods = frame["period"].to_numpy(np.int64)
        for month in months:
            digests[month].update(name.encode())
            digests[month].update(hashed[periods == month].tobytes())
    return {month: digest.hexdigest() for month, digest in digests.items()}


def _month_rows(frame: pd.DataFrame, at: np.ndarray, month: int) -> pd.DataFrame:
    return frame.iloc[at].assign(period=month_label(month)).reset_index(drop=True)


def stage_disclosure(
    loads: StagedLoads | None, tables: dict[str, pd.DataFrame], months: list[int]
) -> None:
    """Each month's disclosure rows handed to the bulk route ahead of the transaction (a
    month's contract timing is as many rows as its contract rows)."""
    if loads is None or not tables:
        return
    for name in DISCLOSURE_TABLES:
        frame = tables[name]
        positions = month_positions(frame["period"], months)
        for month in months:
            build = partial(_month_rows, frame, positions[month], month)
            loads.stage(current_tables[name], month_label(month), build)


def _insert(
    connection: sa.Connection,
    tables: dict[str, pd.DataFrame],
    versions: dict,
    loads: StagedLoads | None = None,
) -> None:
    for name in DISCLOSURE_TABLES:
        table = current_tables[name]
        staged = {m: v for m, v in versions.items() if loads and loads.has(table, month_label(m))}
        if staged:
            parts = {month_label(m): {"version": v} for m, v in staged.items()}
            loads.insert_parts(connection, table, parts)
        frame = tables[name]
        frame = frame[frame["period"].isin([m for m in versions if m not in staged])]
        if frame.empty:
            continue
        rows = frame.assign(
            version=frame["period"].map(versions).astype("int64"),
            period=month_labels(frame["period"].to_numpy(np.int64)),
        )
        insert_rows(connection, table, rows)


def replace_disclosure(
    connection: sa.Connection,
    versions: dict[int, int],
    tables: dict[str, pd.DataFrame],
    loads: StagedLoads | None = None,
) -> None:
    """The months' disclosure rows moved to the history, then their new version written."""
    labels = [month_label(month) for month in versions]
    for name in DISCLOSURE_TABLES:
        current, history = current_tables[name], history_tables[name]
        columns = [column.name for column in current.columns]
        in_months = current.c.period.in_(labels)
        connection.execute(
            history.insert().from_select(columns, sa.select(*current.c).where(in_months))
        )
        connection.execute(current.delete().where(in_months))
    _insert(connection, tables, versions, loads)


def disclosure_moved(published: str | None, recomputed: str | None) -> bool:
    """Whether a month's disclosure differs from the one published with its version (a
    version published without one has nothing to differ from: it gets it added)."""
    return published is not None and recomputed is not None and published != recomputed


def add_missing_disclosure(
    connection: sa.Connection,
    unchanged: dict,
    tables: dict[str, pd.DataFrame],
    digests: dict[int, str],
    run_id: str,
    at: datetime,
) -> dict[int, str]:
    """The unchanged months (``CurrentVersion`` by month) published without a disclosure
    get it added to their version; returns their status, ``disclosure added``."""
    missing = {m: v.version for m, v in unchanged.items() if v.disclosure_hash is None}
    if not tables or not missing:
        return {}
    held = set(locks(connection, list(missing)))
    add_disclosure(connection, missing, tables, digests, held, run_id, at)
    return dict.fromkeys(missing, "disclosure added")


def add_disclosure(
    connection: sa.Connection,
    versions: dict[int, int],
    tables: dict[str, pd.DataFrame],
    digests: dict[int, str],
    locked: set[int],
    run_id: str,
    at: datetime,
) -> None:
    """The disclosure of months published without one, added to their current version;
    a locked month's addition is logged in ``period_lock_log``."""
    _insert(connection, tables, versions)
    table = publication_versions_table
    for month, version in versions.items():
        label = month_label(month)
        connection.execute(
            table.update()
            .where((table.c.period == label) & (table.c.version == version))
            .values(disclosure_hash=digests[month])
        )
        if month in locked:
            reason = (
                f"RPO disclosure tables added to version {version} by run {run_id}: its flow "
                "and contract rows are unchanged"
            )
            connection.execute(
                period_lock_log_table.insert().values(
                    period=label, action=ADDED, actor="backlog_pipeline", reason=reason, at=at
                )
            )
