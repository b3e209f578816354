"""Any SQL ERP: a table or a query, its columns mapped to the canonical recognition ones.

The mapping and the table name come from settings, so they go through SQLAlchemy as
quoted identifiers; the operator's own query is wrapped as a subquery, never formatted
together with anything else. Values keep the types the driver gives (``Decimal`` from
PostgreSQL, floats from SQLite): the strict amount parser knows each of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pandas.api.types import infer_dtype

from backlog_pipeline.canonical import RECOGNITION_COLUMNS, SourceError
from backlog_pipeline.connectors.incremental import latest

MODIFIED = "last_modified"  # optional mapping key: the column of modification times


def recognition_select(
    columns: Mapping[str, str], table: str | None = None, query: str | None = None
) -> sa.Select:
    """``SELECT source AS canonical, ...`` over ``schema.table`` or over ``(query)``."""
    wanted = {key: columns.get(key, key) for key in (*RECOGNITION_COLUMNS, MODIFIED)}
    if MODIFIED not in columns:
        del wanted[MODIFIED]
    if query is not None:
        source = (
            sa.text(query.strip().rstrip(";"))
            .columns(*(sa.column(name) for name in dict.fromkeys(wanted.values())))
            .subquery("source")
        )
    else:
        schema, _, name = (table or "recognition").rpartition(".")
        source = sa.table(
            name, *(sa.column(n) for n in dict.fromkeys(wanted.values())), schema=schema or None
        )
    return sa.select(*(source.c[name].label(key) for key, name in wanted.items()))


_BATCH = 200_000


def _batches(connection: sa.Connection, select: sa.Select) -> tuple[list[str], Iterator[list]]:
    """The column names and the rows in batches, as the driver gives them.

    Millions of ERP lines: the rows go from the driver's cursor straight into columns,
    without a SQLAlchemy row object each. A database with server-side cursors streams them.
    """
    if connection.dialect.supports_server_side_cursors:
        result = connection.execution_options(stream_results=True, yield_per=_BATCH).execute(select)
        return list(result.keys()), ([tuple(row) for row in batch] for batch in result.partitions())
    compiled = select.compile(dialect=connection.dialect)
    cursor = connection.connection.cursor()
    cursor.execute(str(compiled), () if connection.dialect.positional else {})
    names = [description[0] for description in cursor.description]
    return names, iter(lambda: cursor.fetchmany(_BATCH), [])


class _Shared:
    """Hands out one object per distinct text of a column: a period or a contract id repeated
    over millions of lines is held once, and hashed once when it is looked up later. A
    column that turns out mostly unique (the line ids) is left alone after its first batch.
    """

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}
        self.worth_it = True
        self.decided = False

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if not self.worth_it or infer_dtype(values, skipna=False) != "string":
            return values
        keep = self.seen.setdefault
        shared = np.empty(len(values), dtype=object)
        shared[:] = list(map(keep, values, values))
        if not self.decided:
            self.decided = True
            self.worth_it = len(self.seen) <= len(values) // 2
            if not self.worth_it:
                self.seen.clear()
        return shared


def _as_table(batch: list[tuple], width: int) -> np.ndarray:
    """The rows as a two-dimensional object array, one column per field."""
    table = np.empty((len(batch), width), dtype=object)
    try:
        table[:] = batch
    except ValueError:  # a value numpy takes for a sequence of its own: one cell at a time
        for position, row in enumerate(batch):
            for field, value in enumerate(row):
                table[position, field] = value
    return table


def _read_in_batches(connection: sa.Connection, select: sa.Select) -> pd.DataFrame:
    names, batches = _batches(connection, select)
    shared = [_Shared() for _ in names]
    parts: list[list[np.ndarray]] = [[] for _ in names]
    for batch in batches:
        table = _as_table(batch, len(names))
        for position in range(len(names)):
            parts[position].append(shared[position](table[:, position].copy()))
    return pd.DataFrame(
        {
            name: np.concatenate(chunks) if chunks else np.empty(0, dtype=object)
            for name, chunks in zip(names, parts, strict=True)
        }
    ).infer_objects()


def read_recognition(
    url: str,
    describe: str,
    columns: Mapping[str, str],
    table: str | None = None,
    query: str | None = None,
) -> tuple[pd.DataFrame, str | None]:
    """The recognition rows with canonical column names, and the latest modification time."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            frame = _read_in_batches(connection, recognition_select(columns, table, query))
    except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        message = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise SourceError(f"{describe}: cannot read recognition: {message}") from None
    finally:
        engine.dispose()
    mark = (
        latest(frame[MODIFIED].astype(str).where(frame[MODIFIED].notna()))
        if (MODIFIED in frame)
        else None
    )
    return frame, mark
