"""A source that shrank against what the last publication read blocks the close.

The hand dataset (support.py) has 3 contracts totalling 12000.00 + 2400.50 + 1000.00 =
15400.50, 4 changes totalling 600.00 + 250.00 + 100.00 (the termination has no amount) =
950.00, and 6 recognition lines totalling 4 × 1000.00 + 200.25 + 300.00 = 4500.25.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backlog_pipeline.source_shrink import Baseline, shrink_problem
from backlog_pipeline_tests.support import (
    CHANGES,
    CONTRACTS,
    EXPECTED,
    RANGE_END_TAG,
    RANGE_START_TAG,
    build,
    close,
    closings,
    contract,
    load_definitions,
    money,
    partition_key,
    write_sources,
)

BASELINE = Baseline(rows=3, total=1_540_050, period="2024-06", version=1, run_id="abcdef123456")
PUBLISHED = {period: money(figures[6]) for period, figures in EXPECTED.items()}


def test_a_source_that_lost_more_than_the_tolerance_is_named_with_both_counts_and_totals():
    problem = shrink_problem("crm_contracts", 0, 0, BASELINE, 0.10)
    assert problem is not None
    assert "crm_contracts shrank to 0 row(s) totalling 0.00" in problem
    assert "from 3 row(s) totalling 15400.50" in problem
    assert "2024-06 version 1 (run abcdef12)" in problem
    assert "rows −100.0%, total −100.0%" in problem
    assert "10% BACKLOG_MAX_SOURCE_SHRINK" in problem


def test_rows_and_total_are_each_held_to_the_tolerance():
    # One contract of three gone: rows −33.3%; its 1000.00 of 15400.50 is −6.5% of the total.
    assert shrink_problem("crm_contracts", 2, 1_440_050, BASELINE, 0.10) is not None
    assert shrink_problem("crm_contracts", 2, 1_440_050, BASELINE, 0.34) is None
    # Same rows, C1's 12000.00 exported as 100.00: total 3500.50, −77.3%.
    problem = shrink_problem("crm_contracts", 3, 350_050, BASELINE, 0.10)
    assert problem is not None and "total −77.3%" in problem and "rows" not in problem.split("(")[1]
    # Growth, equality and a loss at the limit pass; a tolerance of 1 lets anything through.
    assert shrink_problem("crm_contracts", 4, 2_000_000, BASELINE, 0.10) is None
    assert shrink_problem("crm_contracts", 3, 1_540_050, BASELINE, 0.0) is None
    assert shrink_problem("crm_contracts", 3, 1_386_045, BASELINE, 0.10) is None  # −10.0% exactly
    assert shrink_problem("crm_contracts", 0, 0, BASELINE, 1.0) is None


def test_marks_written_before_totals_compare_rows_only():
    old = Baseline.of({"rows": 3, "fingerprint": "x"}, "2024-06", 2, "r" * 12)
    assert old.total is None
    assert shrink_problem("crm_contracts", 3, 0, old, 0.10) is None
    assert "from 3 row(s) when" in shrink_problem("crm_contracts", 0, 0, old, 0.10)


def _published_then(tmp_path, monkeypatch, warehouse_url, **sources):
    """The hand dataset closed, then the definitions over ``sources`` instead."""
    defs = build(tmp_path, monkeypatch, warehouse_url)
    assert close(defs, "2024-01", "2024-06").success
    return build(tmp_path, monkeypatch, warehouse_url, name="shrunk", **sources)


def _shrink_result(result, asset: str = "crm_contracts"):
    """The shrink check's evaluation on ``asset`` (every source has one of that name)."""
    return next(
        event.asset_check_evaluation_data
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
        and event.asset_check_evaluation_data.check_name == "source_not_shrunk"
        and event.asset_check_evaluation_data.asset_key.path == [asset]
    )


def _documents(tmp_path: Path) -> dict[str, bytes]:
    output = tmp_path / "data" / "output"
    return {str(path.relative_to(output)): path.read_bytes() for path in output.rglob("*.json")}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sources", "asset", "before"),
    [
        ({"contracts": []}, "crm_contracts", "from 3 row(s) totalling 15400.50"),
        ({"recognition": []}, "erp_recognition", "from 6 row(s) totalling 4500.25"),
    ],
)
def test_an_empty_source_blocks_the_close_and_leaves_tables_and_documents(
    tmp_path, monkeypatch, warehouse_url, sources, asset, before
):
    defs = _published_then(tmp_path, monkeypatch, warehouse_url, **sources)
    documents = _documents(tmp_path)
    result = close(defs, "2024-01", "2024-06")
    assert not result.success
    shrink = _shrink_result(result, asset)
    assert not shrink.passed and shrink.severity.value == "ERROR"
    summary = shrink.metadata["summary"].value
    assert f"{asset} shrank to 0 row(s) totalling 0.00, {before}" in summary
    assert "--expect-shrink" in summary and "backlog/expect_shrink=true" in summary
    assert closings(warehouse_url) == PUBLISHED
    assert _documents(tmp_path) == documents


@pytest.mark.slow
def test_the_run_tag_lets_an_expected_shrink_publish_with_a_warning(
    tmp_path, monkeypatch, warehouse_url
):
    defs = _published_then(tmp_path, monkeypatch, warehouse_url, contracts=CONTRACTS[1:])
    result = defs.resolve_job_def("monthly_close").execute_in_process(
        tags={
            RANGE_START_TAG: partition_key("2024-01"),
            RANGE_END_TAG: partition_key("2024-06"),
            "backlog/expect_shrink": "true",
        },
        raise_on_error=False,
    )
    assert result.success
    shrink = _shrink_result(result)
    assert not shrink.passed and shrink.severity.value == "WARN"
    assert "expected (run tag backlog/expect_shrink=true)" in shrink.metadata["summary"].value
    # C1 (12000 signed in January) is gone: January closes at 0.
    assert closings(warehouse_url)["2024-01"] == money("0")


@pytest.mark.slow
def test_the_setting_lets_an_expected_shrink_publish(tmp_path, monkeypatch, warehouse_url):
    build(tmp_path, monkeypatch, warehouse_url)
    assert close(load_definitions(), "2024-01", "2024-06").success
    monkeypatch.setenv("BACKLOG_EXPECT_SOURCE_SHRINK", "true")
    defs = build(tmp_path, monkeypatch, warehouse_url, name="shrunk", contracts=CONTRACTS[1:])
    result = close(defs, "2024-01", "2024-06")
    assert result.success
    summary = _shrink_result(result).metadata["summary"].value
    assert "expected (BACKLOG_EXPECT_SOURCE_SHRINK=true)" in summary


@pytest.mark.slow
def test_the_tolerance_is_a_setting(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    # Rows −33.3% (one contract of three), total −6.5%: within a tolerance of 0.4.
    monkeypatch.setenv("BACKLOG_MAX_SOURCE_SHRINK", "0.4")
    defs = _published_then(tmp_path, monkeypatch, url, contracts=CONTRACTS[:2])
    result = close(defs, "2024-01", "2024-06")
    assert result.success
    assert _shrink_result(result).passed


@pytest.mark.slow
def test_a_total_that_shrank_with_the_same_rows_blocks(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    cheaper = [contract("C1", "2024-01-10", "100.00"), *CONTRACTS[1:]]
    defs = _published_then(tmp_path, monkeypatch, url, contracts=cheaper)
    result = close(defs, "2024-01", "2024-06")
    assert not result.success
    summary = _shrink_result(result).metadata["summary"].value
    assert "to 3 row(s) totalling 3500.50, from 3 row(s) totalling 15400.50" in summary
    assert "(total −77.3%)" in summary


BIN = Path(sys.executable).parent


def _backlog_close(tmp_path: Path, crm: Path, erp: str, *args: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BACKLOG_")}
    environ |= {
        "BACKLOG_DATA_DIR": str(tmp_path / "data"),
        "BACKLOG_CRM_DIR": str(crm),
        "BACKLOG_ERP_URL": erp,
        "BACKLOG_START_MONTH": "2024-01",
        "BACKLOG_END_MONTH": "2024-06",
    }
    return subprocess.run(
        [str(BIN / "backlog-close"), *args], cwd=tmp_path, env=environ, capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_backlog_close_refuses_a_header_only_export_and_expect_shrink_lets_it_through(tmp_path):
    from backlog_pipeline_tests.support import RECOGNITION

    crm, erp = write_sources(tmp_path / "full", CONTRACTS, CHANGES, RECOGNITION)
    assert _backlog_close(tmp_path, crm, erp).returncode == 0
    empty_crm, _ = write_sources(tmp_path / "empty", [], CHANGES, RECOGNITION)
    refused = _backlog_close(tmp_path, empty_crm, erp)
    assert refused.returncode == 1
    assert "crm_contracts shrank to 0 row(s) totalling 0.00, from 3 row(s)" in refused.stderr
    assert "backlog-close --expect-shrink" in refused.stderr
    allowed = _backlog_close(tmp_path, empty_crm, erp, "--expect-shrink")
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert "check source_not_shrunk failed (WARN)" in allowed.stdout


@pytest.mark.slow
@pytest.mark.parametrize("expected", [False, True])
def test_the_late_data_sensor_runs_honour_the_setting(tmp_path, monkeypatch, expected):
    from backlog_pipeline_tests.test_late_data import evaluate

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    if expected:
        monkeypatch.setenv("BACKLOG_EXPECT_SOURCE_SHRINK", "true")
    defs = _published_then(tmp_path, monkeypatch, url, contracts=CONTRACTS[1:])
    request = evaluate(defs).run_requests[0]
    assert ("backlog/expect_shrink" in request.tags) == expected
    result = defs.resolve_job_def("monthly_close").execute_in_process(
        tags=request.tags, raise_on_error=False
    )
    assert result.success == expected
    assert _shrink_result(result).severity.value == ("WARN" if expected else "ERROR")
