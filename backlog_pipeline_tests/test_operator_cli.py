"""What the operator gets outside the UI that the UI then shows: ``backlog-close`` records
its runs in a persistent instance, and the figures it publishes read as finance expects."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from backlog_pipeline.config import SettingsError, load_settings
from backlog_pipeline_tests.support import (
    CHANGES,
    CONTRACTS,
    RECOGNITION,
    partition_key,
    table,
    write_sources,
)

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("given", ["BACKLOG_CRM_DIR", "BACKLOG_ERP_URL"])
def test_half_a_source_pair_is_refused_naming_what_to_set(tmp_path, given):
    (tmp_path / "data" / "crm").mkdir(parents=True)
    value = "crm" if given == "BACKLOG_CRM_DIR" else "sqlite:///erp.sqlite"
    missing = {"BACKLOG_CRM_DIR": "BACKLOG_ERP_URL", "BACKLOG_ERP_URL": "BACKLOG_CRM_DIR"}[given]
    with pytest.raises(SettingsError, match=f"{given} is set but {missing} is not.*Set {missing}"):
        load_settings({"BACKLOG_DATA_DIR": str(tmp_path / "data"), given: value})


@pytest.mark.slow
def test_backlog_close_records_its_runs_where_dagster_dev_finds_them(tmp_path):
    """Without DAGSTER_HOME, the run is in ``<data>/dagster_home``: each published version's
    run_id is a run of that instance, with the month's figures as exact text and currency."""
    crm_dir, erp_url = write_sources(tmp_path / "sources", CONTRACTS, CHANGES, RECOGNITION)
    warehouse = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BACKLOG_", "DAGSTER_"))}
    environ |= {
        "BACKLOG_DATA_DIR": str(tmp_path / "data"),
        "BACKLOG_CRM_DIR": str(crm_dir),
        "BACKLOG_ERP_URL": erp_url,
        "BACKLOG_WAREHOUSE_URL": warehouse,
        "BACKLOG_START_MONTH": "2024-01",
        "BACKLOG_END_MONTH": "2024-06",
    }
    done = subprocess.run(
        [str(BIN / "backlog-close"), "--from", "2024-01", "--to", "2024-02"],
        env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    home = tmp_path / "data" / "dagster_home"
    assert f"recorded in the Dagster instance {home}" in done.stdout
    (run_id,) = set(table(warehouse, "publication_versions")["run_id"])
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        (event,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("backlog_flow"), asset_partitions=[partition_key("2024-02")]
            ),
            limit=1,
        ).records
    metadata = event.asset_materialization.metadata
    # February by hand (support.EXPECTED): 11,000 + 2,400.50 − 1,200.25 = 12,200.25.
    assert metadata["opening"].value == "11000.00 USD"
    assert metadata["closing"].value == "12200.25 USD"
    assert metadata["net_change"].value == "1200.25 USD"
    assert metadata["8 closing"].value == 12200.25  # plotted, in the flow's order
    labels = [label for label in metadata if label[0].isdigit()]
    assert labels == [
        "1 opening", "2 new_bookings", "3 converted", "4 lost", "5 increases",
        "6 decreases", "7 fx_revaluation", "8 closing", "9 net_change",
    ]  # fmt: skip
    flow = metadata["flow"].value
    types = {column.name: column.type for column in flow.schema.columns}
    assert types["period"] == "string" and types["closing"] == "decimal(18,2)"
    (row,) = flow.records
    assert (row.data["period"], row.data["closing"], row.data["net_change_pct"]) == (
        "2024-02",
        "12200.25",
        "10.91",
    )
