"""Reading source rows: exact money, strict dates, and bad rows set aside with a reason."""

from decimal import Decimal

import pandas as pd
import pytest

from backlog_pipeline.money import AmountError, parse_cents, percent_change
from backlog_pipeline.sources.canonical import (
    SourceError,
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)
from backlog_pipeline.sources.parsing import parse_amounts, parse_months


@pytest.mark.parametrize(
    ("value", "cents"),
    [("12218.75", 1221875), ("0.1", 10), ("-5", -500), (" 7.00 ", 700), (12.3, 1230),
     (Decimal("1E+3"), 100000), (Decimal("99.90"), 9990), (42, 4200), ("+3.5", 350)],
)  # fmt: skip
def test_amounts_parse_to_exact_cents(value, cents):
    assert parse_cents(value) == cents


@pytest.mark.parametrize(
    ("value", "reason"),
    [("12.345", "more than two decimals"), ("abc", "not a decimal number"), ("", "missing"),
     (None, "missing"), ("1e3", "plain decimal notation"), (0.125, "more than two decimals"),
     ("NaN", "not a finite number"), ("1" * 17, "does not fit")],
)  # fmt: skip
def test_amounts_that_would_need_rounding_or_guessing_are_refused(value, reason):
    with pytest.raises(AmountError, match=reason):
        parse_cents(value)


def test_vectorised_amounts_agree_with_the_one_by_one_parser():
    values = ["1.5", "-0.05", "10", "3.999", "x", "", "123456789012.34", Decimal("2.5"), 7.25]
    cents, reasons = parse_amounts(pd.Series(values, dtype=object))
    for value, got, reason in zip(values, cents, reasons, strict=True):
        try:
            assert got == parse_cents(value) and pd.isna(reason)
        except AmountError as error:
            assert pd.isna(got) and reason == str(error)
    floats, float_reasons = parse_amounts(pd.Series([0.1, 1234.56, 0.001]))
    assert floats.tolist()[:2] == [10, 123456] and pd.isna(floats.iloc[2])
    assert "more than two decimals" in float_reasons.iloc[2]


def test_months_accept_yyyy_mm_and_dates_and_refuse_the_rest():
    index, reasons = parse_months(pd.Series(["2024-02", "2024-02-29", "2024-13", "2023-02-29", ""]))
    assert index.tolist()[:2] == [2024 * 12 + 1, 2024 * 12 + 1]
    assert reasons.iloc[:2].isna().all()
    assert "not a month" in reasons.iloc[2] and "not a month" in reasons.iloc[3]
    assert reasons.iloc[4] == "period is missing"


def test_percent_change():
    assert percent_change(1, 3) == Decimal("33.33")
    assert percent_change(2, 3) == Decimal("66.67")
    assert percent_change(0, -5) == Decimal("0.00")
    assert percent_change(5, 0) is None


def test_bad_contract_rows_are_quarantined_with_source_record_field_and_reason():
    raw = pd.DataFrame(
        {
            "contract_id": ["C1", "", "C3", "C4", "C5"],
            "customer_id": ["A", "B", "C", "D", "E"],
            "signed_date": ["2024-01-05", "2024-01-05", "2024-31-01", "2024-02-01", "2024-02-01"],
            "tcv": ["100.00", "5", "10", "12.345", "7"],
            "currency": ["usd", "", "USD", "USD", "US"],
        }
    )
    parsed = parse_contracts(raw, "CRM export /x", "USD")
    assert parsed.rows["contract_id"].tolist() == ["C1"]
    assert parsed.rows["currency"].tolist() == ["USD"]
    assert parsed.rows["tcv"].tolist() == [10000]
    quarantine = parsed.quarantine.set_index("row_number")
    assert quarantine["source"].unique().tolist() == ["CRM export /x"]
    assert quarantine.loc[3, "field"] == "contract_id" and quarantine.loc[3, "record_id"] is None
    assert quarantine.loc[4, ["record_id", "field", "value"]].tolist() == [
        "C3",
        "signed_date",
        "2024-31-01",
    ]
    assert "not an ISO date" in quarantine.loc[4, "reason"]
    assert quarantine.loc[5, ["record_id", "field"]].tolist() == ["C4", "tcv"]
    assert "more than two decimals" in quarantine.loc[5, "reason"]
    assert quarantine.loc[6, ["record_id", "field"]].tolist() == ["C5", "currency"]


def test_change_amount_is_optional_only_on_a_cancellation():
    raw = pd.DataFrame(
        {
            "change_id": ["X1", "X2", "X3", "X4", "X5"],
            "contract_id": ["C1"] * 5,
            "effective_date": ["2024-03-01"] * 5,
            "kind": ["Cancellation", "increase", "decrease", "upsell", "increase"],
            "amount": ["", "", "-5", "10", "10"],
        }
    )
    parsed = parse_contract_changes(raw, "CRM export /x")
    assert parsed.rows["change_id"].tolist() == ["X1", "X5"]
    assert pd.isna(parsed.rows["amount"].iloc[0])
    reasons = parsed.quarantine.set_index("record_id")["reason"].to_dict()
    assert reasons["X2"] == "amount is missing"
    assert "negative" in reasons["X3"]
    assert "not one of increase, decrease, cancellation" in reasons["X4"]


def test_recognition_keeps_reversals_and_quarantines_unreadable_lines():
    raw = pd.DataFrame(
        {
            "line_id": ["L1", "L2", "L3"],
            "contract_id": ["C1", "C1", None],
            "period": ["2024-01", "2024-02", "2024-03"],
            "amount": ["100.00", "-20.00", "5"],
        }
    )
    parsed = parse_recognition(raw, "ERP db")
    assert parsed.rows["amount"].tolist() == [10000, -2000]
    assert parsed.quarantine[["record_id", "field", "reason"]].values.tolist() == [
        ["L3", "contract_id", "contract_id is missing"]
    ]


def test_a_missing_column_names_the_source_and_the_column():
    with pytest.raises(SourceError, match=r"ERP db: table 'recognition' has no column\(s\) amount"):
        parse_recognition(pd.DataFrame({"line_id": [], "contract_id": [], "period": []}), "ERP db")


def test_erp_numeric_with_four_decimals_is_exact_when_the_extra_digits_are_zero():
    cents, reasons = parse_amounts(pd.Series([Decimal("12.5000"), Decimal("0.1250")], dtype=object))
    assert cents.iloc[0] == 1250 and pd.isna(reasons.iloc[0])
    assert pd.isna(cents.iloc[1]) and "more than two decimals" in reasons.iloc[1]


def test_a_float_that_is_not_a_whole_number_of_cents_is_refused():
    cents, reasons = parse_amounts(pd.Series([0.12999999, 0.13]))
    assert pd.isna(cents.iloc[0]) and "more than two decimals" in reasons.iloc[0]
    assert cents.iloc[1] == 13


def test_dates_keep_the_written_day_and_refuse_partial_dates():
    from backlog_pipeline.sources.parsing import parse_dates

    values = ["2024-01-31T23:30:00+05:00", "2024-02-01", "2024-03", "2024", "2024-02-30"]
    parsed, reasons = parse_dates(pd.Series(values))
    assert [d.strftime("%Y-%m-%d") for d in parsed.iloc[:2]] == ["2024-01-31", "2024-02-01"]
    assert reasons.iloc[:2].isna().all() and reasons.iloc[2:].notna().all()


def test_csv_row_numbers_are_file_lines_even_after_blank_lines(tmp_path):
    from backlog_pipeline.defs.resources import CrmExport

    (tmp_path / "contracts.csv").write_text(
        "contract_id,customer_id,signed_date,tcv\nC1,A,2024-01-01,10\n\nC2,B,2024-13-01,10\n"
    )
    raw = CrmExport(directory=str(tmp_path)).read_table("contracts")
    parsed = parse_contracts(raw, "crm", "USD")
    assert parsed.rows["contract_id"].tolist() == ["C1"]
    assert parsed.quarantine[["record_id", "row_number"]].values.tolist() == [["C2", 4]]


def test_a_ragged_csv_line_is_quarantined_with_its_line_and_the_rest_is_read(tmp_path):
    from backlog_pipeline.defs.resources import CrmExport

    (tmp_path / "contracts.csv").write_text(
        "contract_id,customer_id,signed_date,tcv\nC1,A,2024-01-01,1\nC2,B,extra,more,2,x\n"
    )
    parsed = parse_contracts(CrmExport(directory=str(tmp_path)).read_table("contracts"), "c", "USD")
    assert parsed.rows["contract_id"].tolist() == ["C1"]
    assert parsed.quarantine[["row_number", "reason"]].values.tolist() == [
        [3, "6 field(s) where the header has 4"]
    ]


TRICKY_AMOUNTS = [
    "0", "-0", "-0.00", "0.5", "12.", ".5", "+1.00", " 1.00", "1.00 ", "1.005", "1e3", "12.3.4",
    "1234567890123456", "1234567890123456.99", "-1234567890123456.99", "12345678901234567",
    "00012.30", "١٢.٥٠", "1\x00", "1\x002", "", "   ", "--1", "1-", "-", ".", "NaN", "inf",
    "9" * 25, "12,50", "7.25\n", "-99.9", None, 3, 2.5, Decimal("7.10"), True,
]  # fmt: skip


def expected_amount(value):
    try:
        return parse_cents(value), None
    except AmountError as error:
        return None, str(error)


def test_the_fast_amount_path_agrees_with_the_one_by_one_parser():
    # Many rows of each, shuffled, so every batch and path of the vectorised parser is used.
    values = pd.Series(TRICKY_AMOUNTS * 40, dtype=object).sample(frac=1, random_state=1)
    cents, reasons = parse_amounts(values)
    for label, value in values.items():
        want_cents, want_reason = expected_amount(value)
        got = None if pd.isna(cents[label]) else int(cents[label])
        reason = None if pd.isna(reasons[label]) else reasons[label]
        assert (got, reason) == (want_cents, want_reason), repr(value)


def test_months_and_dates_parsed_once_per_distinct_text_as_they_are_one_by_one():
    from backlog_pipeline.sources.parsing import parse_dates

    months = ["2024-01", "2024-13", "2024-02-30", "2024-02-29", " 2024-03 ", "", None, "x"]
    dates = ["2024-01-31", "2024-02-30", "2024-03-01T10:00:00Z", "31/01/2024", None, "", " x "]
    for parse, texts in ((parse_months, months), (parse_dates, dates)):
        many = pd.Series(texts * 300, dtype=object)
        parsed, reasons = parse(many)
        for text in texts:
            one_parsed, one_reason = parse(pd.Series([text], dtype=object))
            rows = many.index[many.map(lambda v, t=text: v is t)]
            assert set(reasons[rows].map(repr)) == {repr(one_reason.iloc[0])}, text
            values = {str(value) for value in parsed[rows].astype(object)}
            assert values == {str(one_parsed.astype(object).iloc[0])}, text
        assert parsed.dtype == one_parsed.dtype


def test_an_amount_far_beyond_numeric_18_2_is_refused_not_a_crash():
    # Decimal.quantize raised InvalidOperation past 28 digits: the whole source failed.
    values = pd.Series(["1e30", Decimal("1E+30"), 1e30, Decimal("-1E+16")], dtype=object)
    cents, reasons = parse_amounts(values)
    assert cents.isna().all()
    assert reasons.tolist() == [
        "amount '1e30' is not in plain decimal notation",
        "amount Decimal('1E+30') does not fit NUMERIC(18,2)",
        "amount '1e+30' is not in plain decimal notation",
        "amount Decimal('-1E+16') does not fit NUMERIC(18,2)",
    ]


def test_date_times_with_an_offset_fall_on_their_day_in_the_close_time_zone():
    from backlog_pipeline.sources.parsing import parse_dates

    values = [
        "2024-01-31T23:30:00-05:00",  # 23:30 in New York on 31 January
        "2024-02-01T04:30:00Z",  # the same instant, written in UTC
        "2024-02-01T04:30:00.000+0000",  # again, as Salesforce writes date-times
        "2024-02-01",  # a plain date stays that date, whatever the zone
        "2024-02-01T01:00:00",  # no offset: the day as written
        "2024-02-01T25:00:00Z",  # not a time
    ]
    new_york, reasons = parse_dates(pd.Series(values), "America/New_York")
    days = [None if pd.isna(d) else d.strftime("%Y-%m-%d") for d in new_york]
    assert days == ["2024-01-31", "2024-01-31", "2024-01-31", "2024-02-01", "2024-02-01", None]
    assert reasons.iloc[:5].isna().all() and "not an ISO date" in reasons.iloc[5]
    utc, _ = parse_dates(pd.Series(values[:2]), "UTC")
    assert [d.strftime("%Y-%m-%d") for d in utc] == ["2024-02-01", "2024-02-01"]
    tokyo, _ = parse_dates(pd.Series(["2024-01-31T20:00:00Z"]), "Asia/Tokyo")  # 05:00 on 1 Feb
    assert tokyo.iloc[0] == pd.Timestamp("2024-02-01")


def test_contract_and_change_dates_are_placed_in_the_close_time_zone():
    contracts = pd.DataFrame(
        {"contract_id": ["C1"], "customer_id": ["A"], "signed_date": ["2024-02-01T04:30:00Z"],
         "end_date": ["2025-01-01T03:00:00Z"], "tcv": ["10"]}
    )  # fmt: skip
    parsed = parse_contracts(contracts, "crm", "USD", timezone="America/New_York")
    assert parsed.rows["signed_month"].tolist() == [2024 * 12 + 0]  # January 2024
    assert parsed.rows["end_date"].tolist() == [pd.Timestamp("2024-12-31")]
    changes = pd.DataFrame(
        {"change_id": ["X1"], "contract_id": ["C1"], "effective_date": ["2024-03-01T02:00:00Z"],
         "kind": ["increase"], "amount": ["5"]}
    )  # fmt: skip
    parsed = parse_contract_changes(changes, "crm", timezone="America/New_York")
    assert parsed.rows["effective_month"].tolist() == [2024 * 12 + 1]  # February 2024
