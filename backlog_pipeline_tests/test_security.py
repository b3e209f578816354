"""Credentials in connection URLs never reach the event log, the logs or the metadata."""

import dagster as dg
import sqlalchemy as sa
from dagster._serdes import serialize_value

from backlog_pipeline_tests.test_pipeline import build

PASSWORD = "S3cr3t-pa55word"


def test_a_password_in_the_warehouse_url_is_never_written_anywhere(
    tmp_path, monkeypatch, postgres_url, caplog
):
    # The machine's PostgreSQL trusts local connections, so any password is accepted.
    url = sa.make_url(postgres_url).set(password=PASSWORD).render_as_string(hide_password=False)
    instance = dg.DagsterInstance.ephemeral()
    defs = build(tmp_path, monkeypatch, url)
    result = defs.resolve_job_def("monthly_close").execute_in_process(
        partition_key="2024-03-01", instance=instance, raise_on_error=False
    )
    assert result.success
    records = instance.get_records_for_run(result.run_id).records
    assert len(records) > 50
    event_log = "\n".join(serialize_value(record.event_log_entry) for record in records)
    assert "***" in event_log  # the masked URL is there, so the search below is meaningful
    assert PASSWORD not in event_log
    assert PASSWORD not in caplog.text
    # Nothing in the run's configuration or tags either.
    run = instance.get_run_by_id(result.run_id)
    assert PASSWORD not in serialize_value(run)
