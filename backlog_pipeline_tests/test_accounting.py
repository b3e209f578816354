"""The accounting against figures worked out by hand, SPEC's examples first."""

from decimal import Decimal

import pandas as pd
import pytest

from backlog_pipeline.accounting.as_of import total_closing_as_of, total_closing_as_of_months
from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.accounting.reconcile import (
    as_of_discrepancies,
    cancellation_line_problems,
    continuity_discrepancies,
    identity_discrepancies,
)
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline_tests.support import change, contract, frames, recognized

FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")


def run(contracts, changes, recognition, first: str, last: str):
    typed = frames(contracts, changes, recognition)
    rows, flow = compute_backlog(*typed, parse_month(first), parse_month(last))
    return typed, rows, flow


def figures(flow: pd.DataFrame, period: str) -> dict[str, Decimal]:
    row = flow[flow["period"] == parse_month(period)].iloc[0]
    return {name: Decimal(int(row[name])) / 100 for name in FIGURES}


def expect(opening=0, new=0, converted=0, lost=0, increases=0, decreases=0, closing=0):
    values = (opening, new, converted, lost, increases, decreases, closing)
    return {name: Decimal(str(value)) for name, value in zip(FIGURES, values, strict=True)}


def test_example_1_one_year_subscription_signed_in_january():
    # 1,000 a month for a year, signed in January: books 12,000, recognizes 1,000, closes 11,000.
    _, _, flow = run(
        [contract("C1", "2024-01-10", "12000.00")], [], recognized("C1", ("2024-01", "1000.00")),
        "2024-01", "2024-01",
    )  # fmt: skip
    assert figures(flow, "2024-01") == expect(new=12000, converted=1000, closing=11000)


def test_example_2_backlog_falls_by_recognition_until_fulfilled():
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    _, rows, flow = run(
        [contract("C1", "2024-01-01", "1200.00")], [],
        recognized("C1", *((m, "100.00") for m in months)), "2024-01", "2025-01",
    )  # fmt: skip
    assert figures(flow, "2024-01") == expect(new=1200, converted=100, closing=1100)
    assert figures(flow, "2024-02") == expect(opening=1100, converted=100, closing=1000)
    assert figures(flow, "2024-12") == expect(opening=100, converted=100, closing=0)
    # Fulfilled: no contract row and a zero flow afterwards.
    assert figures(flow, "2025-01") == expect()
    assert rows[rows["period"] == parse_month("2025-01")].empty


def test_example_3_backlog_falls_without_delivery():
    # A scope-reducing change order and a partial cancellation, nothing recognized.
    _, _, flow = run(
        [contract("C1", "2024-01-15", "5000.00")],
        [change("X1", "C1", "2024-03-02", "decrease", "800.00"),
         change("X2", "C1", "2024-04-20", "cancellation", "1200.00")],
        [], "2024-01", "2024-04",
    )  # fmt: skip
    assert figures(flow, "2024-03") == expect(opening=5000, decreases=800, closing=4200)
    assert figures(flow, "2024-04") == expect(opening=4200, lost=1200, closing=3000)


def test_full_cancellation_mid_term_loses_what_remains_after_the_months_recognition():
    _, rows, flow = run(
        [contract("C1", "2024-01-05", "12000.00")],
        [change("X1", "C1", "2024-03-15", "cancellation")],
        recognized("C1", ("2024-01", "1000.00"), ("2024-02", "1000.00"), ("2024-03", "1000.00")),
        "2024-01", "2024-05",
    )  # fmt: skip
    # March opens at 10,000, recognizes 1,000, loses the remaining 9,000 and closes at 0.
    assert figures(flow, "2024-03") == expect(opening=10000, converted=1000, lost=9000)
    assert figures(flow, "2024-04") == expect()
    assert rows[rows["period"] > parse_month("2024-03")].empty


def test_partial_cancellation_mid_term():
    _, _, flow = run(
        [contract("C1", "2024-01-05", "12000.00")],
        [change("X1", "C1", "2024-02-10", "cancellation", "3000.00")],
        recognized("C1", ("2024-01", "1000.00"), ("2024-02", "1000.00"), ("2024-03", "750.00")),
        "2024-01", "2024-03",
    )  # fmt: skip
    assert figures(flow, "2024-02") == expect(
        opening=11000, converted=1000, lost=3000, closing=7000
    )
    assert figures(flow, "2024-03") == expect(opening=7000, converted=750, closing=6250)


def test_increase_and_decrease_in_the_same_month_on_two_contracts():
    _, rows, flow = run(
        [contract("A", "2024-01-01", "2400.00"), contract("B", "2024-01-31", "600.50")],
        [change("X1", "A", "2024-02-01", "increase", "1200.00"),
         change("X2", "B", "2024-02-29", "decrease", "100.25")],
        recognized("A", ("2024-02", "300.00")), "2024-02", "2024-02",
    )  # fmt: skip
    assert figures(flow, "2024-02") == expect(
        opening=3000.50, converted=300, increases=1200, decreases=100.25, closing=3800.25
    )
    by_contract = rows.set_index("contract_id")["closing"].to_dict()
    assert by_contract == {"A": 330000, "B": 50025}


def test_a_month_with_nothing_happening_carries_the_backlog_and_a_zero_cancellation_line():
    _, rows, flow = run(
        [contract("C1", "2024-01-20", "900.00")], [],
        recognized("C1", ("2024-01", "300.00"), ("2024-03", "300.00")), "2024-01", "2024-03",
    )  # fmt: skip
    assert figures(flow, "2024-02") == expect(opening=600, closing=600)
    february = rows[rows["period"] == parse_month("2024-02")]
    assert february["contract_id"].tolist() == ["C1"]
    assert cancellation_line_problems(flow) == []
    assert flow["lost"].tolist() == [0, 0, 0]


def test_a_month_before_any_contract_is_all_zero():
    _, _, flow = run([contract("C1", "2024-03-01", "100.00")], [], [], "2024-01", "2024-03")
    assert figures(flow, "2024-01") == expect()
    assert flow["net_change_pct"].iloc[0] is None
    assert figures(flow, "2024-03") == expect(new=100, closing=100)


def test_over_recognition_goes_negative_and_is_not_clamped():
    _, _, flow = run(
        [contract("C1", "2024-01-01", "1000.00")], [],
        recognized("C1", ("2024-01", "800.00"), ("2024-02", "350.00")), "2024-01", "2024-02",
    )  # fmt: skip
    assert figures(flow, "2024-02") == expect(opening=200, converted=350, closing=-150)


def test_recognition_for_an_unknown_contract_is_not_converted_backlog():
    _, _, flow = run(
        [contract("C1", "2024-01-01", "1000.00")], [],
        recognized("C1", ("2024-01", "100.00")) + recognized("GHOST", ("2024-01", "999.99")),
        "2024-01", "2024-01",
    )  # fmt: skip
    assert figures(flow, "2024-01") == expect(new=1000, converted=100, closing=900)


def test_net_change_percent_is_rounded_half_up_and_null_on_zero_opening():
    _, _, flow = run(
        [contract("C1", "2024-01-01", "3000.00")], [],
        recognized("C1", ("2024-02", "1000.00")), "2024-01", "2024-02",
    )  # fmt: skip
    assert flow["net_change_pct"].tolist() == [None, Decimal("-33.33")]
    # 1/8 = 12.5 % exactly: half up at the second decimal of 0.125 % below.
    _, _, flow = run(
        [contract("C1", "2024-01-01", "8000.00")], [], recognized("C1", ("2024-02", "10.00")),
        "2024-02", "2024-02",
    )  # fmt: skip
    assert flow["net_change_pct"].tolist() == [Decimal("-0.13")]


@pytest.mark.parametrize("period", ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"])
def test_both_routes_agree_through_termination_and_late_recognition(period):
    # Recognition after termination is a data error; whatever it does, both routes agree.
    typed, _, flow = run(
        [contract("C1", "2024-01-05", "1200.00"), contract("C2", "2024-02-01", "500.00")],
        [change("X1", "C1", "2024-02-10", "increase", "300.00"),
         change("X2", "C1", "2024-03-01", "cancellation"),
         change("X3", "C2", "2024-04-01", "cancellation", "50.00")],
        recognized("C1", ("2024-01", "100.00"), ("2024-03", "100.00"), ("2024-04", "40.00"))
        + recognized("C2", ("2024-02", "100.00")),
        "2024-01", "2024-05",
    )  # fmt: skip
    month = parse_month(period)
    assert (
        as_of_discrepancies(flow, {m: total_closing_as_of(*typed, m) for m in flow["period"]}) == []
    )
    months = list(range(parse_month("2023-12"), parse_month("2024-07")))
    assert total_closing_as_of_months(*typed, months) == {
        m: total_closing_as_of(*typed, m) for m in months
    }
    assert identity_discrepancies(flow) == []
    assert continuity_discrepancies(flow, {}) == []
    closing = int(flow.loc[flow["period"] == month, "closing"].iloc[0])
    # Jan: C1 1,200 − 100. Feb: C1 + 300; C2 500 − 100. Mar: C1 terminated, C2 400.
    # Apr: C1 −40 recognized after termination; C2 loses 50. May: nothing happens.
    by_hand = {"2024-01": 110000, "2024-02": 180000, "2024-03": 40000,
               "2024-04": 31000, "2024-05": 31000}  # fmt: skip
    assert closing == by_hand[period], month_label(month)


def test_a_range_gives_the_figures_of_month_by_month_computation(demo_frames):
    first, last = parse_month("2024-01"), parse_month("2025-12")
    rows, flow = compute_backlog(*demo_frames, first, last)
    for month in (first, parse_month("2024-06"), parse_month("2025-03"), last):
        one_rows, one_flow = compute_backlog(*demo_frames, month, month)
        pd.testing.assert_frame_equal(
            one_flow.reset_index(drop=True),
            flow[flow["period"] == month].reset_index(drop=True),
        )
        pd.testing.assert_frame_equal(
            one_rows.reset_index(drop=True),
            rows[rows["period"] == month].reset_index(drop=True),
        )


def test_demo_reconciles_every_month_by_both_routes(demo_frames):
    first, last = parse_month("2024-01"), parse_month("2025-12")
    _, flow = compute_backlog(*demo_frames, first, last)
    independent = {m: total_closing_as_of(*demo_frames, m) for m in range(first, last + 1)}
    assert total_closing_as_of_months(*demo_frames, list(range(first, last + 1))) == independent
    assert identity_discrepancies(flow) == []
    assert as_of_discrepancies(flow, independent) == []
    assert continuity_discrepancies(flow, {}) == []
    assert flow.loc[flow["period"] == parse_month("2024-06"), "lost"].item() == 0
    assert (flow["lost"] > 0).sum() >= 5  # the demo does cancel contracts
