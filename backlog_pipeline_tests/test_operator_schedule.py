"""The schedule as the operator sees it in *Automation*: what it says and what a tick closes."""

import datetime as dt

import dagster as dg

from backlog_pipeline_tests.support import build, partition_key


def test_the_schedule_says_what_it_does_and_its_tick_names_the_previous_month(
    tmp_path, monkeypatch
):
    defs = build(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    schedule = defs.resolve_schedule_def("monthly_close_schedule")
    assert "previous month on day 3 at 06:00 (UTC)" in schedule.description
    # The tick of 3 June 2024 at 06:00 closes May 2024, and its run request says so.
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2024, 6, 3, 6, tzinfo=dt.UTC),
        repository_def=defs.get_repository_def(),
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == partition_key("2024-05") == "2024-05"
