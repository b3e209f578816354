"""The late-data sensor on the hand dataset: a late April line changes April to June."""

from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.periods import parse_month
from backlog_pipeline.warehouse.locks import lock_month, unlock_month
from backlog_pipeline_tests.support import (
    AFTER_LATE_LINE,
    add_late_line,
    build,
    close,
    closings,
    money,
)

pytestmark = pytest.mark.slow


def _tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("late_data_sensor")
    with dg.build_sensor_context(
        cursor=cursor, resources=defs.resources, instance=instance
    ) as context:
        result = sensor(context)
    return result if isinstance(result, dg.SensorResult) else dg.SensorResult(skip_reason=result)


def evaluate(defs: dg.Definitions, cursor: str | None = None) -> dg.SensorResult:
    """A tick, and when it asks for a scan, the scan run, then the tick that reads it: what
    the daemon does over two ticks. Returns the last tick's result."""
    instance = dg.DagsterInstance.ephemeral()
    first = _tick(defs, instance, cursor)
    scans = [r for r in first.run_requests or [] if r.job_name == "late_data_scan"]
    if not scans:
        return first
    scan = defs.resolve_job_def("late_data_scan").execute_in_process(
        instance=instance, tags=scans[0].tags
    )
    assert scan.success
    return _tick(defs, instance, first.cursor)


def ranges(result: dg.SensorResult) -> list[tuple[str, str]]:
    return [
        (
            request.tags["dagster/asset_partition_range_start"][:7],
            request.tags["dagster/asset_partition_range_end"][:7],
        )
        for request in result.run_requests or []
    ]


def test_unchanged_sources_skip_and_a_late_line_requests_the_months_it_changes(
    tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    assert evaluate(defs).skip_reason.skip_message == "nothing is published yet"
    assert close(defs, "2024-01", "2024-06").success
    unchanged = evaluate(defs)
    assert not unchanged.run_requests
    assert "not changed" in unchanged.skip_reason.skip_message

    add_late_line(tmp_path)
    late = evaluate(defs)
    assert ranges(late) == [("2024-04", "2024-06")]
    request = late.run_requests[0]
    assert request.tags["backlog/late_data"] == "true"
    # The same late data asks for the same run key, so the daemon launches it once.
    assert evaluate(defs).run_requests[0].run_key == request.run_key

    # The requested run restates April to June; afterwards the sensor is quiet again.
    assert close(defs, "2024-04", "2024-06").success
    assert {m: closings(url)[m] for m in AFTER_LATE_LINE} == {
        m: money(v) for m, v in AFTER_LATE_LINE.items()
    }
    assert not evaluate(defs).run_requests


def test_a_locked_month_is_flagged_not_rerun(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    assert close(defs, "2024-01", "2024-06").success
    engine = sa.create_engine(url)
    lock_month(engine, parse_month("2024-05"), "controller", "May board pack sent")
    add_late_line(tmp_path)

    result = evaluate(defs)
    # April is rerun; June would open off May's new closing, so it waits with May.
    assert ranges(result) == [("2024-04", "2024-04")]
    with engine.connect() as connection:
        flags = pd.read_sql(
            sa.text(
                "SELECT * FROM backlog_exceptions WHERE check_name = 'late_data' "
                "AND superseded_at IS NULL"
            ),
            connection,
        )
    assert flags["period"].tolist() == ["2024-05", "2024-06"]
    assert Decimal(str(flags["amount"][0])) == Decimal("-100.00")
    assert "controller" in flags["reason"][0] and "unlock" in flags["reason"][0]
    assert "follows locked month 2024-05" in flags["reason"][1]

    for first, last in ranges(result):
        assert close(defs, first, last).success
    quiet = evaluate(defs)
    assert not quiet.run_requests
    # The flags stay until the month is unlocked and restated.
    assert flagged(engine) == ["2024-05", "2024-06"]
    unlock_month(engine, parse_month("2024-05"), "controller", "restate for the late line")
    restate = evaluate(defs)
    assert ranges(restate) == [("2024-05", "2024-06")]
    assert close(defs, "2024-05", "2024-06").success
    # Nothing differs any more: the flag is cleared, and then the sensor is quiet again.
    cleared = evaluate(defs)
    assert not cleared.run_requests
    assert flagged(engine) == []
    assert evaluate(defs, cursor=cleared.cursor).skip_reason.skip_message.startswith(
        "the sources have not changed"
    )
    engine.dispose()


def flagged(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return (
            connection.execute(
                sa.text(
                    "SELECT period FROM backlog_exceptions WHERE check_name = 'late_data' "
                    "AND superseded_at IS NULL"
                )
            )
            .scalars()
            .all()
        )


def test_a_later_close_on_the_new_sources_does_not_hide_older_stale_months(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    assert close(defs, "2024-01", "2024-06").success
    add_late_line(tmp_path)
    # The next close covers only June; April and May stay as first published.
    assert close(defs, "2024-06").success
    assert ranges(evaluate(defs)) == [("2024-04", "2024-05")]


def test_a_tick_reads_no_source_row_and_asks_for_a_scan_run(tmp_path, monkeypatch):
    from backlog_pipeline.defs.resources import CrmExport, ErpDatabase

    defs = build(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    assert close(defs, "2024-01", "2024-06").success
    add_late_line(tmp_path)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a sensor tick read a source")

    monkeypatch.setattr(CrmExport, "read", refuse)
    monkeypatch.setattr(ErpDatabase, "read", refuse)
    tick = _tick(defs, dg.DagsterInstance.ephemeral(), None)
    assert [request.job_name for request in tick.run_requests] == ["late_data_scan"]
