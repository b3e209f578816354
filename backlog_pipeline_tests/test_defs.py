"""The code location loads as an operator's ``dagster dev`` would load it."""

import os

import dagster as dg
import pytest

from backlog_pipeline.config import SettingsError, load_settings
from backlog_pipeline_tests.support import load_definitions, partition_key


def defs_for(tmp_path, monkeypatch, **environ: str) -> dg.Definitions:
    for name, value in {"BACKLOG_DATA_DIR": str(tmp_path), **environ}.items():
        monkeypatch.setenv(name, value)
    return load_definitions()


def test_the_module_loads_with_every_asset_check_and_schedule():
    from backlog_pipeline.definitions import defs

    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys == {
        "crm_contracts", "crm_contract_changes", "erp_recognition", "contract_backlog",
        "backlog_flow", "warehouse/backlog_flow_table", "warehouse/contract_backlog_table",
        "kpi/bookings_backlog_changes", "kpi/bookings_backlog_total",
        "warehouse/backlog_source_records", "warehouse/publication_versions",
        "fx_rates", "backlog_flow_by_currency", "backlog_flow_constant_currency",
        "warehouse/backlog_flow_by_currency_table",
        "warehouse/backlog_flow_constant_currency_table",
        "warehouse/publication_fx_rates", "report/board_pack",
        # The RPO disclosure (issue 14): its sources, figures, tables and document.
        "erp_revenue_plan", "revenue_budget", "rpo_disclosure", "rpo_contract_timing",
        "rpo_timing_waterfall", "rpo_exclusion_register", "backlog_slices", "backlog_ratios",
        "backlog_aging", "warehouse/rpo_disclosure_table",
        "warehouse/rpo_contract_timing_table", "warehouse/rpo_timing_waterfall_table",
        "warehouse/rpo_exclusion_register_table", "warehouse/backlog_slices_table",
        "warehouse/backlog_ratios_table", "warehouse/backlog_aging_table",
        "kpi/rpo_disclosure_document",
    }  # fmt: skip
    graph = repository.asset_graph
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    # One check per SPEC data error, on the asset where it is first visible.
    assert checks == {
        ("crm_contracts", "contract_ids_unique"), ("crm_contracts", "tcv_not_negative"),
        ("crm_contracts", "currency_known"),
        ("crm_contract_changes", "change_ids_unique"),
        ("crm_contract_changes", "changes_have_contracts"),
        ("erp_recognition", "line_ids_unique"), ("erp_recognition", "recognition_has_contracts"),
        ("erp_recognition", "recognition_after_signing"),
        ("erp_recognition", "recognition_before_termination"),
        ("erp_recognition", "ledger_amounts_agree"),
        ("contract_backlog", "cancellations_within_backlog"),
        ("contract_backlog", "no_over_recognition"), ("contract_backlog", "no_phantom_backlog"),
        ("backlog_flow", "flow_reconciles"), ("backlog_flow", "cancellation_line_present"),
        ("backlog_flow", "flow_matches_contracts"),
        ("backlog_flow", "opening_continues_previous_close"),
        ("backlog_flow", "matches_published"), ("backlog_flow", "continues_locked_close"),
        ("backlog_flow", "currencies_sum_to_flow"), ("backlog_flow", "fx_revaluation_second_route"),
        # Each source against what the last publication read of it.
        ("crm_contracts", "source_not_shrunk"), ("crm_contract_changes", "source_not_shrunk"),
        ("erp_recognition", "source_not_shrunk"),
        # The RPO disclosure's identities, and the revenue plan against the backlog.
        ("rpo_disclosure", "contract_timing_sums_to_month"),
        ("rpo_disclosure", "waterfall_sums_to_disclosed"),
        ("rpo_disclosure", "disclosed_plus_excluded_is_closing"),
        ("rpo_disclosure", "disclosure_matches_published"),
        ("backlog_slices", "slices_sum_to_flow"),
        ("rpo_contract_timing", "revenue_plan_matches_backlog"),
    }  # fmt: skip
    blocking = {key.name for key in graph.asset_check_keys if graph.get_check_spec(key).blocking}
    # ERROR where a published figure would be wrong; matches_published decides per run.
    assert blocking == {
        "contract_ids_unique", "tcv_not_negative", "currency_known", "change_ids_unique",
        "line_ids_unique", "cancellations_within_backlog", "flow_reconciles",
        "cancellation_line_present", "flow_matches_contracts", "matches_published",
        "continues_locked_close", "source_not_shrunk",
        "currencies_sum_to_flow", "fx_revaluation_second_route",
        "contract_timing_sums_to_month", "waterfall_sums_to_disclosed",
        "disclosed_plus_excluded_is_closing", "slices_sum_to_flow",
        "disclosure_matches_published",
    }  # fmt: skip
    assert defs.resolve_job_def("monthly_close") is not None


def test_the_close_schedule_runs_on_day_3_at_6_and_is_settable(tmp_path, monkeypatch):
    schedule = defs_for(tmp_path, monkeypatch).resolve_schedule_def("monthly_close_schedule")
    assert schedule.cron_schedule == "0 6 3 * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    moved = defs_for(
        tmp_path,
        monkeypatch,
        BACKLOG_CLOSE_DAY_OF_MONTH="5",
        BACKLOG_CLOSE_HOUR="7",
        BACKLOG_CLOSE_TIMEZONE="Europe/Paris",
    ).resolve_schedule_def("monthly_close_schedule")
    assert (moved.cron_schedule, moved.execution_timezone) == ("0 7 5 * *", "Europe/Paris")


def test_demo_months_are_the_partitions_by_default(tmp_path, monkeypatch):
    job = defs_for(tmp_path, monkeypatch).resolve_job_def("monthly_close")
    keys = job.partitions_def.get_partition_keys()
    assert (keys[0], keys[-1], len(keys)) == (
        partition_key("2024-01"),
        partition_key("2025-12"),
        24,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BACKLOG_START_MONTH", "2024-13", "BACKLOG_START_MONTH='2024-13' is not a month"),
        ("BACKLOG_REPORTING_CURRENCY", "dollars", "BACKLOG_REPORTING_CURRENCY='dollars'"),
        ("BACKLOG_CLOSE_DAY_OF_MONTH", "31", "BACKLOG_CLOSE_DAY_OF_MONTH='31' must be"),
        ("BACKLOG_CLOSE_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
        ("BACKLOG_CRM_DIR", "/no/such/folder", "BACKLOG_CRM_DIR='/no/such/folder' is not a folder"),
        ("BACKLOG_ERP_TABLE", "x; DROP TABLE y", "must be a table name"),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings({"BACKLOG_DATA_DIR": str(tmp_path), name: value})


def test_the_process_environment_and_a_mapping_give_the_same_settings(tmp_path, monkeypatch):
    # The process environment goes through pydantic-settings' environment source, a mapping
    # through load_settings(environ): the same text must give the same settings, key=name
    # lists and comma lists included (not decoded as JSON).
    environ = {
        "BACKLOG_DATA_DIR": str(tmp_path),
        "BACKLOG_CRM_DIR": str(tmp_path),
        "BACKLOG_ERP_URL": f"sqlite:///{tmp_path / 'erp.sqlite'}",
        "BACKLOG_ERP_COLUMNS": "line_id=id, amount=amt",
        "BACKLOG_CLOSE_HOUR": " 7 ",
        "BACKLOG_FULL_REFRESH": "yes",
        "BACKLOG_HTTP_TIMEOUT": "2.5",
        "BACKLOG_EXECUTOR": "IN_PROCESS",
        "BACKLOG_END_MONTH": "   ",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    from_process = load_settings()
    assert from_process.erp_columns == {"line_id": "id", "amount": "amt"}
    assert (from_process.close_hour, from_process.full_refresh) == (7, True)
    assert (from_process.http_timeout, from_process.executor) == (2.5, "in_process")
    assert from_process.end_month is None  # blank is unset; not the demo, so no default
    mapping = {name: value for name, value in os.environ.items() if name.startswith("BACKLOG_")}
    assert from_process.model_dump() == load_settings(mapping).model_dump()


def test_the_reporting_currency_is_upper_cased_as_a_contract_currency_is(tmp_path):
    # A contract's "usd" is read as USD (canonical.parse_contracts): the setting matches it.
    settings = load_settings(
        {"BACKLOG_DATA_DIR": str(tmp_path), "BACKLOG_REPORTING_CURRENCY": " eur "}
    )
    assert settings.reporting_currency == "EUR"
