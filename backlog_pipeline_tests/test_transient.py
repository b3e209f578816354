"""One classification of transient faults, tried on real SQLite files and a real PostgreSQL.

Transient: a locked SQLite file, a dropped or refused connection. Not transient: a
read-only or full database, refused credentials, a disk without space. Tests run as root
here, where file modes do not stop a write, so a read-only SQLite database is opened
read-only (``mode=ro``) rather than made read-only with chmod.
"""

import errno
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from backlog_pipeline.faults import describe, is_transient
from backlog_pipeline.sources.canonical import SourceError
from backlog_pipeline.sources.http import ConnectorError
from backlog_pipeline.sources.sql import read_recognition
from backlog_pipeline_tests.support import POSTGRES_URL


def _database(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE recognition (line_id, contract_id, period, amount)"
        )
        connection.exec_driver_sql("INSERT INTO recognition VALUES ('L1', 'C1', '2024-01', '1.00')")
    engine.dispose()
    return url


def _error_of(url: str, statement: str, **connect_args) -> sa.exc.DBAPIError:
    engine = sa.create_engine(url, connect_args=connect_args)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    except sa.exc.DBAPIError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError(f"{statement} did not fail")


def test_a_read_only_sqlite_database_is_not_transient(tmp_path):
    _database(tmp_path / "w.sqlite")
    read_only = f"sqlite:///file:{tmp_path / 'w.sqlite'}?mode=ro&uri=true"
    error = _error_of(read_only, "DELETE FROM recognition")
    assert "attempt to write a readonly database" in str(error.orig)
    assert not is_transient(error)
    assert describe(error) == "OperationalError: attempt to write a readonly database"


def test_a_full_sqlite_database_is_not_transient(tmp_path):
    url = _database(tmp_path / "w.sqlite")
    engine = sa.create_engine(url)
    with pytest.raises(sa.exc.OperationalError) as raised, engine.begin() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
        for _ in range(100):
            connection.exec_driver_sql(
                "INSERT INTO recognition VALUES (?, 'C1', '2024-01', '1.00')", ("x" * 4000,)
            )
    engine.dispose()
    assert "database or disk is full" in str(raised.value.orig)
    assert not is_transient(raised.value)


def test_a_locked_erp_file_is_transient_and_the_reader_says_so(tmp_path):
    url = _database(tmp_path / "erp.sqlite")
    # The lock is held by another process, as an ERP holds it: SQLite's locks are POSIX
    # locks, which two SQLite libraries in one process (Python's, ADBC's) do not see.
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "erp.sqlite")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        error = _error_of(url, "SELECT * FROM recognition", timeout=0)
        assert "database is locked" in str(error.orig)
        assert is_transient(error)
        with pytest.raises(SourceError, match="database is locked") as raised:
            read_recognition(f"{url}?timeout=0", "test ERP", {})
        assert raised.value.transient
    finally:
        holder.communicate("done\n", timeout=30)
    frame, _ = read_recognition(url, "test ERP", {})
    assert frame["line_id"].tolist() == ["L1"]


_HOLD_LOCK = """
import sqlite3, sys
holder = sqlite3.connect(sys.argv[1])
holder.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
holder.rollback()
"""


def test_a_missing_erp_table_is_not_transient(tmp_path):
    url = _database(tmp_path / "erp.sqlite")
    with pytest.raises(SourceError, match="no such table: ledger") as raised:
        read_recognition(url, "test ERP", {}, table="ledger")
    assert not raised.value.transient


@pytest.mark.usefixtures("postgres_url")
def test_postgresql_faults_by_their_sqlstate(postgres_url):
    # A read-only transaction (SQLSTATE 25006): not transient.
    read_only = _error_of(
        postgres_url, "CREATE TABLE t (x int)", options="-c default_transaction_read_only=on"
    )
    assert getattr(read_only.orig, "pgcode", None) == "25006"
    assert not is_transient(read_only)
    # Credentials the server refuses: not transient.
    stranger = sa.make_url(POSTGRES_URL).set(username="no_such_role_12")
    refused = _error_of(stranger.render_as_string(hide_password=False), "SELECT 1")
    assert "no_such_role_12" in str(refused.orig)
    assert not is_transient(refused)
    # Nobody listening: transient.
    closed = sa.make_url(POSTGRES_URL).set(port=1).render_as_string(hide_password=False)
    assert is_transient(_error_of(closed, "SELECT 1"))
    with pytest.raises(SourceError) as raised:
        read_recognition(closed, "test ERP", {})
    assert raised.value.transient


@pytest.mark.usefixtures("postgres_url")
def test_a_terminated_postgresql_backend_is_transient(postgres_url):
    engine = sa.create_engine(postgres_url)
    admin = sa.create_engine(POSTGRES_URL)
    with engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with admin.begin() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        with pytest.raises(sa.exc.DBAPIError) as raised:
            connection.exec_driver_sql("SELECT 1")
    engine.dispose()
    admin.dispose()
    assert is_transient(raised.value)


def test_files_http_and_connector_errors():
    assert not is_transient(OSError(errno.ENOSPC, "No space left on device"))
    assert not is_transient(PermissionError(errno.EACCES, "Permission denied"))
    assert is_transient(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    assert is_transient(requests.exceptions.ConnectionError("refused"))
    assert is_transient(requests.exceptions.ReadTimeout("slow"))
    assert not is_transient(ConnectorError("S", "GET x", "not JSON", 200, transient=False))
    assert is_transient(ConnectorError("S", "GET x", "gave up", 503, transient=True))
    assert not is_transient(ValueError("bad data"))
