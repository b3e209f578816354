"""What ``backlog-close`` says when something goes wrong, or is left out: the cause.

Each case runs the command over the hand dataset, with the environment the test set.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from backlog_pipeline.cli import close_report
from backlog_pipeline.periods import parse_month
from backlog_pipeline.warehouse.locks import lock_month
from backlog_pipeline_tests.support import (
    CONTRACTS,
    add_late_line,
    build,
    contract,
    read,
)

pytestmark = pytest.mark.slow


def backlog_close(*args: str) -> tuple[int, str, str]:
    """``backlog-close`` in its own process, with the environment as the test set it.

    Its own process, as users run it: Dagster keeps the job it rebuilt for a run in the
    process, so a second close in this one would run the first one's definitions.
    """
    environ = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "backlog-close"), *args], env=environ,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    summary = done.stderr.split("\nThe close failed")[-1] if done.returncode == 1 else done.stderr
    return done.returncode, done.stdout, summary


def test_a_step_out_of_retries_reports_the_error_of_its_last_attempt():
    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1, delay=0.01))
    def warehouse_step() -> None:
        raise ConnectionError("the warehouse refused the connection")

    job = dg.Definitions(assets=[warehouse_step], jobs=[dg.define_asset_job("j")])
    result = job.resolve_job_def("j").execute_in_process(raise_on_error=False)
    # Before: "warehouse_step: Exceeded max_retries of 1".
    assert close_report.failures(result) == [
        "warehouse_step: gave up after 2 attempts; the last one failed with "
        "ConnectionError: the warehouse refused the connection"
    ]


def test_an_erp_nobody_answers_is_retried_and_its_cause_printed(tmp_path, monkeypatch):
    build(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'w.sqlite'}")
    monkeypatch.setenv("BACKLOG_ERP_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/test")
    monkeypatch.setenv("BACKLOG_STEP_RETRIES", "1")
    code, _, err = backlog_close("--from", "2024-01", "--to", "2024-01")
    assert code == 1
    assert (
        "erp_recognition: gave up after 2 attempts; the last one failed with SourceError: " in err
    )
    assert "port 1 failed: Connection refused" in err
    assert "Exceeded max_retries" not in err


def test_a_close_with_quarantined_rows_says_how_many_their_amount_and_where(tmp_path, monkeypatch):
    # Two of five contracts cannot be read: C8's date (its 300.00 is readable), C9's TCV.
    contracts = [
        *CONTRACTS,
        contract("C8", "2024-02-30", "300.00"),
        contract("C9", "2024-02-10", "12,00"),
    ]
    build(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'w.sqlite'}", contracts=contracts)
    monkeypatch.setenv("BACKLOG_MAX_QUARANTINE_SHARE", "0.5")
    code, out, _ = backlog_close()
    assert code == 0
    assert (
        "crm_contracts: 2 row(s) set aside, holding 300.00 (1 without a readable amount); " in out
    )
    assert "SELECT * FROM source_quarantine WHERE \"table\" = 'contracts' AND run_id = '" in out
    assert "crm_contract_changes:" not in out.split("Quarantined")[1].split("Warehouse")[0]


def test_a_locked_months_refusal_names_the_lock(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    build(tmp_path, monkeypatch, url)
    assert backlog_close()[0] == 0
    lock_month(sa.create_engine(url), parse_month("2024-05"), "Jane Roe (CFO)", "May signed off")
    add_late_line(tmp_path)
    code, _, err = backlog_close("--from", "2024-04")
    assert code == 1
    assert "check matches_published failed (ERROR):" in err
    assert "would change in locked month(s) 2024-05 (locked by Jane Roe (CFO)" in err
    assert "backlog-months unlock" in err


def test_a_warehouse_that_cannot_be_opened_says_which_and_why(tmp_path, monkeypatch):
    build(tmp_path, monkeypatch, "sqlite:////nonexistent/folder/w.sqlite")
    code, _, err = backlog_close("--from", "2024-01", "--to", "2024-01")
    assert code == 1
    assert (
        "The warehouse sqlite:////nonexistent/folder/w.sqlite cannot be opened: "
        "unable to open database file"
    ) in err


def test_a_read_only_warehouse_fails_at_once_with_its_reason(tmp_path, monkeypatch):
    path = tmp_path / "w.sqlite"
    build(tmp_path, monkeypatch, f"sqlite:///{path}")
    assert backlog_close("--from", "2024-01", "--to", "2024-01")[0] == 0
    monkeypatch.setenv("BACKLOG_WAREHOUSE_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    code, _, err = backlog_close("--from", "2024-01", "--to", "2024-01")
    assert code == 1
    assert (
        "refused the quarantine of contracts (OperationalError: attempt to write a readonly" in err
    )
    assert "gave up after" not in err  # not retried: a retry would fail the same way


def test_months_outside_the_close_name_the_range(tmp_path, monkeypatch):
    build(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'w.sqlite'}")
    code, _, err = backlog_close("--from", "2019-01")
    assert code == 2
    assert err.strip() == (
        "backlog-close: --from 2019-01 is outside the months this close covers, 2024-01..2024-06 "
        "(BACKLOG_START_MONTH and BACKLOG_END_MONTH, or the last complete month)"
    )
    assert backlog_close("--to", "2024-07")[0] == 2


def test_documents_that_cannot_be_written_after_the_tables_say_the_tables_were(
    tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    build(tmp_path, monkeypatch, url)
    output = tmp_path / "documents"
    output.mkdir()
    (output / "2024-02").write_text("a file where February's folder goes\n")
    monkeypatch.setenv("BACKLOG_OUTPUT_DIR", str(output))
    code, out, err = backlog_close("--from", "2024-01", "--to", "2024-02")
    assert code == 1
    assert "AFTER the warehouse was published" in err and "nothing new" not in err
    assert "The KPI documents of 2024-02 could not be written to" in err
    assert "The warehouse tables ARE published" in err
    assert "2024-02" in out  # the published flow is printed
    assert read(url, "SELECT period FROM backlog_flow")["period"].tolist() == ["2024-01", "2024-02"]


def test_a_data_folder_that_cannot_be_created_is_a_setting_error(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BACKLOG_")}
    environ["BACKLOG_DATA_DIR"] = "/proc/no/such/folder"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "backlog-close")], cwd=tmp_path, env=environ,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(
        "backlog-close: BACKLOG_DATA_DIR='/proc/no/such/folder' cannot be created"
    )
    assert "Traceback" not in done.stderr
