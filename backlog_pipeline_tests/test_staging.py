"""Run-scoped staging: a run reads what it computed itself, whatever other runs write."""

import os
import time

import dagster as dg
import pandas as pd
import pytest

from backlog_pipeline.defs.io_manager import MonthlyFrameIOManager, ParquetFrameIOManager
from backlog_pipeline_tests.support import (
    EXPECTED,
    RANGE_END_TAG,
    RANGE_START_TAG,
    build,
    close,
    money,
    partition_key,
    table,
)


@pytest.mark.slow
def test_a_run_reads_its_own_staging_when_another_run_replaces_the_latest(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    dump = ParquetFrameIOManager.dump_to_path

    def dump_then_clobber(self, context, obj, path):
        dump(self, context, obj, path)
        # Another run of the same month writes its own (here: empty) result right after.
        self.write(path, pd.DataFrame(columns=obj.columns))

    monkeypatch.setattr(ParquetFrameIOManager, "dump_to_path", dump_then_clobber)
    result = close(defs, "2024-01", "2024-03")
    failures = [str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    closing = table(url, "backlog_flow").set_index("period")["closing"]
    assert {m: money(closing[m]) for m in closing.index} == {
        m: money(EXPECTED[m][6]) for m in ("2024-01", "2024-02", "2024-03")
    }


@pytest.mark.slow
def test_a_run_that_does_not_recompute_an_asset_reads_the_latest(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    assert close(defs, "2024-01", "2024-02").success
    publish_only = dg.define_asset_job(
        "publish_only",
        selection=dg.AssetSelection.assets(
            *[k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "kpi"]
        ),
    )
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[publish_only])).resolve_job_def(
        "publish_only"
    )
    result = job.execute_in_process(
        tags={
            RANGE_START_TAG: partition_key("2024-02"),
            RANGE_END_TAG: partition_key("2024-02"),
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    assert (tmp_path / "data" / "output" / "2024-02").is_dir()


def test_old_run_folders_are_pruned_and_recent_ones_kept(tmp_path):
    runs = tmp_path / "staging" / "runs"
    old, recent = runs / "old-run", runs / "recent-run"
    for folder in (old, recent):
        (folder / "contract_backlog").mkdir(parents=True)
    three_days_ago = time.time() - 3 * 24 * 3600
    os.utime(old, (three_days_ago, three_days_ago))
    MonthlyFrameIOManager(base_dir=str(tmp_path / "staging"), keep_runs_hours=48).create_io_manager(
        dg.build_init_resource_context()
    ).prune()
    assert not old.exists()
    assert recent.is_dir()
