"""The health ratios, worked out by hand: exact, half up, null with a reason on a zero."""

from decimal import Decimal

import pandas as pd
import pytest

from backlog_pipeline.accounting.ratios import (
    aging,
    concentration,
    coverage,
    exact_percent,
    exact_ratio,
    flow_ratios,
    months_needed,
)
from backlog_pipeline.periods import parse_month
from backlog_pipeline_tests.rpo_frames import contracts_of, rows_of

D = Decimal


def flow_of(*months: tuple[str, int, int, int, int, int]) -> pd.DataFrame:
    """(month, opening, new, converted, lost, closing) in cents."""
    return pd.DataFrame(
        [(parse_month(m), *figures) for m, *figures in months],
        columns=["period", "opening", "new_bookings", "converted", "lost", "closing"],
    )


def test_exact_rounding_half_up():
    assert exact_ratio(1, 8, 2) == D("0.13")  # 0.125 → 0.13
    assert exact_ratio(-1, 8, 2) == D("-0.13")  # half away from zero
    assert exact_ratio(2, 3) == D("0.6667")
    assert exact_percent(2, 3) == D("66.67")
    # Past float precision: (10^18 + 1) / 2 × 10^-18 … exactly 0.5000 (no double rounding).
    assert exact_ratio(10**18 + 1, 2 * 10**18) == D("0.5000")
    with pytest.raises(ZeroDivisionError):
        exact_ratio(1, 0)


def test_flow_ratios_by_hand():
    flow = flow_of(
        ("2024-01", 0, 1_200_000, 100_000, 0, 1_100_000),
        ("2024-02", 1_100_000, 0, 100_000, 50_000, 950_000),
        ("2024-03", 950_000, 300_000, 0, 0, 1_250_000),
        ("2024-04", 1_250_000, 0, 200_000, 125_000, 925_000),
    )
    ratios = flow_ratios(flow).set_index("period")
    jan, feb, mar, apr = (ratios.loc[parse_month(f"2024-0{m}")] for m in range(1, 5))
    # January opens at 0: no cancellation share, and the reason says so.
    assert jan["cancellation_share_pct"] is None
    assert jan["cancellation_share_reason"] == "the month opened with no backlog"
    assert jan["book_to_bill"] == D("12.0000")  # 1,200,000 / 100,000
    # One month of history: 1,100,000 / 100,000 = 11.
    assert (jan["months_of_revenue"], jan["months_of_revenue_months_used"]) == (D("11.0000"), 1)
    assert feb["cancellation_share_pct"] == D("4.55")  # 50,000 / 1,100,000 = 4.5454…%
    assert feb["book_to_bill"] == D("0.0000")
    # Two months: average (100,000 + 100,000) / 2 = 100,000; 950,000 / 100,000 = 9.5.
    assert (feb["months_of_revenue"], feb["months_of_revenue_months_used"]) == (D("9.5000"), 2)
    assert mar["cancellation_share_pct"] == D("0.00")
    assert mar["book_to_bill"] is None  # nothing converted in March
    assert mar["book_to_bill_reason"] == "no revenue converted in the month"
    # Three months: (100,000 + 100,000 + 0) / 3; 1,250,000 × 3 / 200,000 = 18.75.
    assert mar["months_of_revenue"] == D("18.7500")
    assert apr["cancellation_share_pct"] == D("10.00")  # 125,000 / 1,250,000
    # February … April: (100,000 + 0 + 200,000) / 3 = 100,000; 925,000 / 100,000 = 9.25.
    assert (apr["months_of_revenue"], apr["months_of_revenue_months_used"]) == (D("9.2500"), 3)
    assert months_needed(parse_month("2024-04"), parse_month("2024-04")) == (
        parse_month("2024-02"),
        parse_month("2024-04"),
    )


def test_months_of_revenue_without_conversion_is_null_with_the_reason():
    flow = flow_of(
        ("2024-01", 0, 500_000, 0, 0, 500_000),
        ("2024-02", 500_000, 0, 0, 0, 500_000),
        ("2024-03", 500_000, 0, 0, 0, 500_000),
    )
    march = flow_ratios(flow).iloc[-1]
    assert march["months_of_revenue"] is None
    assert march["months_of_revenue_reason"] == "no revenue converted in the last 3 month(s)"


def budget_of(first: str, months: int, cents: int) -> pd.DataFrame:
    start = parse_month(first)
    return pd.DataFrame({"month": range(start, start + months), "amount": cents})


def test_coverage_by_hand():
    june, may = parse_month("2024-06"), parse_month("2024-05")
    budget = budget_of("2024-07", 12, 100_000)  # 1,200,000 over July 2024 … June 2025
    closing = pd.Series({may: 1_000_000, june: 1_800_000})
    within = pd.Series({may: 900_000, june: 1_200_000})
    result = coverage(closing, within, budget).set_index("period")
    # June: 1,800,000 / 1,200,000 = 1.5; current 1,200,000 / 1,200,000 = 1.
    assert result.loc[june, "budget_next_12_months"] == 1_200_000
    assert result.loc[june, "coverage"] == D("1.5000")
    assert result.loc[june, "current_coverage"] == D("1.0000")
    assert result.loc[june, "visible_year"] is True
    # May's next 12 months start in June, which the budget lacks.
    assert result.loc[may, "coverage"] is None
    assert result.loc[may, "coverage_reason"] == "the budget has no figure for 2024-06"


def test_coverage_zero_budget_and_the_visible_year_on_exact_figures():
    june = parse_month("2024-06")
    zero = coverage(pd.Series({june: 5}), pd.Series({june: 5}), budget_of("2024-07", 12, 0))
    assert zero.iloc[0]["coverage"] is None
    assert zero.iloc[0]["coverage_reason"] == "the budget for the next 12 months is 0"
    # 1,199,999 / 1,200,000 = 0.99999917 rounds to 1.0000, but the year is not covered.
    close = coverage(
        pd.Series({june: 1_199_999}), pd.Series({june: 0}), budget_of("2024-07", 12, 100_000)
    ).iloc[0]
    assert (close["coverage"], close["visible_year"]) == (D("1.0000"), False)


def test_concentration_by_hand():
    customers = [("A1", "A"), ("A2", "A"), ("B1", "B")] + [
        (f"S{n}", f"S{n:02d}") for n in range(11)
    ]
    contracts = contracts_of(
        *((cid, "2024-01-01", "2025-12-31", {"customer_id": cust}) for cid, cust in customers)
    )
    rows = rows_of(
        ("2024-06", "A1", 60_000),
        ("2024-06", "A2", 40_000),
        ("2024-06", "B1", 50_000),
        *(("2024-06", f"S{n}", 10_000) for n in range(11)),
        ("2024-05", "A1", 0),
    )
    result = concentration(rows, contracts).set_index("period")
    june = result.loc[parse_month("2024-06")]
    # Total 100,000 + 50,000 + 11 × 10,000 = 260,000; A holds 100,000: 38.4615…%.
    assert june["closing"] == 260_000
    assert june["customers"] == 13
    assert june["largest_customer_id"] == "A"
    assert june["largest_customer_share_pct"] == D("38.46")
    # Top 10: A + B + 8 × 10,000 = 230,000 / 260,000 = 88.4615…%.
    assert june["top_10_share_pct"] == D("88.46")
    may = result.loc[parse_month("2024-05")]
    assert may["largest_customer_share_pct"] is None
    assert may["concentration_reason"] == "no closing backlog"


def test_aging_by_signing_year_calendar_and_fiscal():
    contracts = contracts_of(
        ("MAR23", "2023-03-10", "2026-12-31"),
        ("AUG23", "2023-08-01", "2026-12-31"),
        ("FEB24", "2024-02-01", "2026-12-31"),
    )
    rows = rows_of(
        ("2024-06", "MAR23", 1_000), ("2024-06", "AUG23", 20_000), ("2024-06", "FEB24", 300_000)
    )
    calendar = aging(rows, contracts)
    assert list(zip(calendar["label"], calendar["closing"], strict=True)) == [
        ("2023", 21_000),
        ("2024", 300_000),
    ]
    # Fiscal years from July, named by the year they end in: March 2023 is in FY2023
    # (July 2022 – June 2023); August 2023 and February 2024 are in FY2024.
    fiscal = aging(rows, contracts, fiscal_year_start_month=7)
    assert list(zip(fiscal["label"], fiscal["closing"], strict=True)) == [
        ("FY2023", 1_000),
        ("FY2024", 320_000),
    ]
    with pytest.raises(ValueError, match="1–12"):
        aging(rows, contracts, fiscal_year_start_month=13)


def test_concentration_ties_go_to_the_lower_customer_id_and_negatives_are_null():
    contracts = contracts_of(
        ("X", "2024-01-01", "2025-12-31", {"customer_id": "ZED"}),
        ("Y", "2024-01-01", "2025-12-31", {"customer_id": "ABE"}),
    )
    rows = rows_of(
        ("2024-06", "X", 5_000),
        ("2024-06", "Y", 5_000),
        ("2024-07", "X", -10),
    )
    result = concentration(rows, contracts).set_index("period")
    june = result.loc[parse_month("2024-06")]
    # 5,000 each of 10,000: 50.00% for the largest, ABE before ZED; the top 10 hold 100%.
    assert (june["largest_customer_id"], june["largest_customer_share_pct"]) == ("ABE", D("50.00"))
    assert june["top_10_share_pct"] == D("100.00")
    july = result.loc[parse_month("2024-07")]
    assert july["concentration_reason"] == "the closing backlog is negative"
