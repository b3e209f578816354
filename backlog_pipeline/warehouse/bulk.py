"""Bulk writes: millions of contract rows and source records into any warehouse table.

Money arrives in integer cents and leaves as the table's NUMERIC(18,2): exact decimal text
through PostgreSQL's ``COPY`` and into SQLite's text money columns (``schema.TwoDecimals``),
and ``Decimal`` records anywhere else.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv
import sqlalchemy as sa

from backlog_pipeline.money import MAX_ABS_CENTS, cents_text, cents_to_decimal, format_cents
from backlog_pipeline.warehouse.arrow_columns import arrow_column
from backlog_pipeline.warehouse.schema import TwoDecimals

_INSERT_BATCH = 10_000


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
    """Insert a frame's rows in bulk; its money columns (the table's two-decimal ones) in cents.

    Millions of contract rows and source records go through here, so no row becomes a dict
    of ``Decimal`` on the way: SQLite gets ``executemany`` over plain values in large
    batches (money as the canonical two-decimal text its money columns hold), PostgreSQL
    gets ``COPY`` with the same exact text (CSV by Arrow where every column is text,
    integer or money), and any other database the ``Decimal`` records
    of :func:`insert_rows`. Every amount in cents is within NUMERIC(18,2) (publication
    checks the figures first, the parsers the source amounts), so the text is the figure.
    """
    names = [column.name for column in table.columns if column.name in frame.columns]
    money = {column.name for column in table.columns if isinstance(column.type, TwoDecimals)}
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg2":
        if _copy_csv(connection, table, names, frame):
            return
    if dialect.name == "sqlite":
        write = _sqlite_writer(connection, table, names)
    elif dialect.name == "postgresql" and dialect.driver == "psycopg2":
        write = _copy_writer(connection, table, names)
    else:
        write = _records_writer(connection, table, names)
    for start in range(0, len(frame), _BULK_BATCH):
        batch = frame.iloc[start : start + _BULK_BATCH]
        columns = {name: _values(batch[name], name in money) for name in names}
        for name, values in columns.items():
            if isinstance(values, _Money):
                values.require_fit(f"{table.name}.{name}")
        write(columns)


_BULK_BATCH = 100_000
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _Money:
    """A batch of amounts in cents, with the nulls marked, converted as each writer needs."""

    def __init__(self, cents: np.ndarray, null: np.ndarray) -> None:
        self.cents, self.null = cents, null

    def require_fit(self, column: str) -> None:
        """Every database refuses what NUMERIC(18,2) cannot hold, SQLite's text included."""
        beyond = np.flatnonzero((np.abs(self.cents) > MAX_ABS_CENTS) & ~self.null)
        if len(beyond):
            value = format_cents(int(self.cents[beyond[0]]))
            raise ValueError(f"{column}: {value} does not fit NUMERIC(18,2)")

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
        cents = column.to_numpy(dtype=np.int64, na_value=0)
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
                lists.append(values.text())
            elif processors[name] is not None:
                process = processors[name]
                lists.append([None if v is None else process(v) for v in values])
            else:
                lists.append(values)
        cursor.executemany(statement, zip(*lists, strict=True))

    return write


def _copy_csv(
    connection: sa.Connection, table: sa.Table, names: list[str], frame: pd.DataFrame
) -> bool:
    """``COPY`` in CSV written by Arrow's CSV writer (C++, not a Python string per value),
    batch by batch; False, with nothing written, if a column's type needs the text route.
    Every value is quoted but nulls, so an empty text stays a text and a null a NULL."""
    quote = connection.dialect.identifier_preparer
    statement = (
        f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) "
        "FROM STDIN WITH (FORMAT csv)"
    )
    options = pv.WriteOptions(include_header=False, quoting_style="all_valid")
    cursor = connection.connection.cursor()
    for start in range(0, max(len(frame), 1), _BULK_BATCH):
        batch = frame.iloc[start : start + _BULK_BATCH]
        arrays = [arrow_column(table, name, batch[name]) for name in names]
        if any(array is None for array in arrays):
            if start:
                raise TypeError(f"{table.name}: a column changed type between batches")
            return False
        body = io.BytesIO()
        pv.write_csv(pa.table(arrays, names=names), body, options)
        body.seek(0)
        cursor.copy_expert(statement, body)
    return True


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
