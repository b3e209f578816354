"""The disclosure note: the published figures in words, US GAAP and IFRS kept apart."""

from decimal import Decimal

import pytest

from backlog_pipeline.kpi.disclosure_note import (
    DisclosureFigures,
    disclosure_note,
    money,
    month_name,
)

D = Decimal


def spec_example(**changes) -> DisclosureFigures:
    """SPEC's June: 18,000.00 disclosed, 12,000.00 within 12 months and 6,000.00 in 13–24,
    beside a short contract of 2,000.00 and a flagged one of 500.00 left out."""
    values = {
        "period": "2024-06",
        "currency": "USD",
        "closing": "20500.00",
        "excluded": "2500.00",
        "disclosed": "18000.00",
        "within_12_months": "12000.00",
        "months_13_24": "6000.00",
        "months_25_36": "0.00",
        "after_36_months": "0.00",
        "undated": "0.00",
        "over_recognized": "0.00",
        "short_contract_expedient": True,
        "duration_from": "start",
        "excluded_short": "2000.00",
        "other_exclusions": [("right to invoice", "500.00")],
        "plan_given": False,
    }
    return DisclosureFigures.from_mapping(values | changes)


def table_rows(note: str) -> list[list[str]]:
    """The cells of the Markdown table's rows, stripped."""
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in note.splitlines()
        if line.startswith("|") and not line.startswith("|:")  # not the alignment row
    ]


def test_money_and_month_words():
    assert money(D("1234567.5"), "EUR") == "EUR 1,234,567.50"
    assert money(D("-0.01"), "USD") == "USD -0.01"
    assert month_name("2024-06") == "June 2024"


def test_us_gaap_note_in_markdown():
    note = disclosure_note(spec_example(), "us_gaap", "markdown")
    assert note.startswith("### Remaining performance obligations — June 2024\n")
    assert "at 30 June 2024 amounted to USD 18,000.00 (ASC 606-10-50-13(a))" in note
    assert "bookings backlog of USD 20,500.00 less USD 2,500.00 left out" in note
    # 12,000 / 18,000 = 66.666…% → 66.67%; 6,000 / 18,000 → 33.33%.
    assert "We expect to recognize 66.67% of this amount" in note
    assert table_rows(note) == [
        ["Expected to be recognized", "Amount", "Share"],
        ["Within 12 months (July 2024 – June 2025)", "USD 12,000.00", "66.67%"],
        ["13 to 24 months", "USD 6,000.00", "33.33%"],
        ["25 to 36 months", "USD 0.00", "0.00%"],
        ["After 36 months", "USD 0.00", "0.00%"],
        ["Timing not determinable (no end date, no revenue plan)", "USD 0.00", "0.00%"],
        ["Total", "USD 18,000.00", "100.00%"],
    ]
    assert "ASC 606-10-50-14(a)" in note and "measured from the service start date" in note
    assert "They held USD 2,000.00 at the month end." in note
    assert "- right to invoice: USD 500.00" in note
    assert "ASC 606-10-50-14(b) and 50-14A are not applied" in note
    assert "IFRS" not in note
    assert "Recognized beyond contract value" not in note  # over-recognized is 0
    assert "spreads each contract's amount evenly" in note  # no plan was given


def test_ifrs_note_in_plain_text():
    note = disclosure_note(spec_example(duration_from="signed", plan_given=True), "ifrs", "text")
    title = "Transaction price allocated to the remaining performance obligations — June 2024"
    assert note.startswith(f"{title}\n{'=' * len(title)}\n")
    assert "at 30 June 2024 carry USD 18,000.00 of transaction price (IFRS 15.120(a))" in note
    assert "(IFRS 15.120(b))" in note and "Practical expedients (IFRS 15.122):" in note
    assert "As IFRS 15.121(a) permits" in note and "measured from the signing date" in note
    assert "the practical expedient in IFRS 15.121(b) is not applied" in note
    assert "revenue plan in the ERP" in note
    # IFRS 15 has no counterpart of ASC 606-10-50-14A; no US GAAP citation at all.
    assert "50-14A" not in note and "ASC" not in note
    assert "|" not in note and "**" not in note and "###" not in note
    assert "USD 12,000.00   66.67%" in note


def test_the_note_states_what_it_is_given_and_shows_an_over_recognition():
    figures = spec_example(
        excluded="0.00",
        closing="18000.00",
        short_contract_expedient=False,
        excluded_short="0.00",
        other_exclusions=[],
        undated="1500.00",
        over_recognized="-1500.00",
        within_12_months="12000.00",
    )
    note = disclosure_note(figures)
    assert "We do not apply the optional exemption in ASC 606-10-50-14(a)" in note
    assert "left out" not in note
    assert "The optional exemptions in ASC 606-10-50-14(b) and 50-14A are not applied." in note
    # Figures are shown as given (the note does not recompute them): 1,500.00 undated
    # is 8.33% of 18,000.00, and the over-recognition line shows −1,500.00.
    rows = table_rows(note)
    assert rows[5] == [
        "Timing not determinable (no end date, no revenue plan)",
        "USD 1,500.00",
        "8.33%",
    ]
    assert rows[6] == ["Recognized beyond contract value (under review)", "USD -1,500.00", "-8.33%"]


def test_a_month_with_nothing_to_disclose_has_no_shares():
    zero = {
        name: "0.00"
        for name in (
            "closing",
            "excluded",
            "disclosed",
            "within_12_months",
            "months_13_24",
            "excluded_short",
        )
    }
    note = disclosure_note(spec_example(**zero, other_exclusions=[]), "ifrs")
    assert "We expect to recognize — of this amount" in note
    assert table_rows(note)[-1] == ["Total", "USD 0.00", "—"]


def test_unknown_framework_or_style_is_refused():
    with pytest.raises(ValueError, match="framework"):
        disclosure_note(spec_example(), "hgb")
    with pytest.raises(ValueError, match="duration_from"):
        disclosure_note(spec_example(duration_from="booked"))
