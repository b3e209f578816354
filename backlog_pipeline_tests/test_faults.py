"""Faults injected into the close: afterwards the warehouse holds the previous publication or
the new one, whole, and a rerun converges on the hand-computed figures.

- a NetSuite source that drops the connection in the middle of its second page;
- a run process killed while its publishing transaction is half written;
- a warehouse connection terminated by the server during publication.

The publisher is held inside its transaction by a table lock the test takes on
``publication_versions`` (written last): reads pass, the final insert waits. That is where
the fault strikes, with the earlier deletes and inserts already made.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline_tests.fake_api import Reply
from backlog_pipeline_tests.support import (
    AFTER_LATE_LINE,
    CHANGES,
    CONTRACTS,
    EXPECTED,
    LATE_LINE,
    RECOGNITION,
    add_late_line,
    build,
    close,
    closings,
    load_definitions,
    money,
    read,
    write_sources,
)

pytestmark = pytest.mark.slow

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
MONTHS = [f"2024-0{m}" for m in range(1, 7)]


def expected_closings(late: bool) -> dict[str, object]:
    closings = {month: EXPECTED[month][6] for month in MONTHS}
    if late:
        closings.update(AFTER_LATE_LINE)
    return {month: money(value) for month, value in closings.items()}


def published(url: str) -> dict[str, pd.DataFrame]:
    """Everything a reader of the warehouse sees, in a stable order."""
    queries = {
        "flow": "SELECT * FROM backlog_flow ORDER BY period",
        "contracts": "SELECT * FROM contract_backlog ORDER BY period, contract_id",
        "versions": "SELECT period, version, run_id, content_hash FROM publication_versions "
        "ORDER BY period, version",
        "records": "SELECT * FROM backlog_source_records ORDER BY period, version, contract_id, "
        "source, record_id",
        "history": "SELECT * FROM contract_backlog_history ORDER BY period, version, contract_id",
    }
    return {name: read(url, query) for name, query in queries.items()}


def assert_same(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


# --- a source that drops mid-page ---------------------------------------------------------


def _suiteql_line(line: dict[str, str], modified: str) -> dict[str, str]:
    return {"links": [], **line, "last_modified": modified}


def _page(lines: list[dict], more: bool) -> Reply:
    return Reply(body={"links": [], "count": len(lines), "hasMore": more, "items": lines})


def test_a_source_dropping_mid_page_keeps_copy_and_publication_and_a_retry_converges(
    fake_api, tmp_path, monkeypatch
):
    crm_dir, _ = write_sources(tmp_path / "crm_export", CONTRACTS, CHANGES, [])
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    for name, value in {
        "BACKLOG_DATA_DIR": str(tmp_path / "data"),
        "BACKLOG_CRM_DIR": str(crm_dir),
        "BACKLOG_WAREHOUSE_URL": url,
        "BACKLOG_START_MONTH": "2024-01",
        "BACKLOG_END_MONTH": "2024-06",
        "BACKLOG_ERP_KIND": "netsuite",
        "BACKLOG_NETSUITE_BASE_URL": fake_api.url,
        "BACKLOG_NETSUITE_QUERY": "SELECT * FROM revenue_lines",
        "BACKLOG_NETSUITE_TOKEN": "eyJ-NETSUITE-token",
        # One HTTP attempt per page: the drop reaches the step at once.
        "BACKLOG_HTTP_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    lines = [_suiteql_line(line, "2024-05-01T00:00:00") for line in RECOGNITION]
    fake_api.script("POST", SUITEQL_PATH, _page(lines[:3], True), _page(lines[3:], False))
    assert close(load_definitions(), "2024-01", "2024-06").success
    assert closings(url) == expected_closings(late=False)
    copies = {path: path.read_bytes() for path in (tmp_path / "data" / "sources").iterdir()}
    before = published(url)

    # The late line arrives; the incremental pull's second page is cut off mid-body.
    late = _suiteql_line(LATE_LINE, "2024-07-02T00:00:00")
    monkeypatch.setenv("BACKLOG_STEP_RETRIES", "0")
    fake_api.script("POST", SUITEQL_PATH, _page([late], True), Reply(body={}, truncate=True))
    result = close(load_definitions(), "2024-01", "2024-06")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "erp_recognition"
    assert f"NetSuite: POST {fake_api.url}{SUITEQL_PATH}" in str(failure.step_failure_data.error)
    # The local copy and every published table are as they were.
    assert {path: path.read_bytes() for path in copies} == copies
    assert_same(before, published(url))

    # With step retries on (the default), the same drop is retried and the run converges.
    monkeypatch.delenv("BACKLOG_STEP_RETRIES")
    fake_api.script(
        "POST",
        SUITEQL_PATH,
        _page([late], True),
        Reply(body={}, truncate=True),
        _page([late], True),
        _page([], False),
    )
    result = close(load_definitions(), "2024-01", "2024-06")
    assert result.success
    retried = [
        e.step_key
        for e in result.all_events
        if e.event_type_value == dg.DagsterEventType.STEP_UP_FOR_RETRY.value
    ]
    assert retried == ["erp_recognition"]
    assert closings(url) == expected_closings(late=True)
    versions = published(url)["versions"]
    assert versions.groupby("period")["version"].max().to_dict() == {
        "2024-01": 1, "2024-02": 1, "2024-03": 1, "2024-04": 2, "2024-05": 2, "2024-06": 2,
    }  # fmt: skip


# --- faults during publication (PostgreSQL) -----------------------------------------------


@pytest.fixture
def held_publication(postgres_url: str) -> Iterator[sa.Connection]:
    """A connection that can hold ``publication_versions`` in EXCLUSIVE mode (reads pass)."""
    engine = sa.create_engine(postgres_url)
    connection = engine.connect()
    yield connection
    connection.close()
    engine.dispose()


def _hold(connection: sa.Connection) -> None:
    connection.execute(sa.text("LOCK TABLE publication_versions IN EXCLUSIVE MODE"))


def _release(connection: sa.Connection) -> None:
    connection.commit()


def _poll(url: str, query: str, params: dict, done, what: str, timeout: float) -> object:
    """The first value of ``query`` for which ``done(value)``, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    engine = sa.create_engine(url)
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                value = connection.execute(sa.text(query), params).scalar()
            if done(value):
                return value
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise AssertionError(f"{what} did not happen in {timeout:.0f}s")


def _waiting_publisher(url: str, not_pid: int | None = None) -> int:
    """The backend pid of this test's publisher waiting on the lock, once it waits.

    Other tests may publish into their own schemas of the same database at the same time:
    only sessions named for this test's schema (``application_name``) are looked at.
    """
    query = (
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query ILIKE 'INSERT INTO publication_versions%' "
        "AND application_name = :application "
        "AND pid <> pg_backend_pid() AND pid IS DISTINCT FROM :not_pid"
    )
    application = sa.make_url(url).query["application_name"]
    found = _poll(url, query, {"not_pid": not_pid, "application": application},
                  lambda pid: pid is not None, "a publisher reaching the locked insert",
                  120.0)  # fmt: skip
    return int(found)


def _gone(url: str, pid: int) -> None:
    query = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"
    _poll(url, query, {"pid": pid}, lambda alive: not alive, f"backend {pid} ending", 60.0)


def _start_close(*extra_env: tuple[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backlog_pipeline.cli.close",
            "--from",
            "2024-01",
            "--to",
            "2024-06",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **dict(extra_env)},
    )


def test_a_run_killed_mid_publication_leaves_the_previous_publication_whole(
    tmp_path, monkeypatch, postgres_url, held_publication
):
    assert close(build(tmp_path, monkeypatch, postgres_url), "2024-01", "2024-06").success
    before = published(postgres_url)
    add_late_line(tmp_path)

    _hold(held_publication)
    process = _start_close()
    pid = _waiting_publisher(postgres_url)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    _release(held_publication)
    _gone(postgres_url, pid)

    # The killed run's deletes and inserts were never committed.
    assert_same(before, published(postgres_url))
    assert closings(postgres_url) == expected_closings(late=False)

    # A rerun converges on the figures with the late line, as versions 2 of April to June.
    assert close(load_definitions(), "2024-01", "2024-06").success
    assert closings(postgres_url) == expected_closings(late=True)
    versions = published(postgres_url)["versions"]
    assert sorted(versions[versions["version"] == 2]["period"]) == list(AFTER_LATE_LINE)


def test_a_dropped_warehouse_connection_is_retried_and_publishes_whole(
    tmp_path, monkeypatch, postgres_url, held_publication
):
    assert close(build(tmp_path, monkeypatch, postgres_url), "2024-01", "2024-06").success
    before = published(postgres_url)
    add_late_line(tmp_path)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    _hold(held_publication)
    process = _start_close(("DAGSTER_HOME", str(home)))
    first = _waiting_publisher(postgres_url)
    admin = sa.create_engine(postgres_url)
    with admin.connect() as connection:
        assert connection.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
    admin.dispose()
    # The retry of the publish step waits on the lock again, on a new connection; meanwhile
    # the warehouse still shows the previous publication.
    _waiting_publisher(postgres_url, not_pid=first)
    assert_same(before, published(postgres_url))
    _release(held_publication)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output

    run_id = output.split("Run ")[-1].split()[0]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        retried = [
            record.step_key
            for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
        ]
    assert retried == ["publish_warehouse_tables"]
    assert closings(postgres_url) == expected_closings(late=True)
    versions = published(postgres_url)["versions"]
    assert sorted(versions[versions["version"] == 2]["period"]) == list(AFTER_LATE_LINE)


# --- a bug is not retried -------------------------------------------------------------------


def _retried_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        e.step_key
        for e in result.all_events
        if e.event_type_value == dg.DagsterEventType.STEP_UP_FOR_RETRY.value
    ]


def test_a_bug_in_mapping_a_source_fails_at_once_without_retries(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKLOG_STEP_RETRIES", "2")
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)

    def broken(raw: pd.DataFrame, source: str, currency: str, timezone: str) -> None:
        raise RuntimeError("mapping bug")

    monkeypatch.setattr("backlog_pipeline.defs.sources.parse_contracts", broken)
    result = close(defs, "2024-01", "2024-06")
    assert not result.success
    assert _retried_steps(result) == []
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["crm_contracts"]
    assert "mapping bug" in failures[0].step_failure_data.error.message


def test_a_document_that_cannot_be_written_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKLOG_STEP_RETRIES", "2")
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)

    def refused(folder: Path, record: dict) -> None:
        raise PermissionError(f"{folder} is read-only")

    monkeypatch.setattr("backlog_pipeline.defs.publish_documents.write_documents", refused)
    result = close(defs, "2024-01", "2024-06")
    assert not result.success
    assert _retried_steps(result) == []
    assert closings(url) == expected_closings(late=False)  # the warehouse was published


def test_a_warehouse_fault_while_writing_documents_is_retried(tmp_path, monkeypatch):
    from backlog_pipeline.defs import publish_documents as publish

    monkeypatch.setenv("BACKLOG_STEP_RETRIES", "2")
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    real_read_flow, calls = publish.read_flow, []

    def dropped_once(engine: sa.Engine) -> pd.DataFrame:
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real_read_flow(engine)

    monkeypatch.setattr(publish, "read_flow", dropped_once)
    result = close(defs, "2024-01", "2024-06")
    assert result.success
    assert _retried_steps(result) == ["publish_kpi_documents"]
    assert len(calls) == 2
