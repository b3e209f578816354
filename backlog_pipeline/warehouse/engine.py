"""The engine on the warehouse, its schema brought up to date on first use, and its URL
fit to show."""

from __future__ import annotations

import sqlalchemy as sa

from backlog_pipeline.warehouse.migrate import upgrade


def redacted(url: str | sa.URL) -> str:
    """A connection URL fit for logs and metadata: the password is masked."""
    return sa.make_url(url).render_as_string(hide_password=True)


def create_warehouse_engine(url: str) -> sa.Engine:
    """An engine on the warehouse, whose schema is migrated to this code's (see ``migrate``).

    A new database gets every table; one written by an earlier release is upgraded in
    place, keeping its published versions, locks and history.
    """
    engine = sa.create_engine(url)
    upgrade(engine)
    return engine
