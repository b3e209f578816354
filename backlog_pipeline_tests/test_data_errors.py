"""Each SPEC data error is found on a small dataset built to break it, and not on a clean one."""

import pandas as pd

from backlog_pipeline.accounting import data_errors
from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline_tests.support import change, contract, frames, recognized

M = parse_month
CLEAN = (
    [contract("C1", "2024-01-10", "1200.00", end_date="2024-12-31"),
     contract("C2", "2024-02-01", "600.00", end_date="2024-03-31")],
    [change("X1", "C1", "2024-03-05", "cancellation", "200.00"),
     change("X2", "C2", "2024-03-10", "increase", "50.00")],
    recognized("C1", ("2024-01", "100.00"), ("2024-02", "100.00"))
    + recognized("C2", ("2024-02", "300.00"), ("2024-03", "350.00")),
)  # fmt: skip


def found(exceptions: pd.DataFrame) -> list[tuple]:
    """(period label or None, record id, contract id, amount in cents or None) per finding."""
    return [
        (
            None if pd.isna(row.period) else month_label(int(row.period)),
            row.record_id,
            row.contract_id,
            None if pd.isna(row.amount) else int(row.amount),
        )
        for row in exceptions.itertuples()
    ]


def all_findings(contracts, changes, recognition) -> dict[str, pd.DataFrame]:
    rows, _ = compute_backlog(contracts, changes, recognition, M("2024-01"), M("2024-12"))
    return {
        "duplicate contracts": data_errors.duplicate_ids(
            contracts, "contract_id", "crm", "signed_month", "tcv"),
        "duplicate changes": data_errors.duplicate_ids(
            changes, "change_id", "crm", "effective_month", "amount"),
        "duplicate lines": data_errors.duplicate_ids(
            recognition, "line_id", "erp", "period", "amount"),
        "negative tcv": data_errors.negative_tcv(contracts, "crm"),
        "currency": data_errors.unknown_currencies(contracts, "crm", "USD", {"USD", "EUR"}),
        "orphan changes": data_errors.orphans(
            changes, contracts, "crm", "change_id", "effective_month"),
        "orphan lines": data_errors.orphans(recognition, contracts, "erp", "line_id", "period"),
        "before signing": data_errors.recognition_before_signing(recognition, contracts, "erp"),
        "after termination": data_errors.recognition_after_termination(
            recognition, changes, "erp"),
        "over-recognition": data_errors.over_recognition(rows, "contract_backlog"),
        "phantom": data_errors.phantom_backlog(rows, contracts, changes, "contract_backlog"),
        "oversized": data_errors.oversized_cancellations(rows, changes, "contract_backlog"),
    }  # fmt: skip


def test_clean_dataset_has_no_findings() -> None:
    # C1 ends 2024-12-31 holding backlog, but December is its end month: not phantom yet.
    for name, exceptions in all_findings(*frames(*CLEAN)).items():
        assert exceptions.empty, (name, exceptions)


def test_duplicates_list_every_copy() -> None:
    contracts, changes, recognition = CLEAN
    broken = frames(
        [*contracts, contract("C1", "2024-05-01", "10.00")],
        [*changes, change("X2", "C2", "2024-04-01", "decrease", "5.00")],
        [*recognition, recognition[0]],
    )
    findings = all_findings(*broken)
    assert found(findings["duplicate contracts"]) == [
        ("2024-01", "C1", "C1", 120000),
        ("2024-05", "C1", "C1", 1000),
    ]
    assert found(findings["duplicate changes"]) == [
        ("2024-03", "X2", "C2", 5000),
        ("2024-04", "X2", "C2", 500),
    ]
    assert found(findings["duplicate lines"]) == [("2024-01", "C1-2024-01-0", "C1", 10000)] * 2
    assert "appears 2 times" in findings["duplicate contracts"]["reason"][0]  # fmt: skip


def test_negative_tcv_and_unknown_currency() -> None:
    contracts, changes, recognition = CLEAN
    broken = frames(
        [*contracts, contract("C3", "2024-04-01", "-500.00"),
         contract("C4", "2024-04-02", "10.00", currency="XYZ"),
         contract("C5", "2024-04-03", "20.00", currency="EUR")],
        changes, recognition,
    )  # fmt: skip
    findings = all_findings(*broken)
    assert found(findings["negative tcv"]) == [("2024-04", "C3", "C3", -50000)]
    assert found(findings["currency"]) == [
        ("2024-04", "C4", "C4", 1000), ("2024-04", "C5", "C5", 2000)]  # fmt: skip
    reasons = list(findings["currency"]["reason"])
    assert "not an ISO 4217 code" in reasons[0]
    assert "not the reporting currency USD" in reasons[1]


def test_orphans_name_a_quarantined_contract() -> None:
    contracts, changes, recognition = CLEAN
    broken = frames(
        contracts,
        [*changes, change("X9", "C9", "2024-02-01", "increase", "1.00")],
        recognition + recognized("C8", ("2024-03", "7.00")),
    )
    findings = all_findings(*broken)
    assert found(findings["orphan changes"]) == [("2024-02", "X9", "C9", 100)]
    assert found(findings["orphan lines"]) == [("2024-03", "C8-2024-03-0", "C8", 700)]
    quarantined = data_errors.orphans(
        broken[2], broken[0], "erp", "line_id", "period", quarantined_contracts={"C8"}
    )
    assert "was quarantined" in quarantined["reason"][0]


def test_recognition_before_signing_and_after_termination() -> None:
    contracts, changes, recognition = CLEAN
    broken = frames(
        [*contracts, contract("C3", "2024-05-15", "900.00")],
        [*changes, change("X3", "C3", "2024-07-01", "cancellation")],
        recognition
        + recognized("C3", ("2024-04", "100.00"), ("2024-07", "100.00"), ("2024-08", "40.00")),
    )
    findings = all_findings(*broken)
    assert found(findings["before signing"]) == [("2024-04", "C3-2024-04-0", "C3", 10000)]
    # July is the termination month itself: its recognition is allowed, August's is not.
    assert found(findings["after termination"]) == [("2024-08", "C3-2024-08-2", "C3", 4000)]
    assert "terminated in 2024-07 (change 'X3')" in findings["after termination"]["reason"][0]


def test_over_recognition_is_reported_per_month_while_negative() -> None:
    contracts, changes, recognition = CLEAN
    # C2: 600 + 50 increase = 650 worth; 300 + 350 recognized = 650; 25 more in April.
    broken = frames(contracts, changes, recognition + recognized("C2", ("2024-04", "25.00")))
    over = found(all_findings(*broken)["over-recognition"])
    assert over[0] == ("2024-04", "C2", "C2", -2500)
    # It stays at -25.00 (carried) through December: one finding per month.
    assert [period for period, *_ in over] == [f"2024-{m:02d}" for m in range(4, 13)]


def test_phantom_backlog_after_the_end_month_without_cancellation() -> None:
    contracts, changes, recognition = CLEAN
    contracts = [*contracts, contract("C3", "2024-01-05", "300.00", end_date="2024-02-29")]
    broken = frames(
        contracts,
        [*changes, change("X3", "C3", "2024-05-01", "decrease", "10.00")],
        recognition + recognized("C3", ("2024-01", "100.00")),
    )
    phantom = found(all_findings(*broken)["phantom"])
    # Ended in February with 200.00 left: phantom from March; 190.00 after May's decrease.
    assert phantom[:3] == [
        ("2024-03", "C3", "C3", 20000), ("2024-04", "C3", "C3", 20000),
        ("2024-05", "C3", "C3", 19000),
    ]  # fmt: skip
    assert len(phantom) == 10  # March..December
    # Only a termination clears it: from the termination's month on, nothing is phantom.
    terminated = frames(
        contracts,
        [*changes, change("X3", "C3", "2024-05-01", "cancellation")],
        recognition + recognized("C3", ("2024-01", "100.00")),
    )
    assert [p for p, *_ in found(all_findings(*terminated)["phantom"])] == [
        "2024-03", "2024-04"]  # fmt: skip


def test_a_partial_cancellation_does_not_clear_phantom_backlog() -> None:
    contracts, changes, recognition = CLEAN
    # P1: 500.00 ending in February, nothing recognized; 1.00 cancelled in March leaves 499.00
    # (500.00 - 1.00) held from March to December, ten months past its end month.
    contracts = [*contracts, contract("P1", "2024-01-05", "500.00", end_date="2024-02-29")]
    partial = frames(
        contracts, [*changes, change("X9", "P1", "2024-03-15", "cancellation", "1.00")], recognition
    )
    phantom = found(all_findings(*partial)["phantom"])
    assert phantom == [(f"2024-{m:02d}", "P1", "P1", 49_900) for m in range(3, 13)]
    # A partial cancellation of everything that was left (500.00) brings it to 0: not phantom.
    emptied = frames(
        contracts, [*changes, change("X9", "P1", "2024-03-15", "cancellation", "500.00")],
        recognition,
    )  # fmt: skip
    assert found(all_findings(*emptied)["phantom"]) == []


def test_partial_cancellation_above_remaining_backlog() -> None:
    contracts, _changes, recognition = CLEAN
    # C1 in March: opens at 1000.00, nothing recognized; 600 + 500 cancelled = 1100 > 1000.
    broken = frames(
        contracts,
        [change("X1", "C1", "2024-03-05", "cancellation", "600.00"),
         change("X3", "C1", "2024-03-20", "cancellation", "500.00"),
         change("X2", "C2", "2024-03-10", "increase", "50.00")],
        recognition,
    )  # fmt: skip
    findings = all_findings(*broken)
    assert found(findings["oversized"]) == [
        ("2024-03", "X1", "C1", 60000), ("2024-03", "X3", "C1", 50000)]  # fmt: skip
    assert "only 1000.00 of backlog remained" in findings["oversized"]["reason"][0]
    # Exactly the remaining backlog is allowed.
    exact = frames(
        contracts,
        [change("X1", "C1", "2024-03-05", "cancellation", "1000.00")],
        recognition,
    )
    assert all_findings(*exact)["oversized"].empty


def test_scope_keeps_earlier_source_errors_and_only_the_run_months_of_results() -> None:
    exceptions = data_errors.negative_tcv(
        frames(
            [contract("A", "2024-01-01", "-1.00"), contract("B", "2024-06-01", "-2.00")], [], []
        )[0],
        "crm",
    )
    assert list(data_errors.in_scope(exceptions, None, M("2024-03"))["record_id"]) == ["A"]
    assert list(data_errors.in_scope(exceptions, M("2024-02"), M("2024-12"))["record_id"]) == ["B"]
