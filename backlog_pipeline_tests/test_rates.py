"""The rates source: exact rates in, every bad row named, nothing rounded or guessed."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from backlog_pipeline.accounting.fx_rates import rate_decimal, rates_for_publication
from backlog_pipeline.periods import parse_month
from backlog_pipeline.sources.rates import RatesError, parse_rates, read_rates_csv

HEADER = "currency,month,average_rate,closing_rate\n"


def write(tmp_path, body: str):
    path = tmp_path / "rates.csv"
    path.write_text(HEADER + body)
    return path


def test_rates_are_held_exactly_to_ten_decimals(tmp_path):
    path = write(
        tmp_path,
        "EUR,2024-01,1.0825,1.1234567891\n"
        "gbp,2024-01,1.27,1.2700000000000\n"  # lower case; zeros past ten decimals are exact
        "JPY,2024-01,0.0000000001,0.0067\n",
    )
    rates = read_rates_csv(path, "USD")
    assert rates.columns.tolist() == ["currency", "month", "average_rate", "closing_rate"]
    assert rates["currency"].tolist() == ["EUR", "GBP", "JPY"]
    assert rates["month"].tolist() == [parse_month("2024-01")] * 3
    # Units of 10^-10: 1.0825 → 10,825,000,000; 1.1234567891 → 11,234,567,891.
    assert rates["average_rate"].tolist() == [10_825_000_000, 12_700_000_000, 1]
    assert rates["closing_rate"].tolist() == [11_234_567_891, 12_700_000_000, 67_000_000]
    published = rates_for_publication(rates)
    assert published.iloc[0].tolist() == [
        "EUR", "2024-01", Decimal("1.0825000000"), Decimal("1.1234567891"),
    ]  # fmt: skip
    assert rate_decimal(1) == Decimal("1E-10")


def test_a_rate_with_eleven_decimals_is_refused_naming_the_row(tmp_path):
    path = write(tmp_path, "EUR,2024-01,1.0825,1.08\nEUR,2024-02,1.08251234567,1.09\n")
    with pytest.raises(RatesError) as raised:
        read_rates_csv(path, "USD")
    # Line 3 of the file (the header is line 1).
    assert "row 3 (EUR 2024-02): average_rate: rate '1.08251234567' has more than 10 decimals" in (
        str(raised.value)
    )
    (problem,) = raised.value.problems
    assert (problem["row_number"], problem["field"], problem["value"]) == (
        3, "average_rate", "1.08251234567",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("average", "reason"),
    [
        ("0", "is not positive"),
        ("-1.1", "is not positive"),
        ("abc", "is not a number"),
        ("1e-3", "is not a plain decimal number"),
        ("", "is missing"),
        ("100000000", "is not below 100000000"),
    ],
)
def test_a_rate_that_is_not_a_positive_number_is_refused(tmp_path, average, reason):
    path = write(tmp_path, f"EUR,2024-01,{average},1.08\n")
    with pytest.raises(RatesError, match=f"row 2 .*average_rate: .*{reason}"):
        read_rates_csv(path, "USD")


def test_duplicates_unknown_currencies_and_bad_months_are_all_named(tmp_path):
    path = write(
        tmp_path,
        "EUR,2024-01,1.08,1.09\n"  # line 2
        "EUX,2024-01,1.08,1.09\n"  # line 3: not ISO 4217
        "EUR,2024-01,1.07,1.09\n"  # line 4: EUR 2024-01 again
        "GBP,March,1.27,1.28\n",  # line 5
    )
    with pytest.raises(RatesError) as raised:
        read_rates_csv(path, "USD")
    assert [(p["row_number"], p["field"]) for p in raised.value.problems] == [
        (3, "currency"), (4, "month"), (5, "month"),
    ]  # fmt: skip
    message = str(raised.value)
    assert "'EUX' is not an ISO 4217 currency code" in message
    assert "EUR 2024-01 is also on row 2" in message
    assert "'March' is not a month in YYYY-MM form" in message


def test_the_reporting_currency_needs_no_rows_and_any_it_has_are_one(tmp_path):
    rates = read_rates_csv(write(tmp_path, "USD,2024-01,1,1.0\nEUR,2024-01,1.1,1.1\n"), "USD")
    assert rates["currency"].tolist() == ["EUR"]
    with pytest.raises(RatesError, match=r"reporting currency USD has rate 1, not 0\.99"):
        read_rates_csv(write(tmp_path, "USD,2024-01,0.99,1\n"), "USD")


def test_values_as_sql_gives_them():
    raw = pd.DataFrame(
        {
            "currency": ["EUR", "GBP", "CHF"],
            "month": [dt.date(2024, 1, 31), "2024-01", pd.Timestamp("2024-02-01")],
            "average_rate": [Decimal("1.082500000000"), 1.27, 1],
            "closing_rate": [Decimal("1.09"), Decimal("1.2800000000"), Decimal("1.0000000001")],
        }
    )
    rates = parse_rates(raw, "erp fx_rates", "USD")
    by_currency = rates.set_index("currency")
    assert by_currency.loc["EUR", "average_rate"] == 10_825_000_000
    assert by_currency.loc["EUR", "month"] == parse_month("2024-01")
    assert by_currency.loc["GBP", "average_rate"] == 12_700_000_000  # the float 1.27
    assert by_currency.loc["CHF", "closing_rate"] == 10_000_000_001
    assert by_currency.loc["CHF", "month"] == parse_month("2024-02")
    with pytest.raises(RatesError, match="more than 10 decimals"):
        parse_rates(raw.assign(closing_rate=Decimal("1.00000000001")), "erp", "USD")


def test_a_missing_column_refuses_the_table():
    raw = pd.DataFrame({"currency": ["EUR"], "month": ["2024-01"], "average_rate": ["1.1"]})
    with pytest.raises(RatesError, match="closing_rate: column is missing"):
        parse_rates(raw, "erp fx_rates", "USD")
