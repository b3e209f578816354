"""Which faults are transient: the one classification every retry decision uses.

A transient fault may pass if the same work is tried again later: a dropped or refused
connection, a timeout, a database busy or locked by another writer, a server restarting.
Anything else fails at once with its own message, because a retry would fail the same way
and only delay the operator: refused credentials, a read-only or full database or disk, a
missing table, a page that is not the API's JSON, bad data.

The HTTP connectors classify their own calls (``sources.http.ConnectorError.transient``);
SQL sources say what they met (``SourceError.transient``); database errors are read by
their codes (SQLite's result codes, PostgreSQL's SQLSTATE) rather than their wording where
the driver gives one. Plain Python, no Dagster: ``defs/policies.py`` turns it into retries.
"""

from __future__ import annotations

import errno
import sqlite3

import requests
import sqlalchemy as sa

# HTTP: the statuses worth another try (rate limited, the server failing or restarting)
# and the transport failures (refused or reset connections, timeouts, a body cut short:
# urllib3's IncompleteRead surfaces as ChunkedEncodingError). ``sources.http`` retries these
# within a call; a call that still fails is a ConnectorError saying whether it was one.
HTTP_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
HTTP_TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)

# SQLite result codes: another connection holds the file (BUSY) or a table (LOCKED).
_SQLITE_TRANSIENT = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
# PostgreSQL SQLSTATEs worth another try: connection exceptions (class 08), the server
# shutting down or starting (57P01-57P03), a transaction that lost a race (40001, 40P01),
# too many connections (53300), a lock or statement timeout (55P03, 57014).
_PG_TRANSIENT_CLASSES = ("08",)
_PG_TRANSIENT = {"57P01", "57P02", "57P03", "40001", "40P01", "53300", "55P03", "57014"}
# A connection the server refused for who is asking, not for being busy: no SQLSTATE
# reaches the client for these (libpq reports them while connecting), only their words.
_REFUSED_LOGIN = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "permission denied",
    "authentication",
    "ssl",
)
# Errors a retry cannot mend, in the words of drivers that give no code.
_PERMANENT_WORDS = ("read-only", "readonly", "disk is full", "disk full", "no space left")
# Filesystem faults worth another try (a busy or interrupted call); the others (no space,
# read-only, refused, not there) are not. Refused or reset connections and timeouts are
# OSErrors too, and transient: ConnectionError and TimeoutError.
_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EINTR}


def _operational(error: BaseException) -> bool:
    """An error of the connection or the server rather than of the statement (PEP 249's
    OperationalError and InterfaceError), as SQLAlchemy or the driver classed it."""
    kinds = (sa.exc.OperationalError, sa.exc.InterfaceError)
    return isinstance(error, kinds) or type(error).__name__ in (
        "OperationalError",
        "InterfaceError",
    )


def _postgres(original: BaseException, error: BaseException) -> bool:
    code = getattr(original, "pgcode", None)
    if code:
        return code[:2] in _PG_TRANSIENT_CLASSES or code in _PG_TRANSIENT
    text = str(original).lower()
    if any(words in text for words in _REFUSED_LOGIN):
        return False
    # No SQLSTATE: the connection failed or broke (refused, reset, closed, timed out).
    return _operational(error)


def _database_fault_is_transient(error: BaseException) -> bool:
    """A database error (SQLAlchemy's or the driver's own), read by the driver's code where
    it has one: SQLite's result code, PostgreSQL's SQLSTATE."""
    original = getattr(error, "orig", None) or error
    if getattr(error, "connection_invalidated", False):  # SQLAlchemy saw the connection drop
        return True
    if isinstance(original, sqlite3.Error):
        return getattr(original, "sqlite_errorcode", None) in _SQLITE_TRANSIENT
    if type(original).__module__.startswith("psycopg"):
        return _postgres(original, error)
    if any(words in str(original).lower() for words in _PERMANENT_WORDS):
        return False
    return _operational(error)


def is_transient(error: BaseException) -> bool:
    """Whether a later attempt may succeed where this one failed."""
    flagged = getattr(error, "transient", None)
    if isinstance(flagged, bool):  # ConnectorError, SourceError: the source said
        return flagged
    if isinstance(error, sa.exc.DBAPIError | sqlite3.Error) or type(error).__module__.startswith(
        "psycopg"
    ):
        return _database_fault_is_transient(error)
    if isinstance(error, (ConnectionError, TimeoutError, *HTTP_TRANSIENT_ERRORS)):
        return True
    if isinstance(error, OSError):
        return error.errno in _TRANSIENT_ERRNOS
    return False


def describe(error: BaseException) -> str:
    """One line for the error: a database's own words without SQLAlchemy's statement and
    parameters (which can be long, and hold data), anything else as it says itself."""
    if isinstance(error, sa.exc.DBAPIError) and error.orig is not None:
        text = str(error.orig).strip()
        return f"{type(error.orig).__name__}: {text.splitlines()[0] if text else ''}"
    return str(error) or type(error).__name__
