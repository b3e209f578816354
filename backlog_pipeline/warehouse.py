"""The warehouse schema and its plain reads and writes, on any SQLAlchemy database.

SQLite by default, PostgreSQL in CI. Versioned publication of the figures is in
:mod:`backlog_pipeline.publication`; this module holds the tables and the helpers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.canonical import QUARANTINE_COLUMNS
from backlog_pipeline.money import cents_to_decimal
from backlog_pipeline.periods import month_label

MONEY = sa.Numeric(18, 2)
metadata = sa.MetaData()


def _figure_columns() -> list[sa.Column]:
    """The flow figures and net change, as every table of figures holds them."""
    return [
        *(sa.Column(column, MONEY, nullable=False) for column in FLOW_COLUMNS),
        sa.Column("net_change", MONEY, nullable=False),
    ]


backlog_flow_table = sa.Table(
    "backlog_flow",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
    sa.Column("net_change_pct", sa.Numeric(18, 2), nullable=True),
)

contract_backlog_table = sa.Table(
    "contract_backlog",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("contract_id", sa.String(255), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
)

source_quarantine_table = sa.Table(
    "source_quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("table", sa.String(64), nullable=False),
    sa.Column("row_number", sa.Integer, nullable=True),
    sa.Column("record_id", sa.String(255), nullable=True),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("value", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Index("ix_source_quarantine_table", "table"),
)

backlog_exceptions_table = sa.Table(
    "backlog_exceptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("check_name", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("asset", sa.String(128), nullable=False),
    sa.Column("period", sa.String(7), nullable=True),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("record_id", sa.String(255), nullable=True),
    sa.Column("contract_id", sa.String(255), nullable=True),
    sa.Column("amount", MONEY, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_backlog_exceptions_check_period", "check_name", "period"),
)

publication_versions_table = sa.Table(
    "publication_versions",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("code_version", sa.String(128), nullable=False),
    sa.Column("source_marks", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("restates", sa.Integer, nullable=True),
    sa.Column("contract_rows", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
    sa.Column("net_change_pct", sa.Numeric(18, 2), nullable=True),
)

contract_backlog_history_table = sa.Table(
    "contract_backlog_history",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("contract_id", sa.String(255), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
)

backlog_source_records_table = sa.Table(
    "backlog_source_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("contract_id", sa.String(255), nullable=False),
    sa.Column("figure", sa.String(16), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(255), nullable=False),
    sa.Column("amount", MONEY, nullable=True),
    sa.Index("ix_backlog_source_records_month", "period", "version", "contract_id"),
)

period_locks_table = sa.Table(
    "period_locks",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("locked_by", sa.String(255), nullable=False),
    sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

period_lock_log_table = sa.Table(
    "period_lock_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

_INSERT_BATCH = 10_000
_CREATE_ATTEMPTS = 5


def redacted(url: str | sa.URL) -> str:
    """A connection URL fit for logs and metadata: the password is masked."""
    return sa.make_url(url).render_as_string(hide_password=True)


def create_warehouse_engine(url: str) -> sa.Engine:
    """An engine on the warehouse, its tables created if they are not there yet.

    Steps running in parallel processes may create the tables at the same moment; the
    loser's "already exists" error is retried, and the retry finds the tables there.
    """
    engine = sa.create_engine(url)
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            metadata.create_all(engine, checkfirst=True)
            return engine
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == _CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return engine


def _money_records(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, list[Decimal]]:
    return {column: [cents_to_decimal(v) for v in frame[column].tolist()] for column in columns}


def flow_records(flow: pd.DataFrame, currency: str) -> list[dict[str, object]]:
    """Flow rows as they are published: two-decimal ``Decimal`` money, ``YYYY-MM`` periods."""
    money = _money_records(flow, (*FLOW_COLUMNS, "net_change"))
    return [
        {
            "period": month_label(period),
            "currency": currency,
            **{column: values[i] for column, values in money.items()},
            "net_change_pct": flow["net_change_pct"].iloc[i],
        }
        for i, period in enumerate(flow["period"].tolist())
    ]


def contract_records(rows: pd.DataFrame, currency: str) -> list[dict[str, object]]:
    with_change = rows.assign(net_change=rows["closing"] - rows["opening"])
    money = _money_records(with_change, (*FLOW_COLUMNS, "net_change"))
    return [
        {
            "period": month_label(period),
            "contract_id": contract_id,
            "currency": currency,
            **{column: values[i] for column, values in money.items()},
        }
        for i, (period, contract_id) in enumerate(
            zip(rows["period"].tolist(), rows["contract_id"].tolist(), strict=True)
        )
    ]


def insert_rows(connection: sa.Connection, table: sa.Table, records: Sequence[dict]) -> None:
    for start in range(0, len(records), _INSERT_BATCH):
        connection.execute(table.insert(), list(records[start : start + _INSERT_BATCH]))


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
            by_label[period]: int(Decimal(value) * 100)
            for period, value in connection.execute(query)
        }


def published_closing(engine: sa.Engine, months: Iterable[int]) -> dict[int, int]:
    return published_figure(engine, months, "closing")


def read_flow(engine: sa.Engine) -> pd.DataFrame:
    """The published flow, money as ``Decimal``, ordered by period."""
    query = sa.select(backlog_flow_table).order_by(backlog_flow_table.c.period)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=[column.name for column in backlog_flow_table.columns])


def replace_quarantine(
    engine: sa.Engine, table: str, quarantine: pd.DataFrame, run_id: str
) -> None:
    """The rows set aside by the latest pull of ``table`` replace the earlier ones."""
    records = [
        {**{column: record[column] for column in QUARANTINE_COLUMNS}, "run_id": run_id}
        for record in quarantine.to_dict("records")
    ]
    with engine.begin() as connection:
        connection.execute(
            source_quarantine_table.delete().where(source_quarantine_table.c.table == table)
        )
        insert_rows(connection, source_quarantine_table, records)


def replace_exceptions(
    engine: sa.Engine,
    check_name: str,
    severity: str,
    asset: str,
    exceptions: pd.DataFrame,
    run_id: str,
    scope: tuple[int | None, int],
) -> None:
    """The findings of one check evaluation replace that check's earlier ones in its scope.

    ``scope`` is (first, last) month; first None means every month up to last. Undated
    findings are always in scope. What the check no longer finds disappears.
    """
    first, last = scope
    table = backlog_exceptions_table
    in_scope = table.c.period.is_(None) | (table.c.period <= month_label(last))
    if first is not None:
        in_scope = table.c.period.is_(None) | (
            (table.c.period >= month_label(first)) & (table.c.period <= month_label(last))
        )
    detected_at = datetime.now(UTC)
    records = [
        {
            "check_name": check_name,
            "severity": severity,
            "asset": asset,
            "period": None if pd.isna(period) else month_label(int(period)),
            "source": source,
            "record_id": None if record_id is None or pd.isna(record_id) else str(record_id),
            "contract_id": None
            if contract_id is None or pd.isna(contract_id)
            else str(contract_id),
            "amount": None if pd.isna(amount) else cents_to_decimal(int(amount)),
            "reason": reason,
            "run_id": run_id,
            "detected_at": detected_at,
        }
        for period, source, record_id, contract_id, amount, reason in exceptions[
            ["period", "source", "record_id", "contract_id", "amount", "reason"]
        ].itertuples(index=False)
    ]
    with engine.begin() as connection:
        connection.execute(table.delete().where((table.c.check_name == check_name) & in_scope))
        insert_rows(connection, table, records)
