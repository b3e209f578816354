"""Schema migrations: every warehouse is brought to this code's schema before it is used.

Alembic holds the history of the schema (``migrations/versions``); this module runs it on
the warehouse an engine points at. An empty database is created at the latest revision;
a warehouse written by the first release (its tables, no ``alembic_version``) is stamped
at revision 0001 and upgraded from there, so its versions, locks and history are kept.

Steps of one run, and several runs, open the warehouse at the same moment: the upgrade
runs under a lock that spans processes (an advisory lock on PostgreSQL, a lock file
beside a SQLite database), and a warehouse already at the head is not locked at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_RELEASE = "0001"
# A table every first-release warehouse has.
_FIRST_RELEASE_TABLE = "publication_versions"
# Any number both PostgreSQL sessions agree on; it names the warehouse's migration lock.
_ADVISORY_LOCK = 0x6261636B6C6F67  # "backlog"
_IN_PROCESS = threading.Lock()


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The revision this code's schema is at."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migration in {MIGRATIONS}")
    return revision


def current_revision(connection: sa.Connection) -> str | None:
    """The revision a warehouse is at; None when it was never migrated (empty or first release)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine) -> None:
    """Bring the warehouse to :func:`head`; nothing to do (and no lock) when it is there."""
    with engine.connect() as connection:
        if current_revision(connection) == head():
            return
    with _migration_lock(engine), engine.begin() as connection:
        revision = current_revision(connection)
        if revision == head():
            return  # another process upgraded it while this one waited
        config = _config(connection)
        if revision is None and sa.inspect(connection).has_table(_FIRST_RELEASE_TABLE):
            command.stamp(config, FIRST_RELEASE)
        command.upgrade(config, "head")


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    with _IN_PROCESS:
        if engine.dialect.name == "postgresql":
            with engine.connect() as holder:
                holder.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK})
                try:
                    yield
                finally:
                    holder.execute(
                        sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK}
                    )
                    holder.commit()
        elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            with open(f"{engine.url.database}.migrate.lock", "a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)
        else:
            yield
