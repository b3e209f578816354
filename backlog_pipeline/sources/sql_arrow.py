"""One SELECT from a SQL source into an Arrow table of text columns: ADBC where it can.

The setting stays one SQLAlchemy URL. Where an ADBC driver exists for its dialect (SQLite,
PostgreSQL) the URL is translated to the driver's URI and the statement, compiled by
SQLAlchemy, is read straight into Arrow; any other dialect, and any ADBC error, goes
through the SQLAlchemy stream instead, with a log line saying so (a real fault, a missing
table, then fails there with the database's own words).

Every column comes out as text, exactly: NUMERIC as the database writes it (never a
float), integers and dates cast, floats as Python's ``repr`` (the value stored, shortest
form). Columns that held decimals are named in ``DECIMALS`` so :func:`to_frame` gives the
canonical mapping the same values on both paths. SQLite's ADBC driver types a column by its
first rows and writes a later REAL in a text column with six digits; a SQLite result with
any value that is not text goes through SQLAlchemy, whose values are exact.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from backlog_pipeline.sources.http import Log

DECIMALS = b"backlog/decimal_columns"  # schema metadata: the columns that held decimals
_TYPED = "@typed"  # SQLite on ADBC: how many of the row's values are not text
_BATCH = 200_000
# Decimal text the strict parsers read exactly as they read the Decimal itself.
_PLAIN_DECIMAL = re.compile(r"^-?\d{1,16}(?:\.\d{1,2})?$")


def adbc_target(url: str | sa.URL) -> tuple[str, str] | None:
    """The ADBC driver (``sqlite`` or ``postgresql``) and its URI for a SQLAlchemy URL;
    None where no driver is installed for the dialect. The URI holds the password: it is
    handed to the driver only, never logged."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return None
        return "sqlite", f"file:{parsed.database}?mode=ro"
    if backend == "postgresql":
        return "postgresql", parsed.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
    return None


def _connect(driver: str, uri: str) -> Any:
    """An ADBC DB-API connection (its module imported only when used)."""
    if driver == "sqlite":
        import adbc_driver_sqlite.dbapi as sqlite

        return sqlite.connect(uri)
    import adbc_driver_postgresql.dbapi as postgresql

    return postgresql.connect(uri)


def compiled(select: sa.Select, dialect: sa.Dialect) -> str:
    """The statement's SQL with its (validated, library-made) filter values inline."""
    return str(select.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _adbc_dialect(url: str | sa.URL) -> sa.Dialect:
    """The URL's dialect with named parameters: no ``%`` doubled for a DB-API's pyformat."""
    return sa.make_url(url).get_dialect()(paramstyle="named")


def _typed_flag(select: sa.Select) -> sa.Select:
    """The select plus ``@typed``: how many of a row's values are not text (SQLite)."""
    inner = select.subquery("read")
    flags = [sa.func.typeof(c).in_(["integer", "real", "blob"]).cast(sa.Integer) for c in inner.c]
    typed = functools.reduce(operator.add, flags)
    return sa.select(*inner.c, typed.label(_TYPED))


def _adbc_table(driver: str, uri: str, sql: str, connect: Callable[[str, str], Any]) -> pa.Table:
    with connect(driver, uri) as connection, connection.cursor() as cursor:
        if driver == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            # The DB-API connection is in a transaction (no autocommit): this one.
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
        cursor.execute(sql)
        return cursor.fetch_arrow_table()


def read_adbc(
    url: str | sa.URL,
    select: sa.Select,
    describe: str,
    log: Log,
    connect: Callable[[str, str], Any] | None = None,
) -> pa.Table | None:
    """The select read through ADBC as text columns; None when it cannot be (no driver, an
    ADBC error, a SQLite value that is not text): the caller reads through SQLAlchemy."""
    target = adbc_target(url)
    if target is None:
        log.info(f"{describe}: no ADBC driver for {sa.make_url(url).get_backend_name()}; "
                 "reading through SQLAlchemy")  # fmt: skip
        return None
    driver, uri = target
    statement = _typed_flag(select) if driver == "sqlite" else select
    sql = compiled(statement, _adbc_dialect(url))
    log.info(f"{describe}: reading through ADBC ({driver}): {sql}")
    try:
        table = _adbc_table(driver, uri, sql, connect or _connect)
    except Exception as error:  # any ADBC failure: the SQLAlchemy path reads or says why
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        password = sa.make_url(url).password
        first = first.replace(str(password), "***") if password else first
        log.warning(f"{describe}: ADBC read failed ({first}); reading through SQLAlchemy")
        return None
    if driver == "sqlite":
        typed = table.column(_TYPED)
        table = table.drop_columns([_TYPED])
        if len(table) and pc.max(typed).as_py():
            log.info(f"{describe}: some values are stored as numbers, not text; reading "
                     "through SQLAlchemy so they arrive exactly as stored")  # fmt: skip
            return None
    return as_text(table)


def _python_text(values: list[Any]) -> pa.Array:
    return pa.array([None if v is None else repr(v) if isinstance(v, float) else str(v)
                     for v in values], type=pa.string())  # fmt: skip


def _text_column(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray | pa.Array, bool]:
    """A column as exact text, and whether it held decimals."""
    kind = column.type
    if isinstance(kind, pa.BaseExtensionType):  # PostgreSQL NUMERIC: its own exact text
        storage = pa.chunked_array([c.storage for c in column.chunks], kind.storage_type)
        numeric = "numeric" in str(kind)
        return (storage.cast(pa.string()) if pa.types.is_string(kind.storage_type)
                or pa.types.is_large_string(kind.storage_type) else _python_text(
                    column.to_pylist())), numeric  # fmt: skip
    if pa.types.is_string(kind):
        return column, False
    if pa.types.is_null(kind) or pa.types.is_large_string(kind):
        return column.cast(pa.string()), False
    if pa.types.is_decimal(kind):
        return column.cast(pa.string()), True
    if pa.types.is_integer(kind) or pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return column.cast(pa.string()), False
    return _python_text(column.to_pylist()), False  # floats (repr), booleans, the rare rest


def as_text(table: pa.Table) -> pa.Table:
    """Every column as exact text; ``DECIMALS`` in the schema metadata names the decimal ones."""
    columns, decimals = [], []
    for name in table.column_names:
        column, decimal = _text_column(table.column(name))
        columns.append(column)
        if decimal:
            decimals.append(name)
    text = pa.table(columns, names=table.column_names)
    return text.replace_schema_metadata({DECIMALS: json.dumps(decimals).encode()})


def decimal_columns(table: pa.Table) -> list[str]:
    metadata = table.schema.metadata or {}
    return json.loads(metadata.get(DECIMALS, b"[]"))


def _from_rows(names: list[str], rows: list[tuple]) -> pa.Table:
    """Rows as the DB-API gives them, one Arrow column each, typed where Arrow can tell
    (transposed by numpy: one C loop, not a Python tuple per column)."""
    values = np.empty((len(rows), len(names)), dtype=object)
    values[:] = rows if rows else values
    columns = []
    for index in range(len(names)):
        column = values[:, index]
        try:
            columns.append(pa.array(column, from_pandas=False) if len(column) else
                           pa.array([], pa.string()))  # fmt: skip
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns.append(_python_text(column.tolist()))
    return pa.table(columns, names=names)


def stream_batches(connection: sa.Connection, select: sa.Select) -> Iterator[pa.Table]:
    """The select through SQLAlchemy, a batch of text columns at a time (server-side cursor
    where the database has one)."""
    if connection.dialect.supports_server_side_cursors:
        result = connection.execution_options(stream_results=True, yield_per=_BATCH).execute(select)
        names = list(result.keys())
        batches: Iterator[list] = ([tuple(r) for r in part] for part in result.partitions())
    else:
        cursor = connection.connection.cursor()
        cursor.execute(compiled(select, connection.dialect))
        names = [description[0] for description in cursor.description]
        batches = iter(lambda: cursor.fetchmany(_BATCH), [])
    produced = False
    for rows in batches:
        produced = True
        yield as_text(_from_rows(names, rows))
    if not produced:
        yield as_text(_from_rows(names, []))


def _restore_decimals(column: pa.ChunkedArray) -> pd.Series:
    """Decimal text the parsers read the same as text stays text (trailing zeros past the
    cents dropped, in Arrow); the rest (more decimals, exponents, 17 digits and more)
    becomes the ``Decimal`` the DB-API would have given."""
    trimmed = pc.replace_substring_regex(column, r"^(-?\d+\.\d\d)0+$", r"\1")
    plain = pc.fill_null(pc.match_substring_regex(trimmed, _PLAIN_DECIMAL.pattern), True)
    values = trimmed.to_pandas()
    if pc.all(plain).as_py():
        return values
    odd = np.flatnonzero(~plain.to_numpy(zero_copy_only=False))
    values.iloc[odd] = [Decimal(text) for text in column.take(odd).to_pylist()]
    return values


def to_frame(table: pa.Table, start: int = 0) -> pd.DataFrame:
    """The text table as the raw frame the canonical mapping reads: ``str`` values (None for
    null), decimals as above, labelled by position from ``start``."""
    decimals = [name for name in decimal_columns(table) if name in table.column_names]
    frame = table.drop_columns(decimals).to_pandas()
    for name in decimals:
        frame[name] = _restore_decimals(table.column(name))
    frame = frame[table.column_names]
    frame.index = pd.RangeIndex(start, start + len(frame))
    return frame
