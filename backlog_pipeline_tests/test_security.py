"""Credentials in connection URLs never reach the event log, the logs or the metadata;
folders and periods from settings or the warehouse cannot lead writes elsewhere."""

import dagster as dg
import pytest
import sqlalchemy as sa

from backlog_pipeline.config import SettingsError, load_settings
from backlog_pipeline.kpi.documents import month_folder
from backlog_pipeline_tests.support import build, partition_key

PASSWORD = "S3cr3t-pa55word"


@pytest.mark.slow
def test_a_password_in_the_warehouse_url_is_never_written_anywhere(
    tmp_path, monkeypatch, postgres_url, caplog
):
    # The machine's PostgreSQL trusts local connections, so any password is accepted.
    url = sa.make_url(postgres_url).set(password=PASSWORD).render_as_string(hide_password=False)
    instance = dg.DagsterInstance.ephemeral()
    defs = build(tmp_path, monkeypatch, url)
    result = defs.resolve_job_def("monthly_close").execute_in_process(
        partition_key=partition_key("2024-03"), instance=instance, raise_on_error=False
    )
    assert result.success
    records = instance.get_records_for_run(result.run_id).records
    assert len(records) > 50
    event_log = "\n".join(dg.serialize_value(record.event_log_entry) for record in records)
    assert "***" in event_log  # the masked URL is there, so the search below is meaningful
    assert PASSWORD not in event_log
    assert PASSWORD not in caplog.text
    # Nothing in the run's configuration or tags either.
    run = instance.get_run_by_id(result.run_id)
    assert PASSWORD not in dg.serialize_value(run)


@pytest.mark.parametrize(
    "period", ["../2024-01", "2024-01/../../etc", "2024-13", "/tmp/x", "2024-1", ""]
)
def test_a_period_read_back_from_the_warehouse_cannot_become_a_path(tmp_path, period):
    with pytest.raises(ValueError, match=r"period|outside"):
        month_folder(tmp_path / "output", period)
    assert not (tmp_path / "output").exists()


def test_a_month_folder_is_directly_inside_the_output_folder(tmp_path):
    assert month_folder(tmp_path / "out", "2024-03") == (tmp_path / "out" / "2024-03").resolve()


@pytest.mark.parametrize("name", ["BACKLOG_OUTPUT_DIR", "BACKLOG_DATA_DIR"])
def test_a_folder_setting_cannot_be_the_root_or_a_file(tmp_path, name):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    with pytest.raises(SettingsError, match=f"{name}='/' is a filesystem root"):
        load_settings({name: "/"})
    with pytest.raises(SettingsError, match=f"{name}=.* is a file, not a folder"):
        load_settings({name: str(a_file)})
