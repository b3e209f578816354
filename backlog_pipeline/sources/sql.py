"""Any SQL ERP: a table or a query, its columns mapped to the canonical recognition ones.

The mapping and the table name come from settings, so they go through SQLAlchemy as
quoted identifiers; the operator's own query is wrapped as a subquery, never formatted
together with anything else. The rows are read into Arrow as exact text through ADBC where
a driver exists for the URL, else through SQLAlchemy (``sql_arrow``); NUMERIC never
passes through a float. ``sql_pull`` keeps them in a local snapshot and asks the source
only for what changed (``changed_select``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TIMESTAMP

from backlog_pipeline.faults import is_transient
from backlog_pipeline.sources.canonical import (
    RECOGNITION_COLUMNS,
    RECOGNITION_OPTIONAL,
    ParsedTable,
    SourceError,
    parse_in_batches,
)
from backlog_pipeline.sources.http import Log
from backlog_pipeline.sources.local_copy import latest
from backlog_pipeline.sources.sql_arrow import (
    compiled,
    read_adbc,
    stream_batches,
    to_frame,
)

MODIFIED = "last_modified"  # optional mapping key: the column of modification times
TABLE = "recognition"  # the table read, unless set
_BATCH = 200_000
_LOG = logging.getLogger(__name__)
TIMESTAMPTZ = TIMESTAMP(timezone=True)
_MARK = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_MONTH = re.compile(r"\d{4}-\d{2}")


def recognition_select(
    columns: Mapping[str, str], table: str | None = None, query: str | None = None
) -> sa.Select:
    """``SELECT source AS canonical, ...`` over ``schema.table`` or over ``(query)``.

    The optional columns (``amount_reporting``, ``last_modified``) are read only when mapped.
    """
    wanted = {
        key: columns.get(key, key)
        for key in (*RECOGNITION_COLUMNS, *RECOGNITION_OPTIONAL, MODIFIED)
        if key in RECOGNITION_COLUMNS or key in columns
    }
    if query is not None:
        source = (
            sa.text(query.strip().rstrip(";"))
            .columns(*(sa.column(name) for name in dict.fromkeys(wanted.values())))
            .subquery("source")
        )
    else:
        schema, _, name = (table or TABLE).rpartition(".")
        source = sa.table(
            name, *(sa.column(n) for n in dict.fromkeys(wanted.values())), schema=schema or None
        )
    return sa.select(*(source.c[name].label(key) for key, name in wanted.items()))


def _modified_since(column: sa.ColumnElement, since: str, dialect: str) -> sa.ColumnElement:
    """Rows modified at or after ``since`` (a mark made by ``latest``), and rows without a
    readable time: compared as instants, not as text, whatever the column's type."""
    if dialect == "sqlite":
        when = sa.func.julianday(column)
        return sa.or_(when >= sa.func.julianday(since), when.is_(None))
    if dialect == "postgresql":
        return sa.or_(
            sa.cast(column, TIMESTAMPTZ) >= sa.cast(sa.literal(since), TIMESTAMPTZ),
            column.is_(None),
        )
    return sa.or_(column >= since, column.is_(None))


def _open_periods(column: sa.ColumnElement, first: str, dialect: str) -> sa.ColumnElement:
    """Rows of month ``first`` (``YYYY-MM``) and later, and rows without a period: as text,
    so ``2024-05`` and ``2024-05-31`` and a DATE all sort by their month (byte order)."""
    text = sa.cast(column, sa.Text)
    if dialect == "postgresql":
        text = text.collate("C")
    return sa.or_(text >= first, column.is_(None))


def changed_select(
    select: sa.Select, dialect: str, since: str | None = None, open_from: str | None = None
) -> sa.Select:
    """``select`` asking only for the rows changed since the mark, or, with no mapped
    modification column, those of the months not yet closed; the filter values are checked
    here, since they are written into the SQL sent."""
    rows = select.subquery("source_rows")
    query = sa.select(*rows.c)
    if since is not None:
        if not _MARK.fullmatch(since):
            raise ValueError(f"not a high-water mark: {since!r}")
        query = query.where(_modified_since(rows.c[MODIFIED], since, dialect))
    if open_from is not None:
        if not _MONTH.fullmatch(open_from):
            raise ValueError(f"not a month: {open_from!r}")
        query = query.where(_open_periods(rows.c["period"], open_from, dialect))
    return query


def count_select(select: sa.Select) -> sa.Select:
    """How many rows ``select`` returns: the reconciliation's cheap question."""
    return sa.select(sa.func.count()).select_from(select.subquery("counted"))


def _source_error(describe: str, error: BaseException) -> SourceError:
    message = str(getattr(error, "orig", None) or error).splitlines()[0]
    return SourceError(
        f"{describe}: cannot read recognition: {message}", transient=is_transient(error)
    )


def _read_only(connection: sa.Connection) -> None:
    """The read runs in a read-only transaction where the database has one, so an operator's
    query can never write to the ERP, whatever a parser missed (a function that writes, a
    data-modifying WITH). Other databases rely on the settings' one-SELECT check."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")


def read_sqlalchemy(url: str, describe: str, select: sa.Select, log: Log) -> pa.Table:
    """The select through SQLAlchemy's stream, as text columns (see ``sql_arrow``)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            _read_only(connection)
            log.info(f"{describe}: reading through SQLAlchemy: {compiled(select, engine.dialect)}")
            return pa.concat_tables(stream_batches(connection, select))
    except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        raise _source_error(describe, error) from None
    finally:
        engine.dispose()


def read_select(url: str, describe: str, select: sa.Select, log: Log | None = None) -> pa.Table:
    """Any select from a SQL source as an Arrow table of exact text: ADBC where a driver
    exists and reads it, else SQLAlchemy. Reusable for other ERP tables."""
    log = log or _LOG
    table = read_adbc(url, select, describe, log)
    return table if table is not None else read_sqlalchemy(url, describe, select, log)


def count_rows(url: str, describe: str, select: sa.Select) -> int:
    """The rows the source's select returns now, counted by the database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            _read_only(connection)
            return int(connection.execute(count_select(select)).scalar_one())
    except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        raise _source_error(describe, error) from None
    finally:
        engine.dispose()


def recognition_batches(
    url: str,
    describe: str,
    columns: Mapping[str, str],
    table: str | None = None,
    query: str | None = None,
    log: Log | None = None,
) -> Iterator[pd.DataFrame]:
    """The recognition rows with canonical column names, a batch at a time.

    Each batch is labelled by its rows' positions in the whole result, so a row set aside
    later is named by the same number as when the result is read as one frame.
    """
    read = read_select(url, describe, recognition_select(columns, table, query), log)
    yield from frame_batches(read)


def frame_batches(table: pa.Table, size: int = _BATCH) -> Iterator[pd.DataFrame]:
    """A text table as raw frames of ``size`` rows, labelled by position."""
    if not len(table):
        yield to_frame(table)
        return
    for start in range(0, len(table), size):
        yield to_frame(table.slice(start, size), start)


def high_water_mark(frame: pd.DataFrame) -> str | None:
    """The latest modification time in the rows (None without the column or a value)."""
    if MODIFIED not in frame:
        return None
    return latest(frame[MODIFIED].astype(str).where(frame[MODIFIED].notna()))


def read_recognition(
    url: str,
    describe: str,
    columns: Mapping[str, str],
    table: str | None = None,
    query: str | None = None,
    log: Log | None = None,
) -> tuple[pd.DataFrame, str | None]:
    """The recognition rows with canonical column names, and the latest modification time."""
    frame = pd.concat(list(recognition_batches(url, describe, columns, table, query, log)))
    return frame, high_water_mark(frame)


def read_parsed_recognition(
    url: str,
    describe: str,
    columns: Mapping[str, str],
    table: str | None,
    query: str | None,
    parse: Callable[[pd.DataFrame], ParsedTable],
) -> tuple[ParsedTable, int, str | None]:
    """The recognition rows mapped by ``parse`` batch by batch as they stream in, the number
    of rows read and the latest modification time among them."""
    marks: list[str] = []

    def batches() -> Iterator[pd.DataFrame]:
        for raw in recognition_batches(url, describe, columns, table, query):
            mark = high_water_mark(raw)
            if mark is not None:
                marks.append(mark)
            yield raw

    parsed, count = parse_in_batches(batches(), parse)
    return parsed, count, max(marks, default=None)
