"""Each month of a run gets its own result of each check (``defs/check_partitions.py``)."""

import inspect

import dagster as dg
import pytest

from backlog_pipeline_tests.support import (
    RECOGNITION,
    build,
    check_evaluations,
    close,
    partition_key,
    recognized,
)


def test_the_private_dagster_symbol_is_still_what_check_partitions_uses():
    """Tripwire: the one private Dagster symbol of the project, in ``check_partitions`` only.

    When a Dagster upgrade moves or changes it, this fails before any UI shows a month's
    check as missing; look then for a public way to name the checked materialization.
    """
    from backlog_pipeline.defs import check_partitions

    target = check_partitions._Target
    assert target.__module__ == "dagster._core.definitions.asset_checks.asset_check_evaluation"
    assert target(storage_id=1, run_id="r", timestamp=2.0).storage_id == 1
    parameters = inspect.signature(dg.AssetCheckEvaluation).parameters
    assert {"partition", "target_materialization_data", "blocking"} <= set(parameters)
    assert "partition" not in inspect.signature(dg.AssetCheckResult).parameters, (
        "AssetCheckResult takes a partition now: check_partitions can use it instead"
    )


def test_no_other_module_imports_dagster_privates():
    from backlog_pipeline_tests.support import _package_modules

    users = [
        name
        for name, path in _package_modules().items()
        if "from dagster._" in path.read_text() or "import dagster._" in path.read_text()
    ]
    assert users == ["backlog_pipeline.defs.check_partitions"]


@pytest.mark.slow
def test_a_range_with_one_bad_month_fails_that_month_only(tmp_path, monkeypatch):
    """An orphan line in March: March's ``recognition_has_contracts`` fails, January and
    February pass, and every other check passes each month, each on its own partition."""
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    orphan = recognized("C9", ("2024-03", "50.00"))
    defs = build(tmp_path, monkeypatch, url, recognition=[*RECOGNITION, *orphan])
    result = close(defs, "2024-01", "2024-03")
    assert result.success  # the orphan is a WARN: published, pointed at
    evaluations = check_evaluations(result)
    keys = [partition_key(m) for m in ("2024-01", "2024-02", "2024-03")]
    months = {}
    for e in evaluations:
        months.setdefault((e.asset_key.to_user_string(), e.check_name), []).append(e.partition)
    assert len(months) >= 20
    assert {check: sorted(found) for check, found in months.items()} == dict.fromkeys(
        months, keys
    )  # every check, each month once
    outcome = {(e.check_name, e.partition): e.passed for e in evaluations}
    assert {k: outcome[("recognition_has_contracts", k)] for k in keys} == {
        keys[0]: True,
        keys[1]: True,
        keys[2]: False,
    }
    assert all(
        passed for (name, _), passed in outcome.items() if name != "recognition_has_contracts"
    )
    march = next(
        e
        for e in check_evaluations(result)
        if (e.check_name, e.partition) == ("recognition_has_contracts", keys[2])
    )
    assert march.metadata["records"].value == 1
    assert march.target_materialization_data is not None  # the month's materialization
