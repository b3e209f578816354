"""A small table of a source database (exchange rates, a revenue plan) read whole, exactly as
the driver gives its values (``Decimal`` from NUMERIC, text from SQLite), for a strict parser."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa


class TableUnreadable(Exception):
    """The table could not be read; the message is the database's first line."""


def read_small_table(url: str, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` of ``table`` (``name`` or ``schema.name``, sent as a quoted identifier)."""
    schema, _, name = table.rpartition(".")
    selected = sa.table(name, *(sa.column(column) for column in columns), schema=schema or None)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.select(*selected.c))
            return pd.DataFrame(result.all(), columns=list(result.keys()), dtype=object)
    except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        raise TableUnreadable(str(getattr(error, "orig", None) or error).splitlines()[0]) from None
    finally:
        engine.dispose()
