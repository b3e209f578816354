"""Contracts in other currencies through the whole close: published tables and documents.

Every expected figure is worked out by hand in the comments (rates are USD for one unit
of the currency; USD is the reporting currency). The USD contracts are the hand dataset
of ``support`` (its figures are ``EXPECTED``); the others are added to it.
"""

import csv
from decimal import Decimal

import pandas as pd
import pytest
import simplejson
import sqlalchemy as sa

from backlog_pipeline_tests.support import (
    CHANGES,
    CONTRACTS,
    EXPECTED,
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

REPORTING = ("opening", "new_bookings", "converted", "lost", "increases", "decreases",
             "fx_revaluation", "closing")  # fmt: skip
LOCAL = ("opening_local", "new_bookings_local", "converted_local", "lost_local",
         "increases_local", "decreases_local", "closing_local")  # fmt: skip
RATE_COLUMNS = ("currency", "month", "average_rate", "closing_rate")
# EUR rises in January (closing above the average), falls in February, rises in March.
EUR_RATES = [
    ("EUR", "2024-01", "1.10", "1.12"),
    ("EUR", "2024-02", "1.13", "1.09"),
    ("EUR", "2024-03", "1.08", "1.105"),
]
# 12,000.00 EUR signed in January, 1,000.00 recognized a month, +333.33 in February.
E1 = contract("E1", "2024-01-20", "12000.00", currency="EUR")
E1_CHANGES = [change("XE1", "E1", "2024-02-12", "increase", "333.33")]
E1_LINES = recognized("E1", ("2024-01", "1000.00"), ("2024-02", "1000.00"), ("2024-03", "1000.00"))


def write_rates(folder, rows) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rates.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(RATE_COLUMNS)
        writer.writerows(rows)
    return str(path)


def build_with_rates(tmp_path, monkeypatch, url, rates, name="sources", **sources):
    monkeypatch.setenv("BACKLOG_FX_RATES_CSV", write_rates(tmp_path / f"{name}-rates", rates))
    return build(tmp_path, monkeypatch, url, name, **sources)


def figures(row, columns=REPORTING) -> list[Decimal]:
    return [money(row[column]) for column in columns]


def amounts(*values: str) -> list[Decimal]:
    return [money(value) for value in values]


def of_period(frame: pd.DataFrame, period: str, **keys: str) -> pd.Series:
    mask = frame["period"] == period
    for column, value in keys.items():
        mask &= frame[column] == value
    (found,) = frame.index[mask]
    return frame.loc[found]


def document(tmp_path, period: str, name: str) -> dict:
    path = tmp_path / "data" / "output" / period / f"bookings_backlog_{name}.json"
    return simplejson.loads(path.read_text(), use_decimal=True)


def test_a_eur_contract_over_three_months_is_published_with_its_revaluation(
    tmp_path, monkeypatch, warehouse_url
):
    defs = build_with_rates(
        tmp_path, monkeypatch, warehouse_url, EUR_RATES,
        contracts=[*CONTRACTS, E1], changes=[*CHANGES, *E1_CHANGES],
        recognition=[*RECOGNITION, *E1_LINES],
    )  # fmt: skip
    result = close(defs, "2024-01", "2024-03")
    assert result.success
    assert [n for n, e in check_results(result).items() if not e.passed] == []

    # E1 in USD, each figure once at its rate, half up to the cent:
    # January: new 12,000 × 1.10 = 13,200.00; converted 1,000 × 1.10 = 1,100.00; closing
    #   11,000 × 1.12 = 12,320.00; revaluation 12,320 − (13,200 − 1,100) = 220.00
    #   (second route: 11,000 × (1.12 − 1.10) = 220.00).
    # February: opening 12,320.00; increase 333.33 × 1.13 = 376.6629 → 376.66; converted
    #   1,130.00; closing 10,333.33 × 1.09 = 11,263.3297 → 11,263.33; revaluation
    #   11,263.33 − (12,320.00 + 376.66 − 1,130.00) = −303.33.
    # March: opening 11,263.33; converted 1,080.00; closing 9,333.33 × 1.105 = 10,313.32965
    #   → 10,313.33; revaluation 10,313.33 − (11,263.33 − 1,080.00) = 130.00 (second route:
    #   10,333.33 × 0.015 − 1,000 × 0.025 = 129.99995, + residuals 0.00035 − 0.0003 = 130.00).
    rows = table(warehouse_url, "contract_backlog")
    e1 = {p: of_period(rows, p, contract_id="E1") for p in ("2024-01", "2024-02", "2024-03")}
    assert {row["currency"] for row in e1.values()} == {"EUR"}
    assert figures(e1["2024-01"]) == amounts("0", "13200", "1100", "0", "0", "0", "220", "12320")
    assert figures(e1["2024-02"]) == amounts(
        "12320", "0", "1130", "0", "376.66", "0", "-303.33", "11263.33"
    )
    assert figures(e1["2024-03"]) == amounts(
        "11263.33", "0", "1080", "0", "0", "0", "130", "10313.33"
    )
    assert figures(e1["2024-02"], LOCAL) == amounts(
        "11000", "0", "1000", "0", "333.33", "0", "10333.33"
    )
    # The USD contracts' rows carry their figures twice, and no revaluation.
    c2 = of_period(rows, "2024-03", contract_id="C2")
    assert c2["currency"] == "USD" and money(c2["fx_revaluation"]) == 0
    assert figures(c2, LOCAL) == figures(c2, [c for c in REPORTING if c != "fx_revaluation"])

    # The flow: the hand dataset's USD figures (EXPECTED) plus E1's converted ones.
    # January: new 12,000 + 13,200 = 25,200; converted 1,000 + 1,100 = 2,100; closing
    #   11,000 + 12,320 = 23,320. February: converted 1,200.25 + 1,130 = 2,330.25; closing
    #   12,200.25 + 11,263.33 = 23,463.58; net change 143.58 / 23,320 = 0.6157% → 0.62.
    # March: converted 1,300 + 1,080 = 2,380; closing 12,500.25 + 10,313.33 = 22,813.58.
    flow = table(warehouse_url, "backlog_flow").set_index("period")
    assert figures(flow.loc["2024-01"]) == amounts(
        "0", "25200", "2100", "0", "0", "0", "220", "23320"
    )
    assert figures(flow.loc["2024-02"]) == amounts(
        "23320", "2400.50", "2330.25", "0", "376.66", "0", "-303.33", "23463.58"
    )
    assert figures(flow.loc["2024-03"]) == amounts(
        "23463.58", "1000", "2380", "0", "600", "0", "130", "22813.58"
    )
    assert money(flow.loc["2024-02", "net_change_pct"]) == money("0.62")

    # Each currency's flow in that currency, with no rates.
    by_currency = table(warehouse_url, "backlog_flow_by_currency")
    eur = of_period(by_currency, "2024-02", currency="EUR")
    assert figures(eur, (*REPORTING[:6], "closing")) == amounts(
        "11000", "0", "1000", "0", "333.33", "0", "10333.33"
    )
    usd = of_period(by_currency, "2024-03", currency="USD")
    assert figures(usd, (*REPORTING[:6], "closing")) == amounts(*EXPECTED["2024-03"][:7])

    # Constant currency at January's rates (the fiscal year's first month, by default):
    # February: opening 11,000 × 1.12 = 12,320; increase 333.33 × 1.10 = 366.663 → 366.66;
    #   converted 1,100; closing 10,333.33 × 1.12 = 11,573.3296 → 11,573.33; revaluation
    #   11,573.33 − (12,320 + 366.66 − 1,100) = −13.33 (the January spread on the
    #   movements, 0.02 × (333.33 − 1,000) = −13.33, and no rate change).
    # March: opening 11,573.33; converted 1,100; closing 9,333.33 × 1.12 = 10,453.3296 →
    #   10,453.33; revaluation 10,453.33 − 10,473.33 = −20.00. With USD: 12,200.25 +
    #   11,573.33 = 23,773.58 and 12,500.25 + 10,453.33 = 22,953.58.
    constant = table(warehouse_url, "backlog_flow_constant_currency").set_index("period")
    assert set(constant["basis"]) == {"constant currency at 2024-01 rates (non-GAAP)"}
    assert figures(constant.loc["2024-02"]) == amounts(
        "23320", "2400.50", "2300.25", "0", "366.66", "0", "-13.33", "23773.58"
    )
    assert figures(constant.loc["2024-03"]) == amounts(
        "23773.58", "1000", "2400", "0", "600", "0", "-20", "22953.58"
    )

    # The rates each version used: January its own; February January's closing (for its
    # opening) and its own; March February's closing and its own.
    rates = table(warehouse_url, "publication_fx_rates")
    used = sorted(zip(rates["period"], rates["month"], rates["version"], strict=True))
    assert used == [
        ("2024-01", "2024-01", 1), ("2024-02", "2024-01", 1), ("2024-02", "2024-02", 1),
        ("2024-03", "2024-02", 1), ("2024-03", "2024-03", 1),
    ]  # fmt: skip
    march = of_period(rates, "2024-03", month="2024-03")
    assert (Decimal(str(march["average_rate"])), Decimal(str(march["closing_rate"]))) == (
        Decimal("1.08"),
        Decimal("1.105"),
    )

    # The typed object keeps its nine keys: February's loss of 303.33 is in decreases,
    # January's gain of 220.00 in increases; the total document states the split.
    february = document(tmp_path, "2024-02", "changes")
    assert len(february) == 9
    assert february["backlogValueIncreases"] == Decimal("376.66")
    assert february["backlogValueDecreases"] == Decimal("303.33")
    assert february["endingBackLogValue"] == Decimal("23463.58")
    assert february["netChange"] == Decimal("143.58")
    assert document(tmp_path, "2024-01", "changes")["backlogValueIncreases"] == Decimal("220.00")
    total = document(tmp_path, "2024-02", "total")["measurement"]
    assert total["value"] == Decimal("23463.58")
    assert (total["fx"]["fxRevaluation"], total["fx"]["backlogValueDecreasesFromFx"]) == (
        Decimal("-303.33"),
        Decimal("303.33"),
    )
    assert total["fx"]["backlogValueIncreasesFromFx"] == Decimal("0.00")


def test_a_cancellation_in_a_foreign_currency(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    # 5,000.00 GBP signed in January, 500.00 recognized a month, terminated in February.
    rates = [("GBP", "2024-01", "1.25", "1.27"), ("GBP", "2024-02", "1.26", "1.24")]
    defs = build_with_rates(
        tmp_path, monkeypatch, url, rates,
        contracts=[contract("G1", "2024-01-05", "5000.00", currency="GBP")],
        changes=[change("XG1", "G1", "2024-02-20", "cancellation")],
        recognition=recognized("G1", ("2024-01", "500.00"), ("2024-02", "500.00")),
    )  # fmt: skip
    # March has no GBP rate: G1 holds nothing after February, so March needs none.
    result = close(defs, "2024-01", "2024-03")
    assert result.success
    assert [n for n, e in check_results(result).items() if not e.passed] == []
    # January: new 5,000 × 1.25 = 6,250.00; converted 625.00; closing 4,500 × 1.27 =
    #   5,715.00; revaluation 5,715 − (6,250 − 625) = 90.00.
    # February: the 4,000.00 left after February's 500.00 is lost: 4,000 × 1.26 = 5,040.00;
    #   converted 500 × 1.26 = 630.00; closing 0; revaluation 0 − (5,715 − 630 − 5,040) =
    #   −45.00 (second route: 4,500 × (1.24 − 1.27) + 500 × 0.02 + 4,000 × 0.02 = −45.00).
    flow = table(url, "backlog_flow").set_index("period")
    assert figures(flow.loc["2024-01"]) == amounts("0", "6250", "625", "0", "0", "0", "90", "5715")
    assert figures(flow.loc["2024-02"]) == amounts("5715", "0", "630", "5040", "0", "0", "-45", "0")
    assert figures(flow.loc["2024-03"]) == amounts("0", "0", "0", "0", "0", "0", "0", "0")
    rows = table(url, "contract_backlog")
    assert figures(of_period(rows, "2024-02", contract_id="G1"), LOCAL) == amounts(
        "4500", "0", "500", "4000", "0", "0", "0"
    )
    by_currency = table(url, "backlog_flow_by_currency")
    assert money(of_period(by_currency, "2024-02", currency="GBP")["lost"]) == money("4000")
    changes = document(tmp_path, "2024-02", "changes")
    assert changes["lostBookingsPostContract"] == Decimal("5040.00")
    assert changes["backlogValueDecreases"] == Decimal("45.00")
    assert changes["endingBackLogValue"] == Decimal("0.00")


def test_a_missing_rate_fails_naming_currency_and_month_and_keeps_the_publication(
    tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    sources = {
        "contracts": [*CONTRACTS, E1], "changes": [*CHANGES, *E1_CHANGES],
        "recognition": [*RECOGNITION, *E1_LINES],
    }  # fmt: skip
    assert close(build_with_rates(tmp_path, monkeypatch, url, EUR_RATES, **sources), "2024-01",
                 "2024-02").success  # fmt: skip
    published = {name: table(url, name) for name in ("backlog_flow", "contract_backlog")}
    documents = sorted(path.name for path in (tmp_path / "data" / "output").iterdir())

    # The rates lose March's EUR row: March's movements and closing cannot be converted.
    defs = build_with_rates(tmp_path, monkeypatch, url, EUR_RATES[:2], "late", **sources)
    result = close(defs, "2024-03")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "contract_backlog"
    message = failure.step_failure_data.user_failure_data.description
    assert "no EUR average rate for 2024-03" in message
    assert "no EUR closing rate for 2024-03" in message
    assert "2024-03 cannot be converted and is not published" in message
    assert str(tmp_path / "late-rates" / "rates.csv") in message
    for name, before in published.items():
        pd.testing.assert_frame_equal(before, table(url, name))
    assert "2024-03" not in set(table(url, "publication_versions")["period"])
    assert sorted(path.name for path in (tmp_path / "data" / "output").iterdir()) == documents


def test_a_ledger_amount_in_the_reporting_currency_is_what_converted_ties_to(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    monkeypatch.setenv("BACKLOG_ERP_COLUMNS", "amount_reporting=amount_usd")
    u1 = contract("U1", "2024-01-08", "1000.00")  # USD
    u1_line = recognized("U1", ("2024-01", "100.00"))
    defs = build_with_rates(
        tmp_path, monkeypatch, url, EUR_RATES,
        contracts=[E1, u1], changes=E1_CHANGES, recognition=[*E1_LINES, *u1_line],
    )  # fmt: skip
    # The general ledger booked January's 1,000.00 EUR at 1,101.50 USD (a daily rate);
    # February's and March's lines carry no ledger amount. U1's 100.00 USD line says
    # 100.01 in the ledger: the same money twice, and not the same.
    lines = pd.DataFrame([*E1_LINES, *u1_line]).assign(amount_usd=["1101.50", None, None, "100.01"])
    erp = sa.create_engine(f"sqlite:///{tmp_path / 'sources' / 'erp.sqlite'}")
    lines.to_sql("recognition", erp, index=False, if_exists="replace")
    erp.dispose()
    result = close(defs, "2024-01", "2024-03")
    assert result.success  # the disagreement is a WARN
    evaluations = check_results(result)
    assert [n for n, e in evaluations.items() if not e.passed] == ["ledger_amounts_agree"]
    found = table(url, "backlog_exceptions")
    found = found[found["check_name"] == "ledger_amounts_agree"]
    assert list(zip(found["record_id"], found["amount"].map(money), strict=True)) == [
        ("U1-2024-01-0", money("0.01"))
    ]
    # January: E1's converted = the ledger's 1,101.50 (not 1,000 × 1.10 = 1,100.00); its
    # revaluation absorbs the 1.50: 12,320 − (13,200 − 1,101.50) = 221.50 (the second
    # route adds 1,101.50 − 1,000 × 1.10 to 220.00). February as without a ledger. U1 is
    # converted from its amount, 100.00.
    rows = table(url, "contract_backlog")
    assert figures(of_period(rows, "2024-01", contract_id="E1")) == amounts(
        "0", "13200", "1101.50", "0", "0", "0", "221.50", "12320"
    )
    assert figures(of_period(rows, "2024-02", contract_id="E1")) == amounts(
        "12320", "0", "1130", "0", "376.66", "0", "-303.33", "11263.33"
    )
    assert money(of_period(rows, "2024-01", contract_id="U1")["converted"]) == money("100")
    # The local figure stays the ERP's amount in EUR.
    assert money(of_period(rows, "2024-01", contract_id="E1")["converted_local"]) == 1000
    # January's flow: new 13,200 + 1,000; converted 1,101.50 + 100; revaluation 221.50;
    # closing 12,320 + 900 = 13,220.
    flow = table(url, "backlog_flow").set_index("period")
    assert figures(flow.loc["2024-01"]) == amounts(
        "0", "14200", "1201.50", "0", "0", "0", "221.50", "13220"
    )


def test_one_currency_only_the_revaluation_is_zero_and_every_figure_is_as_before(
    tmp_path, monkeypatch, warehouse_url
):
    result = close(build(tmp_path, monkeypatch, warehouse_url), "2024-01", "2024-06")
    assert result.success
    flow = table(warehouse_url, "backlog_flow")
    assert [str(money(v)) for v in flow["fx_revaluation"]] == ["0.00"] * 6
    for row in flow.to_dict("records"):
        assert figures(row, [c for c in REPORTING if c != "fx_revaluation"]) == amounts(
            *EXPECTED[row["period"]][:7]
        )
    rows = table(warehouse_url, "contract_backlog")
    assert set(rows["currency"]) == {"USD"}
    assert {money(v) for v in rows["fx_revaluation"]} == {0}
    for local, reporting in zip(
        LOCAL, [c for c in REPORTING if c != "fx_revaluation"], strict=True
    ):
        assert [money(v) for v in rows[local]] == [money(v) for v in rows[reporting]]
    by_currency = table(warehouse_url, "backlog_flow_by_currency")
    assert list(by_currency["currency"]) == ["USD"] * 6
    constant = table(warehouse_url, "backlog_flow_constant_currency")
    for name in ("opening", "converted", "lost", "closing"):
        assert [money(v) for v in by_currency[name]] == [money(v) for v in flow[name]]
        assert [money(v) for v in constant[name]] == [money(v) for v in flow[name]]
    assert table(warehouse_url, "publication_fx_rates").empty
    # No rates source: none is recorded among the sources a version was read from.
    marks = simplejson.loads(table(warehouse_url, "publication_versions")["source_marks"][0])
    assert set(marks) == {"crm_contracts", "crm_contract_changes", "erp_recognition"}
    april = document(tmp_path, "2024-04", "changes")
    assert (april["backlogValueIncreases"], april["backlogValueDecreases"]) == (
        Decimal("0.00"),
        Decimal("0.00"),
    )


def test_a_corrected_rate_restates_the_months_that_used_it(tmp_path, monkeypatch):
    from backlog_pipeline_tests.test_late_data import evaluate, ranges

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build_with_rates(
        tmp_path, monkeypatch, url, EUR_RATES,
        contracts=[E1], changes=E1_CHANGES, recognition=E1_LINES,
    )  # fmt: skip
    assert close(defs, "2024-01", "2024-03").success
    assert not evaluate(defs).run_requests  # nothing moved since

    # February's closing rate is corrected from 1.09 to 1.10 in the same file. February
    # closes with it and March opens with it; January read neither.
    write_rates(tmp_path / "sources-rates", [
        EUR_RATES[0], ("EUR", "2024-02", "1.13", "1.10"), EUR_RATES[2]
    ])  # fmt: skip
    assert ranges(evaluate(defs)) == [("2024-02", "2024-03")]
    result = close(defs, "2024-01", "2024-03")
    assert result.success
    restated = check_results(result)["matches_published"]
    assert not restated.passed  # a WARN: published as a new version
    by_month = {  # each month's result names its own restatement
        e.partition: e.metadata["months_restated"].value
        for e in check_evaluations(result)
        if e.check_name == "matches_published"
    }
    assert by_month == {
        partition_key("2024-01"): {},
        partition_key("2024-02"): {"2024-02": "version 1 → 2"},
        partition_key("2024-03"): {"2024-03": "version 1 → 2"},
    }
    # February: closing 10,333.33 × 1.10 = 11,366.663 → 11,366.66; revaluation
    #   11,366.66 − (12,320 + 376.66 − 1,130) = −200.00. March: opening 11,366.66;
    #   revaluation 10,313.33 − (11,366.66 − 1,080) = 26.67.
    flow = table(url, "backlog_flow").set_index("period")
    assert figures(flow.loc["2024-02"]) == amounts(
        "12320", "0", "1130", "0", "376.66", "0", "-200", "11366.66"
    )
    assert figures(flow.loc["2024-03"]) == amounts(
        "11366.66", "0", "1080", "0", "0", "0", "26.67", "10313.33"
    )
    versions = table(url, "publication_versions")
    assert sorted(zip(versions["period"], versions["version"], strict=True)) == [
        ("2024-01", 1), ("2024-02", 1), ("2024-02", 2), ("2024-03", 1), ("2024-03", 2)
    ]  # fmt: skip
    # Each version keeps the rates it was made with.
    rates = table(url, "publication_fx_rates")
    february = rates[(rates["period"] == "2024-02") & (rates["month"] == "2024-02")]
    assert sorted(
        zip(
            february["version"],
            (Decimal(str(v)) for v in february["closing_rate"]),
            strict=True,
        )
    ) == [(1, Decimal("1.09")), (2, Decimal("1.10"))]


def test_a_rate_with_more_than_ten_decimals_refuses_the_rates_naming_the_row(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    rates = [("EUR", "2024-01", "1.10000000001", "1.12"), *EUR_RATES[1:]]
    defs = build_with_rates(
        tmp_path, monkeypatch, url, rates,
        contracts=[E1], changes=E1_CHANGES, recognition=E1_LINES,
    )  # fmt: skip
    result = close(defs, "2024-01")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "fx_rates"
    message = failure.step_failure_data.user_failure_data.description
    # The header is line 1 of the file, so the first rate is on line 2.
    assert "row 2 (EUR 2024-01): average_rate: rate '1.10000000001' has more than 10 decimals" in (
        message
    )
    assert table(url, "backlog_flow").empty
