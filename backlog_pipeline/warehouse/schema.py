"""The warehouse schema and its plain reads and writes, on any SQLAlchemy database.

SQLite by default, PostgreSQL in CI. Versioned publication of the figures is in
:mod:`backlog_pipeline.warehouse.versions`; this module holds the tables and the helpers.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.money import cents_text, cents_to_decimal
from backlog_pipeline.periods import month_label, month_labels
from backlog_pipeline.sources.canonical import QUARANTINE_COLUMNS

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


def insert_rows(
    connection: sa.Connection, table: sa.Table, records: Sequence[dict] | pd.DataFrame
) -> None:
    """Insert records (dicts of published values) or a frame (see :func:`insert_frame`)."""
    if isinstance(records, pd.DataFrame):
        insert_frame(connection, table, records)
        return
    for start in range(0, len(records), _INSERT_BATCH):
        connection.execute(table.insert(), list(records[start : start + _INSERT_BATCH]))


def insert_frame(connection: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Insert a frame's rows in bulk; its money columns (the table's NUMERIC ones) in cents.

    Millions of contract rows and source records go through here, so no row becomes a dict
    of ``Decimal`` on the way: SQLite gets ``executemany`` over plain values in large
    batches (money as the same float SQLAlchemy binds for a ``Decimal``: the double nearest
    the two-decimal figure), PostgreSQL gets ``COPY`` with the figures as exact decimal
    text, and any other database the ``Decimal`` records of :func:`insert_rows`.
    """
    names = [column.name for column in table.columns if column.name in frame.columns]
    money = {column.name for column in table.columns if isinstance(column.type, sa.Numeric)}
    dialect = connection.dialect
    if dialect.name == "sqlite":
        write = _sqlite_writer(connection, table, names)
    elif dialect.name == "postgresql" and dialect.driver == "psycopg2":
        write = _copy_writer(connection, table, names)
    else:
        write = _records_writer(connection, table, names)
    for start in range(0, len(frame), _BULK_BATCH):
        batch = frame.iloc[start : start + _BULK_BATCH]
        write({name: _values(batch[name], name in money) for name in names})


_BULK_BATCH = 100_000
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _Money:
    """A batch of amounts in cents, with the nulls marked, converted as each writer needs."""

    def __init__(self, cents: np.ndarray, null: np.ndarray) -> None:
        self.cents, self.null = cents, null

    def floats(self) -> list[float | None]:
        values = (self.cents / 100).tolist()
        return _with_nulls(values, self.null)

    def text(self) -> list[str | None]:
        return _with_nulls(cents_text(self.cents).tolist(), self.null)

    def decimals(self) -> list[Decimal | None]:
        return _with_nulls([cents_to_decimal(v) for v in self.cents.tolist()], self.null)


_Writer = Callable[[dict[str, "_Money | list"]], None]


def _with_nulls(values: list, null: np.ndarray) -> list:
    for position in np.flatnonzero(null).tolist():
        values[position] = None
    return values


def _values(column: pd.Series, is_money: bool) -> _Money | list:
    null = column.isna().to_numpy()
    if is_money:
        cents = (
            column.fillna(0).to_numpy(dtype=np.int64)
            if null.any()
            else column.to_numpy(dtype=np.int64)
        )
        return _Money(cents, null)
    values = column.tolist()
    return _with_nulls(values, null) if null.any() else values


def _sqlite_writer(connection: sa.Connection, table: sa.Table, names: list[str]) -> _Writer:
    statement = str(table.insert().compile(dialect=connection.dialect, column_keys=names))
    processors = {
        name: table.c[name].type._cached_bind_processor(connection.dialect) for name in names
    }
    cursor = connection.connection.cursor()

    def write(columns: dict[str, _Money | list]) -> None:
        lists = []
        for name, values in columns.items():
            if isinstance(values, _Money):
                lists.append(values.floats())
            elif processors[name] is not None:
                process = processors[name]
                lists.append([None if v is None else process(v) for v in values])
            else:
                lists.append(values)
        cursor.executemany(statement, zip(*lists, strict=True))

    return write


def _copy_writer(connection: sa.Connection, table: sa.Table, names: list[str]) -> _Writer:
    quote = connection.dialect.identifier_preparer
    statement = (
        f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    )
    cursor = connection.connection.cursor()

    def text(value: object) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value).translate(_COPY_ESCAPES)

    def write(columns: dict[str, _Money | list]) -> None:
        lists = [
            ["\\N" if v is None else v for v in values.text()]
            if isinstance(values, _Money)
            else [text(v) for v in values]
            for values in columns.values()
        ]
        body = "\n".join("\t".join(row) for row in zip(*lists, strict=True))
        cursor.copy_expert(statement, io.StringIO(body + "\n" if body else ""))

    return write


def _records_writer(connection: sa.Connection, table: sa.Table, names: list[str]) -> _Writer:
    def write(columns: dict[str, _Money | list]) -> None:
        lists = [v.decimals() if isinstance(v, _Money) else v for v in columns.values()]
        records = [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]
        connection.execute(table.insert(), records)

    return write


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
    rows = quarantine[list(QUARANTINE_COLUMNS)].assign(run_id=run_id)
    with engine.begin() as connection:
        connection.execute(
            source_quarantine_table.delete().where(source_quarantine_table.c.table == table)
        )
        insert_rows(connection, source_quarantine_table, rows)


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
    period = exceptions["period"]
    labels = pd.Series(month_labels(period.fillna(0)), index=exceptions.index)
    rows = pd.DataFrame(
        {
            "check_name": check_name,
            "severity": severity,
            "asset": asset,
            "period": labels.where(period.notna(), None),
            "source": exceptions["source"],
            "record_id": _text_or_none(exceptions["record_id"]),
            "contract_id": _text_or_none(exceptions["contract_id"]),
            "amount": exceptions["amount"],
            "reason": exceptions["reason"],
            "run_id": run_id,
            "detected_at": datetime.now(UTC),
        },
        index=exceptions.index,
    )
    with engine.begin() as connection:
        connection.execute(table.delete().where((table.c.check_name == check_name) & in_scope))
        insert_rows(connection, table, rows)


def _text_or_none(values: pd.Series) -> pd.Series:
    text = pd.Series(None, index=values.index, dtype=object)
    present = values.notna()
    text[present] = values[present].map(str)
    return text
