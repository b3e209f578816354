"""The shipped dagster.yaml files: runs survive a restart, and closes of a month queue.

Each close here is a real ``backlog-close`` process against a ``DAGSTER_HOME`` holding the
shipped file, so what is asserted is what an operator's instance records.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline_tests.support import EXPECTED, POSTGRES_URL, build, money, partition_key

pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
CLOSE = [sys.executable, "-m", "backlog_pipeline.cli.close"]


@pytest.fixture
def dagster_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for Dagster's own storage, dropped afterwards."""
    name = f"bp_dagster_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg2", database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: str) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / shipped, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _close(*months: str) -> subprocess.Popen:
    first, last = months[0], months[-1]
    return subprocess.Popen(
        [*CLOSE, "--from", first, "--to", last],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def _closings(url: str) -> dict[str, object]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        flow = pd.read_sql(sa.text("SELECT period, closing FROM backlog_flow"), connection)
    engine.dispose()
    return {row.period: money(row.closing) for row in flow.itertuples()}


@pytest.mark.parametrize("shipped", ["dagster.yaml", "dagster-postgres.yaml"])
def test_the_shipped_instance_keeps_runs_and_checks_across_a_restart(
    shipped, tmp_path, monkeypatch, request
):
    if shipped == "dagster-postgres.yaml":
        monkeypatch.setenv("DAGSTER_PG_URL", request.getfixturevalue("dagster_database"))
    _home(tmp_path, monkeypatch, shipped)
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    build(tmp_path, monkeypatch, url)
    output = _finish(_close("2024-01", "2024-02"))
    run_id = output.split("Run ")[-1].split()[0]

    # A new instance object reads what the finished process left: as after a restart.
    with dg.DagsterInstance.get() as instance:
        storage = type(instance.run_storage).__name__
        assert ("Postgres" in storage) == (shipped == "dagster-postgres.yaml"), storage
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        per_month = next(limit for limit in limits if limit["key"] == "dagster/partition")
        assert per_month["limit"] == 1
        assert per_month["value"] == {"applyLimitPerUniqueValue": True}
        assert instance.run_retries_enabled
        assert not instance.run_retries_retry_on_asset_or_op_failure

        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/max_retries"] == "1"
        checks = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        # 17, continues_locked_close, source_not_shrunk on each source, and the three of
        # currencies (currencies_sum_to_flow, fx_revaluation_second_route, ledger_amounts_agree)
        # and the six of the RPO disclosure (issue 14), each on each of the run's two months
        assert len(checks) == 30 * 2
        assert {c.dagster_event.asset_check_evaluation_data.partition for c in checks} == {
            partition_key("2024-01"),
            partition_key("2024-02"),
        }
        flow_key = dg.AssetKey(["warehouse", "backlog_flow_table"])
        materialized = instance.get_materialized_partitions(flow_key)
        assert materialized == {partition_key("2024-01"), partition_key("2024-02")}
    assert _closings(url) == {month: money(EXPECTED[month][6]) for month in ("2024-01", "2024-02")}


def _step_window(instance: dg.DagsterInstance, run_id: str, step: str) -> tuple[float, float]:
    events = instance.all_logs(run_id)
    start = next(
        e.timestamp
        for e in events
        if e.dagster_event and e.dagster_event.is_step_start and e.step_key == step
    )
    end = next(
        e.timestamp
        for e in events
        if e.dagster_event and e.dagster_event.is_step_success and e.step_key == step
    )
    return start, end


def test_two_closes_of_the_same_months_at_once_publish_one_after_the_other(
    tmp_path, monkeypatch, dagster_database, postgres_url
):
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_database)
    _home(tmp_path, monkeypatch, "dagster-postgres.yaml")
    build(tmp_path, monkeypatch, postgres_url)
    months = ("2024-01", "2024-03")
    first, second = _close(*months), _close(*months)
    outputs = [_finish(first), _finish(second)]
    run_ids = [output.split("Run ")[-1].split()[0] for output in outputs]

    with dg.DagsterInstance.get() as instance:
        windows = sorted(
            _step_window(instance, run_id, step)
            for run_id in run_ids
            for step in ("publish_warehouse_tables",)
        )
    # The publish pool admits one step at a time across runs: the windows do not overlap.
    assert windows[0][1] <= windows[1][0], windows

    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        versions = pd.read_sql(
            sa.text("SELECT period, version, run_id FROM publication_versions"), connection
        )
    engine.dispose()
    # The same figures twice: the second run found nothing to change and added no version.
    assert sorted(versions["period"]) == ["2024-01", "2024-02", "2024-03"]
    assert set(versions["version"]) == {1}
    assert versions["run_id"].nunique() == 1
    assert _closings(postgres_url) == {
        month: money(EXPECTED[month][6]) for month in ("2024-01", "2024-02", "2024-03")
    }


def test_the_close_runs_under_the_multiprocess_executor(tmp_path, monkeypatch):
    """With ``BACKLOG_EXECUTOR=multiprocess``, ``dagster job execute`` runs a process per step."""
    _home(tmp_path, monkeypatch, "dagster.yaml")
    monkeypatch.setenv("BACKLOG_EXECUTOR", "multiprocess")
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    build(tmp_path, monkeypatch, url)
    tags = {
        "dagster/asset_partition_range_start": partition_key("2024-01"),
        "dagster/asset_partition_range_end": partition_key("2024-03"),
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"), "job", "execute",
            "-m", "backlog_pipeline.definitions", "-j", "monthly_close",
            "--tags", json.dumps(tags),
        ],
        capture_output=True, text=True, timeout=600, env=os.environ.copy(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        events = instance.all_logs(run.run_id)
    executor = [e.message for e in events if "Executing steps using multiprocess" in e.message]
    assert executor, "the run did not use the multiprocess executor"
    # Each step ran in a child process of its own, not in the run worker.
    step_pids = {
        e.dagster_event.pid for e in events if e.dagster_event and e.dagster_event.is_step_start
    }
    run_pids = {
        e.dagster_event.pid
        for e in events
        if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS
    }
    assert len(step_pids) >= 5 and not step_pids & run_pids
    assert _closings(url) == {m: money(EXPECTED[m][6]) for m in ("2024-01", "2024-02", "2024-03")}


def _rabbitmq_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            return True
    except OSError:
        return False


def test_the_close_runs_on_celery_workers(tmp_path, monkeypatch):
    """A multi-node deployment in miniature: steps go through RabbitMQ to a Celery worker."""
    pytest.importorskip("dagster_celery")
    if not _rabbitmq_up():
        pytest.skip("RabbitMQ is not reachable on 127.0.0.1:5672 (rabbitmq-server -detached)")
    _home(tmp_path, monkeypatch, "dagster.yaml")
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    build(tmp_path, monkeypatch, url)
    monkeypatch.setenv("BACKLOG_EXECUTOR", "celery")
    bin_dir = Path(sys.executable).parent
    # dagster-celery starts the `celery` command it finds on PATH.
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    worker = subprocess.Popen(
        [str(bin_dir / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
        start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        assert worker.poll() is None, "the Celery worker did not start"
        tags = {
            "dagster/asset_partition_range_start": partition_key("2024-01"),
            "dagster/asset_partition_range_end": partition_key("2024-03"),
        }
        done = subprocess.run(
            [
                str(bin_dir / "dagster"), "job", "execute",
                "-m", "backlog_pipeline.definitions", "-j", "monthly_close",
                "--tags", json.dumps(tags),
            ],
            capture_output=True, text=True, timeout=300, env=os.environ.copy(),
        )  # fmt: skip
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        events = instance.all_logs(run.run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    submitted = [e for e in events if "Submitting celery task" in e.message]
    assert len(submitted) >= 5
    run_pids = {e.dagster_event.pid for e in submitted if e.dagster_event}
    step_pids = {
        e.dagster_event.pid for e in events if e.dagster_event and e.dagster_event.is_step_start
    }
    assert step_pids and not step_pids & run_pids  # the steps ran in the worker, not the run
    assert _closings(url) == {m: money(EXPECTED[m][6]) for m in ("2024-01", "2024-02", "2024-03")}
