"""The code location loads as an operator's ``dagster dev`` would load it."""

import dagster as dg
import pytest

from backlog_pipeline.definitions import build_definitions
from backlog_pipeline.settings import SettingsError, load_settings


def defs_for(tmp_path, **environ: str) -> dg.Definitions:
    return build_definitions(load_settings({"BACKLOG_DATA_DIR": str(tmp_path), **environ}))


def test_the_module_loads_with_every_asset_check_and_schedule():
    from backlog_pipeline.definitions import defs

    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys == {
        "crm_contracts", "crm_contract_changes", "erp_recognition", "contract_backlog",
        "backlog_flow", "warehouse/backlog_flow", "warehouse/contract_backlog",
        "kpi/bookings_backlog_changes", "kpi/bookings_backlog_total",
    }  # fmt: skip
    checks = {key.name for key in repository.asset_graph.asset_check_keys}
    assert checks == {
        "flow_reconciles", "cancellation_line_present", "flow_matches_contracts",
        "opening_continues_previous_close",
    }  # fmt: skip
    graph = repository.asset_graph
    blocking = {key.name for key in graph.asset_check_keys if graph.get_check_spec(key).blocking}
    assert blocking == {"flow_reconciles", "cancellation_line_present", "flow_matches_contracts"}
    assert defs.resolve_job_def("monthly_close") is not None


def test_the_close_schedule_runs_on_day_3_at_6_and_is_settable(tmp_path):
    schedule = defs_for(tmp_path).resolve_schedule_def("monthly_close_schedule")
    assert schedule.cron_schedule == "0 6 3 * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    moved = defs_for(
        tmp_path,
        BACKLOG_CLOSE_DAY_OF_MONTH="5",
        BACKLOG_CLOSE_HOUR="7",
        BACKLOG_CLOSE_TIMEZONE="Europe/Paris",
    ).resolve_schedule_def("monthly_close_schedule")
    assert (moved.cron_schedule, moved.execution_timezone) == ("0 7 5 * *", "Europe/Paris")


def test_demo_months_are_the_partitions_by_default(tmp_path):
    job = defs_for(tmp_path).resolve_job_def("monthly_close")
    keys = job.partitions_def.get_partition_keys()
    assert (keys[0], keys[-1], len(keys)) == ("2024-01-01", "2025-12-01", 24)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BACKLOG_START_MONTH", "2024-13", "BACKLOG_START_MONTH='2024-13' is not a month"),
        ("BACKLOG_REPORTING_CURRENCY", "usd", "BACKLOG_REPORTING_CURRENCY='usd'"),
        ("BACKLOG_CLOSE_DAY_OF_MONTH", "31", "BACKLOG_CLOSE_DAY_OF_MONTH='31' must be"),
        ("BACKLOG_CLOSE_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
        ("BACKLOG_CRM_DIR", "/no/such/folder", "BACKLOG_CRM_DIR='/no/such/folder' is not a folder"),
        ("BACKLOG_ERP_TABLE", "x; DROP TABLE y", "must be a table name"),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings({"BACKLOG_DATA_DIR": str(tmp_path), name: value})
