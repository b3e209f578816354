"""The trust layer in Dagster: data-error checks with evidence, versions, restatements, locks.

Datasets are the hand-worked one of ``test_pipeline`` (clean) plus records built to break
one thing each; expected figures and records are worked out by hand in the comments.
"""

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import simplejson

from backlog_pipeline.cli import months
from backlog_pipeline_tests.support import (
    CHANGES,
    CONTRACTS,
    EVERY_CHECK,
    RECOGNITION,
    build,
    change,
    check_evaluations,
    check_results,
    close,
    contract,
    money,
    partition_key,
    recognized,
    table,
)

pytestmark = pytest.mark.slow

WARN_CHECKS = {
    "changes_have_contracts", "recognition_has_contracts", "recognition_after_signing",
    "recognition_before_termination", "no_over_recognition", "no_phantom_backlog",
}  # fmt: skip


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"


def exceptions(url: str, check: str) -> list[tuple]:
    rows = table(url, "backlog_exceptions")
    rows = rows[rows["check_name"] == check].sort_values(["period", "record_id"])
    return [
        (r.period, r.record_id, r.contract_id, None if r.amount is None else money(r.amount))
        for r in rows.itertuples()
    ]


def test_the_clean_dataset_passes_every_check_and_leaves_no_exceptions(tmp_path, monkeypatch):
    url = sqlite_url(tmp_path)
    result = close(build(tmp_path, monkeypatch, url), "2024-01", "2024-06")
    assert result.success
    evaluations = check_results(result)
    assert set(evaluations) == EVERY_CHECK
    assert [name for name, e in evaluations.items() if not e.passed] == []
    assert table(url, "backlog_exceptions").empty


def test_warn_checks_flag_their_records_and_the_close_still_publishes(tmp_path, monkeypatch):
    url = sqlite_url(tmp_path)
    defs = build(
        tmp_path, monkeypatch, url,
        contracts=[*CONTRACTS, contract("C4", "2024-01-15", "300.00", end_date="2024-02-29")],
        changes=[*CHANGES, change("X9", "C9", "2024-02-01", "increase", "5.00")],
        recognition=[
            *RECOGNITION,
            *recognized("C8", ("2024-03", "7.00")),  # no such contract
            *recognized("C3", ("2024-02", "10.00")),  # C3 is signed 2024-03-31
            {"line_id": "C1-LATE", "contract_id": "C1", "period": "2024-05", "amount": "50.00"},
            *recognized("C4", ("2024-01", "100.00")),
        ],
    )  # fmt: skip
    result = close(defs, "2024-01", "2024-06")
    assert result.success  # WARN never blocks
    evaluations = check_results(result)
    failed = {name for name, e in evaluations.items() if not e.passed}
    assert failed == WARN_CHECKS
    assert {evaluations[name].severity for name in failed} == {dg.AssetCheckSeverity.WARN}
    assert exceptions(url, "changes_have_contracts") == [("2024-02", "X9", "C9", money("5"))]
    assert exceptions(url, "recognition_has_contracts") == [
        ("2024-03", "C8-2024-03-0", "C8", money("7"))
    ]
    assert exceptions(url, "recognition_after_signing") == [
        ("2024-02", "C3-2024-02-0", "C3", money("10"))
    ]
    # C1 is terminated in April (X2); its May line is after the termination.
    assert exceptions(url, "recognition_before_termination") == [
        ("2024-05", "C1-LATE", "C1", money("50"))
    ]
    # C3 goes to -10.00 in February (recognized before booking); C1 to -50.00 from May.
    assert exceptions(url, "no_over_recognition") == [
        ("2024-02", "C3", "C3", money("-10")),
        ("2024-05", "C1", "C1", money("-50")),
        ("2024-06", "C1", "C1", money("-50")),
    ]
    # C4 ended in February holding 200.00: phantom from March to June.
    assert exceptions(url, "no_phantom_backlog") == [
        (f"2024-0{m}", "C4", "C4", money("200")) for m in (3, 4, 5, 6)
    ]
    # Evidence is one step away: the count, the first rows and the query in the metadata.
    # Each month's result has that month's records: C4 in March, April, May and June.
    phantom_by_month = {
        e.partition: e.metadata["records"].value
        for e in check_evaluations(result)
        if e.check_name == "no_phantom_backlog"
    }
    assert phantom_by_month == {partition_key(f"2024-0{m}"): int(m >= 3) for m in range(1, 7)}
    phantom = evaluations["no_phantom_backlog"].metadata  # March's, the first failed month
    assert phantom["records"].value == 1
    shown = phantom["first_records"].value.records  # a table in the UI
    assert [(r.data["period"], r.data["record_id"]) for r in shown] == [("2024-03", "C4")]
    assert f"run_id = '{result.run_id}'" in phantom["evidence"].value
    assert set(table(url, "backlog_exceptions")["run_id"]) == {result.run_id}
    # Orphans are left out of the figures; the rest is published as SPEC computes it:
    # June closes at 3150.25 (clean) + 200 (C4) - 50 (C1 after termination) - 10 (C3 early).
    closing = table(url, "backlog_flow").set_index("period")["closing"]
    assert money(closing["2024-06"]) == money("3290.25")


@pytest.mark.parametrize(
    ("check", "broken", "record", "reason"),
    [
        ("contract_ids_unique", {"contracts": [*CONTRACTS, contract("C1", "2024-05-01", "10.00")]},
         "C1", "appears 2 times"),
        ("tcv_not_negative", {"contracts": [*CONTRACTS, contract("C4", "2024-02-01", "-100.00")]},
         "C4", "negative"),
        ("currency_known",
         {"contracts": [*CONTRACTS, contract("C-XYZ", "2024-01-02", "500.00", currency="XYZ")]},
         "C-XYZ", "'XYZ' is not an ISO 4217 code"),
        ("change_ids_unique", {"changes": [*CHANGES, change("X1", "C1", "2024-02-01", "increase",
                                                            "1.00")]}, "X1", "appears 2 times"),
        ("line_ids_unique", {"recognition": [*RECOGNITION, RECOGNITION[0]]}, "C1-2024-01-0",
         "appears 2 times"),
        # C2 in April holds 2400.50 + 600 - 200.25 - 300 = 2500.25; 5000 cannot be cancelled.
        ("cancellations_within_backlog",
         {"changes": [*CHANGES, change("X5", "C2", "2024-04-10", "cancellation", "5000.00")]},
         "X5", "only 2500.25 of backlog remained"),
    ],
)  # fmt: skip
def test_an_error_check_blocks_publication_and_keeps_the_last_good_one(
    tmp_path, monkeypatch, check, broken, record, reason
):
    url = sqlite_url(tmp_path)
    assert close(build(tmp_path, monkeypatch, url), "2024-01", "2024-06").success
    before = table(url, "backlog_flow")
    result = close(build(tmp_path, monkeypatch, url, "broken", **broken), "2024-01", "2024-06")
    assert not result.success
    evaluation = check_results(result)[check]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert reason in evaluation.metadata["summary"].value
    found = table(url, "backlog_exceptions")
    found = found[found["check_name"] == check]
    assert record in set(found["record_id"]) and (found["severity"] == "ERROR").all()
    assert all(reason in text for text in found["reason"])
    assert table(url, "backlog_flow").equals(before)
    assert len(table(url, "publication_versions")) == 6


LATE_LINE = {"line_id": "LATE-1", "contract_id": "C2", "period": "2024-03", "amount": "100.00"}


def test_a_late_line_restates_its_month_as_a_new_version_and_keeps_the_old_one(
    tmp_path, monkeypatch, warehouse_url
):
    url = warehouse_url
    first = close(build(tmp_path, monkeypatch, url), "2024-01", "2024-06")
    assert first.success
    late = build(tmp_path, monkeypatch, url, "late", recognition=[*RECOGNITION, LATE_LINE])
    result = close(late, "2024-03")
    assert result.success
    evaluation = check_results(result)["matches_published"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    # March converts 1300 + 100 = 1400 and closes 12500.25 - 100 = 12400.25.
    details = evaluation.metadata["details"].value
    assert "converted" in details and "1400.00" in details and "+100.00" in details
    assert "12400.25" in details and "-100.00" in details
    assert evaluation.metadata["months_restated"].value == {"2024-03": "version 1 → 2"}
    # Line by line: contract C2's converted and closing.
    assert exceptions(url, "matches_published") == [
        ("2024-03", "C2", "C2", money("100")),
        ("2024-03", "C2", "C2", money("-100")),
    ]
    versions = table(url, "publication_versions")
    march = versions[versions["period"] == "2024-03"].sort_values("version")
    assert list(march["version"]) == [1, 2]
    assert [money(v) for v in march["closing"]] == [money("12500.25"), money("12400.25")]
    assert list(march["run_id"]) == [first.run_id, result.run_id]
    assert march["restates"].iloc[1] == 1
    assert (versions["period"] != "2024-03").sum() == 5  # the other months: version 1 only
    # The superseded contract rows stay queryable; the current table has the new ones.
    history = table(url, "contract_backlog_history")
    old_c2 = history[(history["period"] == "2024-03") & (history["contract_id"] == "C2")]
    assert money(old_c2["converted"].iloc[0]) == money("300")
    current = table(url, "contract_backlog")
    new_c2 = current[(current["period"] == "2024-03") & (current["contract_id"] == "C2")]
    assert money(new_c2["converted"].iloc[0]) == money("400")
    # April, published before, now opens at the old March closing: the WARN says rerun it.
    continuity = check_results(result)["opening_continues_previous_close"]
    assert not continuity.passed and "rerun 2024-04" in continuity.metadata["summary"].value
    # The KPI document says which version it is.
    document = simplejson.loads(
        (tmp_path / "data" / "output" / "2024-03" / "bookings_backlog_total.json").read_text(),
        use_decimal=True,
    )
    assert document["measurement"]["version"] == 2
    assert document["measurement"]["value"] == Decimal("12400.25")
    # Running the same month again changes nothing: no version 3, the check passes.
    again = close(late, "2024-03")
    assert again.success and check_results(again)["matches_published"].passed
    assert len(table(url, "publication_versions")) == 7


def test_a_locked_month_is_never_changed_until_unlocked_with_a_reason(
    tmp_path, monkeypatch, capsys
):
    url = sqlite_url(tmp_path)
    assert close(build(tmp_path, monkeypatch, url), "2024-01", "2024-06").success
    assert months.main(["lock", "2024-03", "--by", "Jane (CFO)", "--reason", "Q1 signed"]) == 0
    # An unchanged rerun of a locked month is fine: nothing would change.
    unchanged = close(build(tmp_path, monkeypatch, url, "same"), "2024-03")
    assert unchanged.success
    late = build(tmp_path, monkeypatch, url, "late", recognition=[*RECOGNITION, LATE_LINE])
    blocked = close(late, "2024-03")
    assert not blocked.success
    evaluation = check_results(blocked)["matches_published"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "Jane (CFO)" in evaluation.metadata["locked"].value
    march = table(url, "backlog_flow").set_index("period").loc["2024-03"]
    assert money(march["closing"]) == money("12500.25")
    assert len(table(url, "publication_versions")) == 6
    # Unlocking needs a reason; then the restatement goes through as version 2.
    with pytest.raises(SystemExit):
        months.main(["unlock", "2024-03", "--by", "Jane"])
    assert months.main(["unlock", "2024-03", "--by", "Jane", "--reason", "late ERP line"]) == 0
    assert close(late, "2024-03").success
    march = table(url, "backlog_flow").set_index("period").loc["2024-03"]
    assert money(march["closing"]) == money("12400.25")
    log = table(url, "period_lock_log")
    assert list(zip(log["action"], log["reason"], strict=True)) == [
        ("lock", "Q1 signed"), ("unlock", "late ERP line")
    ]  # fmt: skip
    capsys.readouterr()


def test_publish_refuses_a_locked_month_even_without_the_checks(tmp_path, monkeypatch):
    """The lock holds inside the publishing transaction, whatever the selection."""
    url = sqlite_url(tmp_path)
    assert close(build(tmp_path, monkeypatch, url), "2024-01", "2024-06").success
    assert months.main(["lock", "2024-03", "--by", "Jane", "--reason", "signed"]) == 0
    late = build(tmp_path, monkeypatch, url, "late", recognition=[*RECOGNITION, LATE_LINE])
    # Without the flow's checks nor the disclosure's (whose comparison with the published
    # month would refuse the locked month first), only the publisher stands in the way.
    checks = dg.AssetSelection.checks_for_assets("backlog_flow", "rpo_disclosure")
    selection = dg.AssetSelection.all() - checks
    job = dg.define_asset_job("no_flow_checks", selection=selection)
    defs = dg.Definitions.merge(late, dg.Definitions(jobs=[job]))
    result = defs.resolve_job_def("no_flow_checks").execute_in_process(
        partition_key=partition_key("2024-03"),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "publish_warehouse_tables"
    assert "locked" in failure.step_failure_data.user_failure_data.description
    assert money(table(url, "backlog_flow").set_index("period").loc["2024-03", "closing"]) == (
        money("12500.25")
    )


def test_every_published_figure_traces_to_its_contracts_records_and_run(
    tmp_path, monkeypatch, capsys
):
    url = sqlite_url(tmp_path)
    result = close(build(tmp_path, monkeypatch, url), "2024-01", "2024-06")
    assert result.success
    rows = table(url, "contract_backlog")
    records = table(url, "backlog_source_records")
    # Each contract figure is the sum of the records behind it (terminations aside).
    for figure in ("new_bookings", "converted", "increases", "decreases"):
        behind = records[records["figure"] == figure].groupby(["period", "contract_id"])["amount"]
        for (period, contract_id), total in behind.sum().items():
            row = rows[(rows["period"] == period) & (rows["contract_id"] == contract_id)]
            assert money(row[figure].iloc[0]) == money(total), (period, contract_id, figure)
    # May: C3's 250.00 partial cancellation X3 and its 100.00 decrease X4.
    may = records[records["period"] == "2024-05"].sort_values("record_id")
    assert list(zip(may["record_id"], may["figure"], may["amount"].map(money), strict=True)) == [
        ("X3", "lost", money("250")), ("X4", "decreases", money("100"))
    ]  # fmt: skip
    # C1's termination in April is a record without an amount: the 8,000 lost is computed.
    april_lost = records[(records["period"] == "2024-04") & (records["figure"] == "lost")]
    assert list(april_lost["record_id"]) == ["X2"] and april_lost["amount"].isna().all()
    # Every version names its run, its code and what was read from each source.
    versions = table(url, "publication_versions")
    assert set(versions["run_id"]) == {result.run_id}
    assert versions["code_version"].str.len().min() > 0
    marks = simplejson.loads(versions["source_marks"].iloc[0])
    assert {name: mark["rows"] for name, mark in marks.items()} == {
        "crm_contracts": 3, "crm_contract_changes": 4, "erp_recognition": 6
    }  # fmt: skip
    # And the CLI walks it: March's converted down to the recognition lines.
    assert months.main(["trace", "2024-03", "--figure", "converted"]) == 0
    printed = capsys.readouterr().out
    assert "C1-2024-03-2" in printed and "C2-2024-03-1" in printed and "1300.00" in printed
