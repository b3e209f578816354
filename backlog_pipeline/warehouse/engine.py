"""The engine on the warehouse, its schema brought up to date on first use, and its URL
fit to show."""

from __future__ import annotations

import sqlalchemy as sa

from backlog_pipeline.warehouse.migrate import upgrade


class WarehouseUnavailable(Exception):
    """The warehouse cannot be opened; the message names it (password masked) and why."""


class WarehouseFault(Exception):
    """A warehouse write that failed, named as such (not as the step's source or figure);
    ``transient`` as ``faults.is_transient`` read the database's error."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def redacted(url: str | sa.URL) -> str:
    """A connection URL fit for logs and metadata: the password is masked."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<a URL SQLAlchemy cannot read>"


def fault_reason(error: BaseException) -> str:
    """The first line of what the database driver said, without SQLAlchemy's wrapping."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def open_warehouse(url: str) -> sa.Engine:
    """:func:`create_warehouse_engine`, failing with a message that says which warehouse
    could not be opened and why (a folder that is not there, a refused connection, a
    driver that is not installed), never an empty one."""
    try:
        return create_warehouse_engine(url)
    except (sa.exc.SQLAlchemyError, OSError, ImportError) as error:
        raise WarehouseUnavailable(
            f"The warehouse {redacted(url)} cannot be opened: {fault_reason(error)}"
        ) from error


def create_warehouse_engine(url: str) -> sa.Engine:
    """An engine on the warehouse, whose schema is migrated to this code's (see ``migrate``).

    A new database gets every table; one written by an earlier release is upgraded in
    place, keeping its published versions, locks and history.
    """
    engine = sa.create_engine(url)
    upgrade(engine)
    return engine
