"""Reads of what is published: the current flow and contract rows, versions and marks.

Money comes back either as ``Decimal`` (what readers see) or in integer cents (what the
checks compare with), months as indices unless said otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.rollforward import REPORTING_COLUMNS
from backlog_pipeline.money import decimal_to_cents
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.warehouse.schema import (
    LOCAL_COLUMNS,
    backlog_flow_table,
    backlog_source_records_table,
    contract_backlog_history_table,
    contract_backlog_table,
    period_lock_log_table,
    period_locks_table,
    publication_versions_table,
)

# The figures of the flow and of a contract row, in the reporting and the local currency.
FIGURES = frozenset((*REPORTING_COLUMNS, *LOCAL_COLUMNS))


@dataclass(frozen=True)
class CurrentVersion:
    version: int
    content_hash: str
    run_id: str
    published_at: datetime
    disclosure_hash: str | None = None  # None: published without the RPO disclosure


def published_figure(engine: sa.Engine, months: Iterable[int], column: str) -> dict[int, int]:
    """A published flow figure in cents for those of ``months`` that have been published."""
    by_label = {month_label(month): month for month in months}
    if not by_label:
        return {}
    query = sa.select(backlog_flow_table.c.period, backlog_flow_table.c[column]).where(
        backlog_flow_table.c.period.in_(list(by_label))
    )
    with engine.connect() as connection:
        return {
            by_label[period]: decimal_to_cents(value) for period, value in connection.execute(query)
        }


def published_closing(engine: sa.Engine, months: Iterable[int]) -> dict[int, int]:
    return published_figure(engine, months, "closing")


def read_flow(engine: sa.Engine) -> pd.DataFrame:
    """The published flow, money as ``Decimal``, ordered by period."""
    query = sa.select(backlog_flow_table).order_by(backlog_flow_table.c.period)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=[column.name for column in backlog_flow_table.columns])


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
        table.c.period, table.c.version, table.c.content_hash, table.c.run_id,
        table.c.published_at, table.c.disclosure_hash,
    ).join(latest, same)  # fmt: skip
    return {
        by_label[row.period]: CurrentVersion(
            row.version, row.content_hash, row.run_id, row.published_at, row.disclosure_hash
        )
        for row in connection.execute(query)
    }


def published_figures(
    engine: sa.Engine, months: Iterable[int], rows: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The current published flow and contract rows of ``months``, money in cents; without
    ``rows``, the flow alone (None for the rows: a month's are tens of thousands of
    exact decimals to read and convert)."""
    labels = [month_label(month) for month in months]

    def cents(frame: pd.DataFrame) -> pd.DataFrame:
        for column in frame.columns:
            if column in FIGURES:
                frame[column] = [decimal_to_cents(value) for value in frame[column]]
        frame["period"] = frame["period"].map(parse_month)
        return frame

    def read(table: sa.Table) -> pd.DataFrame:
        query = sa.select(table).where(table.c.period.in_(labels))
        return pd.DataFrame(
            connection.execute(query).mappings().all(), columns=[c.name for c in table.columns]
        )

    with engine.connect() as connection:
        flow = read(backlog_flow_table)
        contract_rows = read(contract_backlog_table) if rows else None
    return cents(flow), None if contract_rows is None else cents(contract_rows)


def published_months(engine: sa.Engine) -> list[int]:
    table = publication_versions_table
    with engine.connect() as connection:
        labels = connection.execute(sa.select(table.c.period).distinct()).scalars().all()
    return sorted(parse_month(label) for label in labels)


def current_source_marks(engine: sa.Engine) -> list[dict[str, Any]]:
    """The distinct source marks the months' current versions were published from.

    One set of marks means every published month was computed from the same sources; a
    month closed earlier on older sources keeps its own, so later closes cannot hide it.
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
    return [json.loads(text) for text in texts]


@dataclass(frozen=True)
class LastPublication:
    """The current version of the latest published month, and the source marks it read."""

    period: str
    version: int
    run_id: str
    source_marks: dict[str, Any]


def last_publication(engine: sa.Engine) -> LastPublication | None:
    """The latest published month's current version; None if nothing is published."""
    table = publication_versions_table
    query = (
        sa.select(table.c.period, table.c.version, table.c.run_id, table.c.source_marks)
        .order_by(table.c.period.desc(), table.c.version.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return LastPublication(row.period, row.version, row.run_id, json.loads(row.source_marks))


def _frame(connection: sa.Connection, query: sa.Select) -> pd.DataFrame:
    result = connection.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


@dataclass(frozen=True)
class VersionHistory:
    versions: pd.DataFrame  # every version, with its run, code and source marks
    locks: pd.DataFrame  # the months locked now
    lock_log: pd.DataFrame  # every lock and unlock, oldest first


def version_history(engine: sa.Engine, month: int | None = None) -> VersionHistory:
    """The published versions (of ``month``, or of every month), the locks and their log."""
    table = publication_versions_table
    query = sa.select(
        table.c.period,
        table.c.version,
        table.c.restates,
        table.c.closing,
        table.c.run_id,
        table.c.published_at,
        table.c.code_version,
        table.c.source_marks,
    ).order_by(table.c.period, table.c.version)
    if month is not None:
        query = query.where(table.c.period == month_label(month))
    with engine.connect() as connection:
        frame = _frame(connection, query)
        held = _frame(connection, sa.select(period_locks_table))
        log = pd.DataFrame(
            connection.execute(
                sa.select(period_lock_log_table).order_by(period_lock_log_table.c.id)
            )
            .mappings()
            .all()
        )
    return VersionHistory(frame, held, log)


@dataclass(frozen=True)
class Trace:
    """One published version of a month down to its contracts and source records."""

    current: int  # the month's current version
    version: int  # the version traced
    flow: Any  # that version's publication_versions row (a mapping); None if there is none
    rows: pd.DataFrame  # its contract rows
    records: pd.DataFrame  # the source records behind them


def trace(
    engine: sa.Engine,
    month: int,
    contract: str | None = None,
    figure: str | None = None,
    version: int | None = None,
) -> Trace | None:
    """A month's version (the current one by default), or None if it was never published."""
    label = month_label(month)
    with engine.connect() as connection:
        current = current_versions(connection, [month]).get(month)
        if current is None:
            return None
        chosen = version or current.version
        flow = (
            connection.execute(
                sa.select(publication_versions_table).where(
                    (publication_versions_table.c.period == label)
                    & (publication_versions_table.c.version == chosen)
                )
            )
            .mappings()
            .first()
        )
        if flow is None:
            return Trace(current.version, chosen, None, pd.DataFrame(), pd.DataFrame())
        rows_table = (
            contract_backlog_table if chosen == current.version else contract_backlog_history_table
        )
        rows_query = sa.select(rows_table).where(rows_table.c.period == label)
        if rows_table is contract_backlog_history_table:
            rows_query = rows_query.where(rows_table.c.version == chosen)
        records_query = sa.select(backlog_source_records_table).where(
            (backlog_source_records_table.c.period == label)
            & (backlog_source_records_table.c.version == chosen)
        )
        if contract:
            rows_query = rows_query.where(rows_table.c.contract_id == contract)
            records_query = records_query.where(
                backlog_source_records_table.c.contract_id == contract
            )
        if figure:
            records_query = records_query.where(backlog_source_records_table.c.figure == figure)
        rows = _frame(connection, rows_query)
        records = _frame(connection, records_query)
    return Trace(current.version, chosen, flow, rows, records)
