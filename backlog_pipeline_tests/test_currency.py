"""Contracts in other currencies, against figures worked out by hand (SPEC "Currencies").

Rates are USD for one unit of the currency; the reporting currency is USD.
"""

from decimal import Decimal

import numpy as np
import pytest

from backlog_pipeline.accounting import data_errors
from backlog_pipeline.accounting.currency import (
    MissingRatesError,
    convert_contract_rows,
    ledger_amounts,
)
from backlog_pipeline.accounting.currency_flows import (
    CHANGES_KEYS,
    constant_currency_flow,
    converted_flow_by_currency,
    flow_by_currency,
    reporting_flow,
)
from backlog_pipeline.accounting.fx_checks import (
    currency_sum_discrepancies,
    local_flow_discrepancies,
    reporting_identity_discrepancies,
    revaluation_discrepancies,
    revaluation_second_route,
)
from backlog_pipeline.accounting.fx_rates import empty_rates
from backlog_pipeline.accounting.fx_rates_needed import blocked_periods, missing_rates, rates_used
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.periods import parse_month
from backlog_pipeline_tests.fx_frames import (
    amounts,
    decimals,
    local_rows,
    months,
    row_of,
    typed_changes,
    typed_contracts,
    typed_rates,
    typed_recognition,
)

FIGURES = ("opening", "new_bookings", "converted", "increases", "fx_revaluation", "closing")
# EUR: rising in January (closing above average), falling in February, rising in March.
EUR_RATES = typed_rates(
    ("EUR", "2024-01", "1.10", "1.12"),
    ("EUR", "2024-02", "1.13", "1.09"),
    ("EUR", "2024-03", "1.08", "1.105"),
)


def eur_company():
    """12,000.00 EUR signed in January, 1,000.00 recognized a month, +333.33 in February."""
    contracts = typed_contracts(("E1", "2024-01", "12000.00", "EUR"))
    changes = typed_changes(("E1", "2024-02", "increase", "333.33"))
    recognition = typed_recognition(
        ("E1", "2024-01", "1000.00"), ("E1", "2024-02", "1000.00"), ("E1", "2024-03", "1000.00")
    )
    return contracts, changes, recognition


def test_eur_contract_over_three_months_revaluation_by_hand_both_routes():
    contracts, changes, recognition = eur_company()
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    rows = convert_contract_rows(local, EUR_RATES, "USD")
    # January. new 12,000 × 1.10 = 13,200.00; converted 1,000 × 1.10 = 1,100.00;
    # closing 11,000 × 1.12 = 12,320.00; revaluation 12,320 − (13,200 − 1,100) = 220.00.
    # Second route: 12,000 × (1.12 − 1.10) − 1,000 × (1.12 − 1.10) = 240 − 20 = 220.00.
    assert amounts(row_of(rows, "2024-01"), *FIGURES) == decimals(
        opening="0", new_bookings="13200", converted="1100", increases="0",
        fx_revaluation="220", closing="12320",
    )  # fmt: skip
    # February. opening = January's closing 12,320.00 (11,000 × 1.12);
    # increases 333.33 × 1.13 = 376.6629 → 376.66; converted 1,000 × 1.13 = 1,130.00;
    # closing 10,333.33 × 1.09 = 11,263.3297 → 11,263.33;
    # revaluation 11,263.33 − (12,320.00 + 376.66 − 1,130.00) = 11,263.33 − 11,566.66 = −303.33.
    # Second route: 11,000 × (1.09 − 1.12) = −330; 333.33 × (1.09 − 1.13) = −13.3332;
    # −1,000 × (1.09 − 1.13) = +40: rate effect −303.3332. Rounding: closing rounded up
    # by 0.0003, increases rounded down by 0.0029 (a movement's residual counts against):
    # +0.0003 + 0.0029 = +0.0032. Total −303.3332 + 0.0032 = −303.3300.
    assert amounts(row_of(rows, "2024-02"), *FIGURES) == decimals(
        opening="12320", new_bookings="0", converted="1130", increases="376.66",
        fx_revaluation="-303.33", closing="11263.33",
    )  # fmt: skip
    # March. opening 11,263.33; converted 1,000 × 1.08 = 1,080.00;
    # closing 9,333.33 × 1.105 = 10,313.32965 → 10,313.33;
    # revaluation 10,313.33 − (11,263.33 − 1,080.00) = 130.00.
    # Second route: 10,333.33 × (1.105 − 1.09) = 154.99995; −1,000 × (1.105 − 1.08) = −25:
    # 129.99995. Rounding: closing +0.00035; opening (10,333.33 × 1.09 = 11,263.3297, up
    # by 0.0003) counts against: −0.0003. Total 129.99995 + 0.00035 − 0.0003 = 130.00000.
    assert amounts(row_of(rows, "2024-03"), *FIGURES) == decimals(
        opening="11263.33", new_bookings="0", converted="1080", increases="0",
        fx_revaluation="130", closing="10313.33",
    )  # fmt: skip
    second, whole = revaluation_second_route(rows, EUR_RATES, "USD")
    assert whole.all()
    assert second.tolist() == [22000, -30333, 13000]
    # The local figures are untouched: February closes at 10,333.33 EUR.
    assert int(row_of(rows, "2024-02")["closing_local"]) == 1033333
    flow = reporting_flow(rows, months("2024-01", "2024-03"))
    assert revaluation_discrepancies(rows, EUR_RATES, "USD", flow=flow) == []
    assert reporting_identity_discrepancies(flow) == []


def test_cancellation_in_a_foreign_currency():
    # 6,000.00 GBP, 500.00 recognized in January and February, terminated in February.
    contracts = typed_contracts(("G1", "2024-01", "6000.00", "GBP"))
    changes = typed_changes(("G1", "2024-02", "cancellation", None))
    recognition = typed_recognition(("G1", "2024-01", "500.00"), ("G1", "2024-02", "500.00"))
    rates = typed_rates(("GBP", "2024-01", "1.25", "1.27"), ("GBP", "2024-02", "1.26", "1.24"))
    # No March rates: the contract closed February at 0, so March needs none.
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    assert missing_rates(local, rates, "USD") == []
    rows = convert_contract_rows(local, rates, "USD")
    columns = ("opening", "new_bookings", "converted", "lost", "fx_revaluation", "closing")
    # January: new 6,000 × 1.25 = 7,500; converted 500 × 1.25 = 625; closing 5,500 × 1.27
    # = 6,985; revaluation 6,985 − (7,500 − 625) = 110.00 (= 5,500 × (1.27 − 1.25)).
    assert amounts(row_of(rows, "2024-01"), *columns) == decimals(
        opening="0", new_bookings="7500", converted="625", lost="0", fx_revaluation="110",
        closing="6985",
    )  # fmt: skip
    # February: opening 6,985; converted 500 × 1.26 = 630; the termination loses the
    # remaining 5,000 GBP × 1.26 = 6,300; closing 0. Revaluation 0 − (6,985 − 630 − 6,300)
    # = −55.00. Second route: 5,500 × (1.24 − 1.27) = −165; (−500 − 5,000) × (1.24 − 1.26)
    # = +110: −55.00. The loss is at the month's average rate, like every movement.
    assert amounts(row_of(rows, "2024-02"), *columns) == decimals(
        opening="6985", new_bookings="0", converted="630", lost="6300",
        fx_revaluation="-55", closing="0",
    )  # fmt: skip
    assert rows["period"].max() == parse_month("2024-02")
    assert revaluation_discrepancies(rows, rates, "USD") == []


def test_a_missing_rate_names_currency_and_month_and_blocks_the_months_that_need_it():
    contracts, changes, recognition = eur_company()
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    without_february_closing = EUR_RATES[EUR_RATES["month"] != parse_month("2024-02")].copy()
    without_february_closing.loc[9] = ["EUR", parse_month("2024-02"), 11_300_000_000, 0]
    problems = missing_rates(local, without_february_closing, "USD")
    # February's closing rate converts February's closing and March's opening.
    assert [(p["currency"], p["month"], p["rate"], p["periods"]) for p in problems] == [
        ("EUR", "2024-02", "closing_rate", ["2024-02", "2024-03"])
    ]
    assert blocked_periods(problems) == ["2024-02", "2024-03"]
    with pytest.raises(MissingRatesError, match="no EUR closing rate for 2024-02"):
        convert_contract_rows(local, without_february_closing, "USD")
    # January alone converts: it needs none of February's rates.
    january = local[local["period"] == parse_month("2024-01")]
    assert missing_rates(january, without_february_closing, "USD") == []


def test_the_first_months_opening_needs_the_previous_months_closing_rate():
    contracts, changes, recognition = eur_company()
    local, _ = local_rows(contracts, changes, recognition, "2024-02", "2024-03")
    february_on = EUR_RATES[EUR_RATES["month"] >= parse_month("2024-02")]
    problems = missing_rates(local, february_on, "USD")
    # February opens with 11,000 EUR of January's backlog, converted at January's closing.
    assert [(p["currency"], p["month"], p["rate"], p["periods"]) for p in problems] == [
        ("EUR", "2024-01", "closing_rate", ["2024-02"])
    ]
    rows = convert_contract_rows(local, EUR_RATES, "USD")
    assert amounts(row_of(rows, "2024-02"), "opening") == decimals(opening="12320")


def test_the_rates_each_month_reads_are_listed_to_store_with_the_version():
    contracts, changes, recognition = eur_company()
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    used = rates_used(local, EUR_RATES, "USD")
    # January reads January's rates; February its own and January's closing (its
    # opening); March its own and February's closing.
    assert [(p, m) for p, m in zip(used["period"], used["month"], strict=True)] == [
        (parse_month(period), parse_month(month))
        for period, month in (
            ("2024-01", "2024-01"), ("2024-02", "2024-01"), ("2024-02", "2024-02"),
            ("2024-03", "2024-02"), ("2024-03", "2024-03"),
        )
    ]  # fmt: skip
    assert used.columns.tolist() == [
        "period", "currency", "month", "average_rate", "closing_rate",
    ]  # fmt: skip


def test_a_ledger_amount_in_the_reporting_currency_is_what_converted_ties_to():
    contracts = typed_contracts(("E1", "2024-01", "12000.00", "EUR"))
    # January: one line, booked by the ERP at 1,105.00 USD (its own daily rate).
    # February: 600.00 EUR booked at 680.00 USD, and 400.00 EUR without a ledger amount.
    recognition = typed_recognition(
        ("E1", "2024-01", "1000.00", "1105.00"),
        ("E1", "2024-02", "600.00", "680.00"),
        ("E1", "2024-02", "400.00", None),
    )
    changes = typed_changes()
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-02")
    ledger = ledger_amounts(local, contracts, recognition, "USD")
    rows = convert_contract_rows(local, EUR_RATES, "USD", ledger)
    # January: converted 1,105.00 (not 1,000 × 1.10 = 1,100.00); closing 11,000 × 1.12 =
    # 12,320.00 as without the ledger; revaluation 12,320 − (13,200 − 1,105) = 225.00.
    # Second route: rate effect 220.00 + ledger difference 1,105 − 1,000 × 1.10 = 5.00.
    assert amounts(row_of(rows, "2024-01"), "converted", "fx_revaluation", "closing") == (
        decimals(converted="1105", fx_revaluation="225", closing="12320")
    )
    # February: converted 680.00 + 400 × 1.13 = 680.00 + 452.00 = 1,132.00; closing
    # 10,000 × 1.09 = 10,900.00; revaluation 10,900 − (12,320 − 1,132) = −288.00.
    # Second route: 11,000 × (1.09 − 1.12) − 1,000 × (1.09 − 1.13) = −290.00, plus the
    # ledger difference 680.00 − 600 × 1.13 = 680.00 − 678.00 = 2.00: −288.00.
    assert amounts(row_of(rows, "2024-02"), "converted", "fx_revaluation", "closing") == (
        decimals(converted="1132", fx_revaluation="-288", closing="10900")
    )
    assert revaluation_discrepancies(rows, EUR_RATES, "USD", ledger) == []
    # Without telling the second route about the ledger, it differs by exactly the
    # ledger differences, and names the months.
    found = revaluation_discrepancies(rows, EUR_RATES, "USD")
    assert [problem["period"] for problem in found] == ["2024-01", "2024-02"]
    assert found[0]["examples"][0]["second_route"] == "220.00"


def test_a_reporting_currency_line_whose_ledger_amount_differs_is_listed():
    contracts = typed_contracts(
        ("U1", "2024-01", "100.00", "USD"), ("E1", "2024-01", "1.00", "EUR")
    )
    recognition = typed_recognition(
        ("U1", "2024-01", "10.00", "10.00"),
        ("U1", "2024-01", "20.00", "20.01"),
        ("E1", "2024-01", "1.00", "1.10"),
    )
    problems = data_errors.ledger_amount_mismatches(recognition, contracts, "USD", "erp")
    # The ledger's 20.01 against the line's 20.00: 0.01 more.
    assert list(zip(problems["record_id"], problems["amount"], strict=True)) == [("L1", 1)]
    assert "amount_reporting 20.01 but amount 20.00" in problems["reason"].iloc[0]


def test_one_currency_only_revaluation_is_zero_and_every_figure_is_as_today():
    contracts = typed_contracts(
        ("U1", "2024-01", "12000.00", "USD"), ("U2", "2024-02", "5000.00", "USD")
    )
    changes = typed_changes(
        ("U1", "2024-03", "cancellation", None),
        ("U2", "2024-03", "decrease", "800.00"),
        ("U2", "2024-04", "cancellation", "1200.00"),
    )
    recognition = typed_recognition(
        ("U1", "2024-01", "1000.00"), ("U1", "2024-02", "1000.00"), ("U1", "2024-03", "1000.00")
    )
    local, flow_today = local_rows(contracts, changes, recognition, "2024-01", "2024-05")
    rows = convert_contract_rows(local, empty_rates(), "USD")
    assert (rows["fx_revaluation"] == 0).all()
    for column in FLOW_COLUMNS:
        assert rows[column].tolist() == local[column].tolist()
        assert rows[f"{column}_local"].tolist() == local[column].tolist()
    flow = reporting_flow(rows, months("2024-01", "2024-05"))
    assert flow["fx_revaluation"].tolist() == [0, 0, 0, 0, 0]
    for column in (*FLOW_COLUMNS, "net_change", "net_change_pct"):
        assert flow[column].tolist() == flow_today[column].tolist()
    # The one currency's own flow is the flow.
    by_currency = flow_by_currency(local, months("2024-01", "2024-05"), "USD")
    assert by_currency["currency"].tolist() == ["USD"] * 5
    for column in FLOW_COLUMNS:
        assert by_currency[column].tolist() == flow_today[column].tolist()
    # March (hand): U1 opens 10,000, recognizes 1,000, loses 9,000; U2 opens 5,000, −800.
    assert amounts(row_of(flow, "2024-03"), "opening", "lost", "decreases", "closing") == (
        decimals(opening="15000", lost="9000", decreases="800", closing="4200")
    )


def test_a_foreign_currency_at_rate_one_gives_the_local_figures():
    contracts, changes, recognition = eur_company()
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    one = typed_rates(
        *((("EUR", m, "1", "1.0000000000")) for m in ("2024-01", "2024-02", "2024-03"))
    )
    rows = convert_contract_rows(local, one, "USD")
    for column in FLOW_COLUMNS:
        assert rows[column].tolist() == local[column].tolist()
    assert (rows["fx_revaluation"] == 0).all()


def test_rounding_is_half_up_at_half_a_cent_once_per_contract_and_figure():
    # 0.05 EUR signed in January, 0.01 recognized; average 1.5, closing 1.3.
    contracts = typed_contracts(("R1", "2024-01", "0.05", "EUR"), ("R2", "2024-01", "0.05", "EUR"))
    recognition = typed_recognition(("R1", "2024-01", "0.01"), ("R2", "2024-01", "0.01"))
    rates = typed_rates(("EUR", "2024-01", "1.5", "1.3"))
    local, _ = local_rows(contracts, typed_changes(), recognition, "2024-01", "2024-01")
    rows = convert_contract_rows(local, rates, "USD")
    # Per contract: new 5 × 1.5 = 7.5 cents → 8 (half up); converted 1 × 1.5 = 1.5 → 2;
    # closing 4 × 1.3 = 5.2 → 5; revaluation 5 − (8 − 2) = −1 cent.
    # Second route: 5 × (1.3 − 1.5) − 1 × (1.3 − 1.5) = −1.0 + 0.2 = −0.8 cent; rounding
    # closing −0.2, new (+0.5, counts against) −0.5, converted (+0.5, subtracted twice) +0.5:
    # −0.2. Total −1.0 cent.
    for contract in ("R1", "R2"):
        row = row_of(rows, "2024-01", contract_id=contract)
        assert [int(row[c]) for c in ("new_bookings", "converted", "closing")] == [8, 2, 5]
        assert int(row["fx_revaluation"]) == -1
    # The flow is the sum of the rounded contract figures: new 16 cents, not round(10 × 1.5)
    # = 15; its revaluation is −2 cents, and equals the second route's sum.
    flow = reporting_flow(rows, months("2024-01", "2024-01"))
    assert flow[["new_bookings", "converted", "fx_revaluation", "closing"]].iloc[0].tolist() == [
        16, 4, -2, 10,
    ]  # fmt: skip
    assert revaluation_discrepancies(rows, rates, "USD", flow=flow) == []


def test_a_reversal_rounds_to_the_opposite_of_its_line():
    # In February, a net reversal of 0.01 EUR at 1.5: −1.5 cents → −2 (ties away from 0).
    contracts = typed_contracts(("R1", "2024-01", "1.00", "EUR"))
    recognition = typed_recognition(("R1", "2024-01", "0.01"), ("R1", "2024-02", "-0.01"))
    rates = typed_rates(("EUR", "2024-01", "1.5", "1.5"), ("EUR", "2024-02", "1.5", "1.5"))
    local, _ = local_rows(contracts, typed_changes(), recognition, "2024-01", "2024-02")
    rows = convert_contract_rows(local, rates, "USD")
    assert int(row_of(rows, "2024-01")["converted"]) == 2
    assert int(row_of(rows, "2024-02")["converted"]) == -2
    # February: opening 99 × 1.5 = 148.5 → 149; closing 100 × 1.5 = 150; revaluation
    # 150 − (149 − (−2)) = −1 cent; second route: rate effect 0, rounding: closing 0,
    # opening +0.5 against: −0.5, converted −0.5 (subtracted, counts for): −0.5. −1 cent.
    assert int(row_of(rows, "2024-02")["fx_revaluation"]) == -1
    assert revaluation_discrepancies(rows, rates, "USD") == []


def test_the_flow_per_currency_is_in_that_currency_and_reconciles_by_both_routes():
    contracts, changes, recognition = eur_company()
    contracts = typed_contracts(
        ("E1", "2024-01", "12000.00", "EUR"), ("U1", "2024-02", "700.00", "USD")
    )
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    by_currency = flow_by_currency(local, months("2024-01", "2024-03"), "USD")
    # EUR in February: 11,000 + 333.33 − 1,000 = 10,333.33 EUR, no rate anywhere.
    assert amounts(row_of(by_currency, "2024-02", currency="EUR"), "opening", "closing") == (
        decimals(opening="11000", closing="10333.33")
    )
    # USD in January: nothing yet, a row of zeros all the same.
    assert amounts(row_of(by_currency, "2024-01", currency="USD"), "closing") == decimals(
        closing="0"
    )
    assert local_flow_discrepancies(by_currency, contracts, changes, recognition) == []
    # A closing off by a cent is named with its currency, by both routes.
    broken = by_currency.copy()
    broken.loc[broken.index[(broken["currency"] == "EUR").to_numpy()][1], "closing"] += 1
    found = local_flow_discrepancies(broken, contracts, changes, recognition)
    assert {(p["currency"], p["period"]) for p in found} == {("EUR", "2024-02"), ("EUR", "2024-03")}
    assert any("Σ events" in p["problem"] for p in found)
    assert any("opening + new" in p["problem"] for p in found)


def test_the_reporting_flow_is_the_sum_of_the_converted_currency_flows():
    contracts, changes, recognition = eur_company()
    contracts = typed_contracts(
        ("E1", "2024-01", "12000.00", "EUR"), ("U1", "2024-02", "700.00", "USD")
    )
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    rows = convert_contract_rows(local, EUR_RATES, "USD")
    period = months("2024-01", "2024-03")
    flow = reporting_flow(rows, period)
    parts = converted_flow_by_currency(rows, period, "USD")
    assert currency_sum_discrepancies(flow, parts) == []
    # February: EUR closes 11,263.33 USD, the USD contract 700.00: 11,963.33.
    assert amounts(row_of(flow, "2024-02"), "closing", "fx_revaluation") == decimals(
        closing="11963.33", fx_revaluation="-303.33"
    )
    flow.loc[1, "new_bookings"] += 1
    assert [(p["period"], p["figure"]) for p in currency_sum_discrepancies(flow, parts)] == [
        ("2024-02", "new_bookings")
    ]
    assert [p["period"] for p in reporting_identity_discrepancies(flow)] == ["2024-02"]


def test_the_second_route_catches_a_wrong_revaluation_rate_or_local_figure():
    contracts, changes, recognition = eur_company()
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    rows = convert_contract_rows(local, EUR_RATES, "USD")
    off_by_a_cent = rows.copy()
    off_by_a_cent.loc[1, "fx_revaluation"] += 1
    (found,) = revaluation_discrepancies(off_by_a_cent, EUR_RATES, "USD")
    assert (found["period"], found["contracts"]) == ("2024-02", 1)
    assert found["examples"][0] == {
        "contract_id": "E1", "currency": "EUR", "fx_revaluation": "-303.32",
        "second_route": "-303.33",
    }  # fmt: skip
    # Rows converted at another February average rate (1.14) disagree with the rates.
    other = EUR_RATES.copy()
    other.loc[1, "average_rate"] = 11_400_000_000
    assert [p["period"] for p in revaluation_discrepancies(rows, other, "USD")] == ["2024-02"]
    # A local closing a cent off no longer follows from the movements.
    inconsistent = rows.copy()
    inconsistent.loc[2, "closing_local"] += 1
    (found,) = revaluation_discrepancies(inconsistent, EUR_RATES, "USD")
    assert found["period"] == "2024-03"


def test_constant_currency_flow_at_januarys_rates():
    contracts, changes, recognition = eur_company()
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    flow = constant_currency_flow(
        local, EUR_RATES, "USD", parse_month("2024-01"), months("2024-01", "2024-03")
    )
    assert set(flow["basis"]) == {"constant currency at 2024-01 rates (non-GAAP)"}
    # January's rates throughout: movements at 1.10, openings and closings at 1.12.
    # January: as reported (220.00). February: opening 11,000 × 1.12 = 12,320.00;
    # increases 333.33 × 1.10 = 366.663 → 366.66; converted 1,100.00; closing 10,333.33 ×
    # 1.12 = 11,573.3296 → 11,573.33; revaluation 11,573.33 − (12,320 + 366.66 − 1,100)
    # = −13.33: only (1.12 − 1.10) on the month's movements, 333.33 × 0.02 − 1,000 × 0.02
    # = −13.3334, and rounding. March: closing 9,333.33 × 1.12 = 10,453.3296 → 10,453.33;
    # revaluation 10,453.33 − (11,573.33 − 1,100) = −20.00.
    assert flow["fx_revaluation"].tolist() == [22000, -1333, -2000]
    assert flow["closing"].tolist() == [1232000, 1157333, 1045333]
    assert flow["opening"].tolist()[1:] == flow["closing"].tolist()[:-1]
    with pytest.raises(MissingRatesError, match="no EUR rates for 2023-12"):
        constant_currency_flow(
            local, EUR_RATES, "USD", parse_month("2023-12"), months("2024-01", "2024-03")
        )


def test_bookings_backlog_changes_keeps_its_nine_keys_with_the_revaluation_folded_in():
    from backlog_pipeline.accounting.currency_flows import changes_with_revaluation

    contracts, changes, recognition = eur_company()
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-03")
    flow = reporting_flow(
        convert_contract_rows(local, EUR_RATES, "USD"), months("2024-01", "2024-03")
    )
    february, split = changes_with_revaluation(row_of(flow, "2024-02").to_dict())
    # SPEC's keys, exactly, in order.
    assert list(february) == [
        "startingBackLogValue", "newBookingValue", "bookingsConvertedToRevenue",
        "lostBookingsPostContract", "backlogValueIncreases", "backlogValueDecreases",
        "endingBackLogValue", "netChange", "netChangePercent",
    ]  # fmt: skip
    assert list(CHANGES_KEYS) == list(february)
    # The −303.33 loss joins the decreases: 12,320.00 − 1,130.00 + 376.66 − 303.33 =
    # 11,263.33; net change −1,056.67 = −8.5769…% → −8.58.
    assert february == {
        "startingBackLogValue": Decimal("12320.00"), "newBookingValue": Decimal("0.00"),
        "bookingsConvertedToRevenue": Decimal("1130.00"),
        "lostBookingsPostContract": Decimal("0.00"), "backlogValueIncreases": Decimal("376.66"),
        "backlogValueDecreases": Decimal("303.33"), "endingBackLogValue": Decimal("11263.33"),
        "netChange": Decimal("-1056.67"), "netChangePercent": Decimal("-8.58"),
    }  # fmt: skip
    assert split == {
        "fxRevaluation": Decimal("-303.33"),
        "backlogValueIncreasesFromFx": Decimal("0.00"),
        "backlogValueDecreasesFromFx": Decimal("303.33"),
    }
    # A gain goes to increases: January's +220.00.
    january, split = changes_with_revaluation(row_of(flow, "2024-01").to_dict())
    assert january["backlogValueIncreases"] == Decimal("220.00")
    assert split["backlogValueIncreasesFromFx"] == Decimal("220.00")
    assert january["backlogValueDecreases"] == Decimal("0.00")


def test_rows_keep_their_order_and_carry_currency_and_both_figures():
    contracts, changes, recognition = eur_company()
    contracts = typed_contracts(
        ("E1", "2024-01", "12000.00", "EUR"), ("U1", "2024-01", "700.00", "USD")
    )
    local, _ = local_rows(contracts, changes, recognition, "2024-01", "2024-02")
    rows = convert_contract_rows(local, EUR_RATES, "USD")
    assert rows["contract_id"].tolist() == local["contract_id"].tolist()
    assert rows["currency"].astype(object).tolist() == ["EUR", "USD", "EUR", "USD"]
    assert np.array_equal(rows["closing_local"], local["closing"])
    # U1's figures are USD already: the same on both sides.
    u1 = row_of(rows, "2024-01", contract_id="U1")
    assert int(u1["new_bookings"]) == int(u1["new_bookings_local"]) == 70000
