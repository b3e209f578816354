"""A run after a locked month must continue from its published close (issue 12 item 8).

The hand dataset closes May and June at 3150.25; the late April line (support.LATE_LINE)
converts 100.00 more, so the sources now close April at 3400.25 and May and June at 3050.25.
"""

import pytest
import sqlalchemy as sa

from backlog_pipeline.periods import parse_month
from backlog_pipeline.warehouse.locks import lock_month, unlock_month
from backlog_pipeline_tests.support import (
    AFTER_LATE_LINE,
    EXPECTED,
    LATE_LINE,
    RECOGNITION,
    add_late_line,
    build,
    check_results,
    close,
    closings,
    money,
)

pytestmark = pytest.mark.slow
PUBLISHED = {period: money(figures[6]) for period, figures in EXPECTED.items()}


def _published_and_locked(tmp_path, monkeypatch, url: str, locked: str):
    defs = build(tmp_path, monkeypatch, url)
    assert close(defs, "2024-01", "2024-06").success
    engine = sa.create_engine(url)
    lock_month(engine, parse_month(locked), "Jane Roe (CFO)", "signed off")
    return defs, engine


def test_a_run_right_after_a_locked_month_the_sources_moved_is_refused(
    tmp_path, monkeypatch, warehouse_url
):
    defs, _ = _published_and_locked(tmp_path, monkeypatch, warehouse_url, "2024-05")
    add_late_line(tmp_path)
    result = close(defs, "2024-06")
    assert not result.success
    check = check_results(result)["continues_locked_close"]
    assert not check.passed and check.severity.value == "ERROR"
    summary = check.metadata["summary"].value
    assert "2024-06 would open at 3050.25, but locked month 2024-05 (locked by Jane Roe" in summary
    assert "closed at 3150.25" in summary
    assert "Unlock and restate 2024-05 first: `backlog-months unlock 2024-05" in summary
    assert closings(warehouse_url) == PUBLISHED


def test_a_run_after_published_months_past_a_lock_must_start_right_after_it(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs, engine = _published_and_locked(tmp_path, monkeypatch, url, "2024-04")
    add_late_line(tmp_path)
    # June after May (published, unlocked) after April (locked): start right after April.
    summary = check_results(close(defs, "2024-06"))["continues_locked_close"].metadata["summary"]
    assert "but 2024-05 closed at 3150.25, after locked month 2024-04" in summary.value
    assert "rerun from 2024-05 (`backlog-close --from 2024-05`)" in summary.value
    # From May: the late line is in April, so April itself moved: unlock it first.
    summary = check_results(close(defs, "2024-05", "2024-06"))["continues_locked_close"]
    assert "locked month 2024-04 (locked by" in summary.metadata["summary"].value
    assert closings(url) == PUBLISHED
    unlock_month(engine, parse_month("2024-04"), "Jane Roe", "late ERP line")
    assert close(defs, "2024-04", "2024-06").success
    assert {m: closings(url)[m] for m in AFTER_LATE_LINE} == {
        m: money(v) for m, v in AFTER_LATE_LINE.items()
    }


def test_unchanged_reruns_after_a_lock_and_unlocked_restatements_still_go_through(
    tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs, _ = _published_and_locked(tmp_path, monkeypatch, url, "2024-05")
    result = close(defs, "2024-06")
    assert result.success and check_results(result)["continues_locked_close"].passed
    # Without a lock before the run, a broken continuity is still the WARN it was.
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    defs = build(tmp_path, monkeypatch, other, name="unlocked")
    assert close(defs, "2024-01", "2024-06").success
    defs = build(
        tmp_path, monkeypatch, other, name="unlocked-late", recognition=[*RECOGNITION, LATE_LINE]
    )
    result = close(defs, "2024-06")
    assert result.success
    evaluations = check_results(result)
    assert evaluations["continues_locked_close"].passed
    assert evaluations["opening_continues_previous_close"].severity.value == "WARN"
    assert not evaluations["opening_continues_previous_close"].passed


def test_the_publishing_transaction_refuses_it_too(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from backlog_pipeline.accounting.flow import compute_backlog
    from backlog_pipeline.warehouse.locks import PeriodLockedError
    from backlog_pipeline.warehouse.versions import RunStamp, publish_versions
    from backlog_pipeline_tests.support import CHANGES, CONTRACTS, frames

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    _, engine = _published_and_locked(tmp_path, monkeypatch, url, "2024-05")
    june = parse_month("2024-06")
    contracts, changes, recognition = frames(CONTRACTS, CHANGES, [*RECOGNITION, LATE_LINE])
    rows, flow = compute_backlog(contracts, changes, recognition, june, june)
    stamp = RunStamp("no-checks-run", "test", {}, datetime.now(UTC))
    with pytest.raises(PeriodLockedError, match="locked month 2024-05"):
        publish_versions(engine, [june], flow, rows, rows.iloc[:0], "USD", stamp)
    assert closings(url) == PUBLISHED
