"""What the board pack reads back from the warehouse: the published figures, exactly.

The pack draws what is published and recomputes nothing, so everything it shows comes from
here: the flow of every published month, each month's current version (restated or not,
locked or not, the run that published it), and the tables of the RPO disclosure (timing,
ratios, concentration) where this warehouse has them. A table the warehouse does not hold
(one published by a later release) reads as ``None``, and the pack says it is left out.
Money comes back as ``Decimal`` and never as a float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.schema import (
    backlog_flow_table,
    metadata,
    publication_versions_table,
)

# The RPO disclosure's tables; each is read only when the warehouse has it.
DISCLOSURE_TABLE = "rpo_disclosure"  # one row per month: the timing split
WATERFALL_TABLE = "rpo_timing_waterfall"  # 17 lines per month
RATIOS_TABLE = "backlog_ratios"  # one row per month: ratios, coverage, concentration
SLICES_TABLE = "backlog_slices"  # the flow per month and customer (and other dimensions)
TOP_CUSTOMERS = 10

Row = dict[str, Any]


class PublishedReadError(ValueError):
    """A published table that cannot be read exactly (a float where money belongs)."""


@dataclass(frozen=True)
class MonthVersion:
    """A month's current published version and whether its close is signed off."""

    period: str
    version: int
    run_id: str
    restates: int | None
    locked: bool


@dataclass(frozen=True)
class Published:
    """The published rows the packs of a run are drawn from (``period`` as ``YYYY-MM``).

    ``flow``: every published month, ascending. ``versions``: the run's months. ``tables``:
    each RPO table's rows read (see :func:`read_published`), no entry when the warehouse
    lacks the table.
    """

    currency: str | None
    flow: list[Row]
    versions: dict[str, MonthVersion]
    tables: dict[str, list[Row]] = field(default_factory=dict)

    def rows(self, table: str, period: str) -> list[Row] | None:
        """The rows of ``table`` for ``period``; None when the warehouse has no such table."""
        if table not in self.tables:
            return None
        return [row for row in self.tables[table] if row["period"] == period]


def read_published(engine: sa.Engine, months: Iterable[int]) -> Published:
    """Everything the packs of ``months`` and the trend report show, in one transaction.

    The flow and the timing split of every month (the trend and the 24-month history), the
    ratios of ``months`` and the month before (previous values), their waterfalls and their
    ten largest customers (``backlog_slices``, dimension ``customer``).
    """
    months = list(months)
    labels = [month_label(month) for month in range(months[0] - 1, months[-1] + 1)]
    with engine.connect() as connection:
        flow = _rows(connection, backlog_flow_table)
        versions = current_month_versions(connection, months)
        tables = {}
        for name, periods in (
            (DISCLOSURE_TABLE, None),
            (RATIOS_TABLE, labels),
            (WATERFALL_TABLE, labels[1:]),
        ):
            table = _table(connection, name)
            if table is not None:
                tables[name] = _rows(connection, table, periods)
        slices = _table(connection, SLICES_TABLE)
        if slices is not None:
            tables[SLICES_TABLE] = [
                row for period in labels[1:] for row in _top_customers(connection, slices, period)
            ]
    currencies = {row["currency"] for row in flow}
    if len(currencies) > 1:
        raise PublishedReadError(f"backlog_flow holds several currencies: {sorted(currencies)}")
    return Published(next(iter(currencies), None), flow, versions, tables)


def _rows(
    connection: sa.Connection, table: sa.Table, periods: list[str] | None = None
) -> list[Row]:
    query = sa.select(table).order_by(*_order(table))
    if periods is not None:
        query = query.where(table.c.period.in_(periods))
    return [_exact(dict(row), table.name) for row in connection.execute(query).mappings()]


def _top_customers(connection: sa.Connection, slices: sa.Table, period: str) -> list[Row]:
    """The month's largest customers by closing backlog, largest first (ties by id).

    SQL picks them (a CAST only orders: SQLite keeps money as text); the rows are the
    published ones, and Python orders them again on the exact figures.
    """
    query = (
        sa.select(slices)
        .where((slices.c.period == period) & (slices.c.dimension == "customer"))
        .order_by(sa.cast(slices.c.closing, sa.Numeric(18, 2)).desc(), slices.c.slice)
        .limit(TOP_CUSTOMERS)
    )
    rows = [_exact(dict(row), slices.name) for row in connection.execute(query).mappings()]
    return sorted(rows, key=lambda row: (-Decimal(str(row["closing"])), row["slice"]))


def current_month_versions(
    connection: sa.Connection, months: Iterable[int]
) -> dict[str, MonthVersion]:
    """Each published month's latest version, what it restates and whether it is locked."""
    labels = [month_label(month) for month in months]
    table = publication_versions_table
    latest = (
        sa.select(table.c.period, sa.func.max(table.c.version).label("version"))
        .where(table.c.period.in_(labels))
        .group_by(table.c.period)
        .subquery()
    )
    same = (table.c.period == latest.c.period) & (table.c.version == latest.c.version)
    query = sa.select(table.c.period, table.c.version, table.c.run_id, table.c.restates).join(
        latest, same
    )
    held = {month_label(month) for month in locks(connection, months)}
    return {
        row.period: MonthVersion(
            row.period, row.version, row.run_id, row.restates, row.period in held
        )
        for row in connection.execute(query)
    }


def _table(connection: sa.Connection, name: str) -> sa.Table | None:
    """The table as this code defines it, else as the database describes it; None if absent."""
    if not sa.inspect(connection).has_table(name):
        return None
    known = metadata.tables.get(name)
    return known if known is not None else sa.Table(name, sa.MetaData(), autoload_with=connection)


def _order(table: sa.Table) -> list[sa.Column]:
    keys = [column for column in ("period", "position") if column in table.c]
    return [table.c[key] for key in keys]


def _exact(row: Mapping[str, Any], table: str) -> Row:
    """The row as read, a float refused: money is ``Decimal`` (NUMERIC) or its exact text
    (SQLite), which the pack parses; a float has already lost the published cents."""
    exact = {}
    for name, value in row.items():
        if isinstance(value, float):
            raise PublishedReadError(
                f"{table}.{name} of {row.get('period')} reads back as the float {value!r}: "
                "the board pack shows exact published figures only"
            )
        exact[name] = value
    return exact
