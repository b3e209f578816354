"""What an operator sees in the UI, asked of the UI's own GraphQL API: the webserver and the
daemon on a temporary instance (deploy/dagster.yaml), a backfill launched as the UI launches
it (every asset, a range of months), then what the run list, the check's partition bar and
the asset's Checks tab show.
"""

import os
import shutil

import pytest

from backlog_pipeline_tests.support import (
    CHANGES,
    CONTRACTS,
    RECOGNITION,
    contract,
    partition_key,
    recognized,
    write_sources,
)
from backlog_pipeline_tests.ui_support import running_ui

MONTHS = ["2024-01", "2024-02", "2024-03"]
KEYS = [partition_key(month) for month in MONTHS]


def _environment(tmp_path):
    crm_dir, erp_url = write_sources(tmp_path / "sources", CONTRACTS, CHANGES, RECOGNITION)
    return {
        **os.environ,
        "BACKLOG_DATA_DIR": str(tmp_path / "data"),
        "BACKLOG_CRM_DIR": str(crm_dir),
        "BACKLOG_ERP_URL": erp_url,
        "BACKLOG_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.sqlite'}",
        "BACKLOG_START_MONTH": "2024-01",
        "BACKLOG_END_MONTH": "2024-06",
        "BACKLOG_RUN_RETRIES": "2",
    }


def _plant_problems(tmp_path):
    """A second contract C3 (signed in March) and a March line of a contract nobody signed."""
    planted = tmp_path / "planted"
    write_sources(
        planted,
        [*CONTRACTS, contract("C3", "2024-03-15", "700.00")],
        CHANGES,
        [*RECOGNITION, *recognized("C9", ("2024-03", "50.00"))],
    )
    shutil.copy(planted / "crm" / "contracts.csv", tmp_path / "sources" / "crm" / "contracts.csv")
    shutil.copy(planted / "erp.sqlite", tmp_path / "sources" / "erp.sqlite")


def _tags(run):
    return {tag["key"]: tag["value"] for tag in run["tags"]}


def _range(status, first, last):
    return {"startKey": partition_key(first), "endKey": partition_key(last), "status": status}


@pytest.mark.slow
def test_a_backfill_launched_in_the_ui_shows_each_months_checks(tmp_path):
    with running_ui(tmp_path / "home", _environment(tmp_path), tmp_path) as ui:
        done = ui.wait_for_backfill(ui.backfill(KEYS))
        (run,) = done["runs"]  # one run for the range: the sources read once
        assert run["status"] == "SUCCESS"
        tags = _tags(run)
        # The close's tags, though the UI launched a plain asset selection.
        assert tags["dagster/max_retries"] == "2"
        assert tags["dagster/retry_on_asset_or_op_failure"] == "false"
        assert tags["backlog/close"] == "true"
        assert (
            tags["dagster/asset_partition_range_start"],
            tags["dagster/asset_partition_range_end"],
        ) == (KEYS[0], KEYS[-1])

        statuses = ui.check_statuses()
        assert len(statuses) >= 20
        for check, ranges in statuses.items():
            # Each month of the range passed on its own: no "Skipped", nothing outside it.
            assert ranges == [_range("SUCCEEDED", MONTHS[0], MONTHS[-1])], check
        for key in KEYS:
            execution = ui.check_execution("backlog_flow", "flow_reconciles", key)
            assert (execution["status"], execution["partition"]) == ("SUCCEEDED", key)
            assert execution["runId"] == run["runId"]

        # Two data problems in two sources, both in March.
        _plant_problems(tmp_path)
        done = ui.wait_for_backfill(ui.backfill(KEYS))
        (run,) = done["runs"]
        assert run["status"] == "FAILURE"  # a blocking check failed: nothing published
        statuses = ui.check_statuses()
        failed_in_march = [
            _range("SUCCEEDED", "2024-01", "2024-02"),
            _range("FAILED", "2024-03", "2024-03"),
        ]
        assert statuses[("crm_contracts", "contract_ids_unique")] == failed_in_march
        assert statuses[("erp_recognition", "recognition_has_contracts")] == failed_in_march
        # The ERP's other checks ran and passed: the CRM's problem did not paint them red.
        for check in ("line_ids_unique", "recognition_after_signing"):
            assert statuses[("erp_recognition", check)] == [
                _range("SUCCEEDED", "2024-01", "2024-03")
            ]
        orphan = ui.check_execution("erp_recognition", "recognition_has_contracts", KEYS[-1])
        assert (orphan["status"], orphan["evaluation"]["severity"]) == ("FAILED", "WARN")
        assert orphan["runId"] == run["runId"]
        duplicate = ui.check_execution("crm_contracts", "contract_ids_unique", KEYS[-1])
        assert (duplicate["status"], duplicate["evaluation"]["severity"]) == ("FAILED", "ERROR")
        labels = {entry["label"] for entry in duplicate["evaluation"]["metadataEntries"]}
        assert {"records", "evidence"} <= labels
