"""Any SQL ERP: a table or a query, its columns mapped to the canonical recognition ones.

The mapping and the table name come from settings, so they go through SQLAlchemy as
quoted identifiers; the operator's own query is wrapped as a subquery, never formatted
together with anything else. Values keep the types the driver gives (``Decimal`` from
PostgreSQL, text or floats from SQLite): the strict amount parser knows each of them.

Millions of lines are read in batches straight from the driver's cursor (streamed where
the database has server-side cursors), so the source asset can map each batch into the
canonical shape as it arrives instead of holding all the raw text at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.faults import is_transient
from backlog_pipeline.sources.canonical import (
    RECOGNITION_COLUMNS,
    RECOGNITION_OPTIONAL,
    ParsedTable,
    SourceError,
    parse_in_batches,
)
from backlog_pipeline.sources.local_copy import latest

MODIFIED = "last_modified"  # optional mapping key: the column of modification times
TABLE = "recognition"  # the table read, unless set


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


_BATCH = 200_000


def _batches(connection: sa.Connection, select: sa.Select) -> tuple[list[str], Iterator[list]]:
    """The column names and the rows in batches, as the driver gives them (no SQLAlchemy
    row object each)."""
    if connection.dialect.supports_server_side_cursors:
        result = connection.execution_options(stream_results=True, yield_per=_BATCH).execute(select)
        return list(result.keys()), ([tuple(row) for row in batch] for batch in result.partitions())
    compiled = select.compile(dialect=connection.dialect)
    cursor = connection.connection.cursor()
    cursor.execute(str(compiled), () if connection.dialect.positional else {})
    names = [description[0] for description in cursor.description]
    return names, iter(lambda: cursor.fetchmany(_BATCH), [])


def _read_only(connection: sa.Connection) -> None:
    """The read runs in a read-only transaction where the database has one, so an operator's
    query can never write to the ERP, whatever a parser missed (a function that writes, a
    data-modifying WITH). Other databases rely on the settings' one-SELECT check."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def recognition_batches(
    url: str,
    describe: str,
    columns: Mapping[str, str],
    table: str | None = None,
    query: str | None = None,
) -> Iterator[pd.DataFrame]:
    """The recognition rows with canonical column names, a batch at a time.

    Each batch is labelled by its rows' positions in the whole result, so a row set aside
    later is named by the same number as when the result is read as one frame.
    """
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            _read_only(connection)
            names, batches = _batches(connection, recognition_select(columns, table, query))
            start = 0
            for batch in batches:
                # Values as the driver gives them (no float coercion of Decimal).
                frame = pd.DataFrame.from_records(batch, columns=names, coerce_float=False)
                frame.index = pd.RangeIndex(start, start + len(batch))
                start += len(batch)
                yield frame
            if start == 0:
                yield pd.DataFrame({name: pd.Series(dtype=object) for name in names})
    except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        message = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise SourceError(
            f"{describe}: cannot read recognition: {message}", transient=is_transient(error)
        ) from None
    finally:
        engine.dispose()


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
) -> tuple[pd.DataFrame, str | None]:
    """The recognition rows with canonical column names, and the latest modification time."""
    frame = pd.concat(list(recognition_batches(url, describe, columns, table, query)))
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
