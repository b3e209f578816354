"""The engine on the warehouse, its tables created on first use, and its URL fit to show."""

from __future__ import annotations

import time

import sqlalchemy as sa

from backlog_pipeline.warehouse.schema import metadata

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
