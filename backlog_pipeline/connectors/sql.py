"""Any SQL ERP: a table or a query, its columns mapped to the canonical recognition ones.

The mapping and the table name come from settings, so they go through SQLAlchemy as
quoted identifiers; the operator's own query is wrapped as a subquery, never formatted
together with anything else. Values keep the types the driver gives (``Decimal`` from
PostgreSQL, floats from SQLite): the strict amount parser knows each of them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa

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
            frame = pd.read_sql(recognition_select(columns, table, query), connection)
    except sa.exc.SQLAlchemyError as error:
        message = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
        raise SourceError(f"{describe}: cannot read recognition: {message}") from None
    finally:
        engine.dispose()
    mark = (
        latest(frame[MODIFIED].astype(str).where(frame[MODIFIED].notna()))
        if (MODIFIED in frame)
        else None
    )
    return frame, mark
