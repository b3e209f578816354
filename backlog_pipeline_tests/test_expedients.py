"""What the disclosed RPO leaves out: the one-year expedient and flagged contracts, by hand."""

import pandas as pd
import pytest

from backlog_pipeline.accounting.expedients import (
    SHORT_CONTRACT_REASON,
    apply_exclusions,
    contract_exclusions,
    exclusion_discrepancies,
    one_year_or_less,
)
from backlog_pipeline.accounting.lookup import UnknownContractError
from backlog_pipeline.accounting.timing import split_backlog, timing_discrepancies
from backlog_pipeline.periods import parse_month
from backlog_pipeline_tests.rpo_frames import contracts_of, rows_of

JUNE = "2024-06"


def short(contracts, duration_from="start") -> dict[str, bool]:
    return {k: bool(v) for k, v in one_year_or_less(contracts, duration_from).items()}


def test_one_year_exactly_and_one_year_and_a_day_from_the_start():
    contracts = contracts_of(
        ("YEAR", "2023-07-01", "2024-06-30"),  # the day before the first anniversary
        ("YEAR_AND_A_DAY", "2023-07-01", "2024-07-01"),
        ("MONTH", "2023-07-01", "2023-07-31"),
    )
    assert short(contracts) == {"YEAR": True, "YEAR_AND_A_DAY": False, "MONTH": True}


def test_the_term_can_run_from_the_signed_date():
    contracts = contracts_of(
        # Signed 15 June, started 1 July: from the start it is one year exactly, from the
        # signature a year and 16 days (the limit is 14 June 2024).
        ("SIGNED_EARLY", "2023-07-01", "2024-06-30", {"signed": "2023-06-15"}),
        # Signed 1 July, started 1 August, ended 30 June: one year from the signature.
        ("SIGNED_YEAR", "2023-08-01", "2024-06-30", {"signed": "2023-07-01"}),
        ("SIGNED_YEAR_AND_A_DAY", "2023-08-01", "2024-07-01", {"signed": "2023-07-01"}),
    )
    assert short(contracts, "start") == {
        "SIGNED_EARLY": True,
        "SIGNED_YEAR": True,
        "SIGNED_YEAR_AND_A_DAY": True,
    }
    assert short(contracts, "signed") == {
        "SIGNED_EARLY": False,
        "SIGNED_YEAR": True,
        "SIGNED_YEAR_AND_A_DAY": False,
    }


def test_29_february_and_leap_years():
    contracts = contracts_of(
        # The first anniversary of 29 February 2024 is 1 March 2025: one year ends 28 Feb.
        ("LEAP_START", "2024-02-29", "2025-02-28"),
        ("LEAP_START_LONGER", "2024-02-29", "2025-03-01"),
        # From 1 March 2023 the anniversary is 1 March 2024: one year ends 29 February 2024.
        ("INTO_LEAP", "2023-03-01", "2024-02-29"),
        ("INTO_LEAP_LONGER", "2023-03-01", "2024-03-01"),
        # From 28 February 2023: the anniversary is 28 February 2024, one year ends 27 Feb.
        ("FEB_28", "2023-02-28", "2024-02-27"),
        ("FEB_28_LONGER", "2023-02-28", "2024-02-28"),
    )
    assert short(contracts) == {
        "LEAP_START": True,
        "LEAP_START_LONGER": False,
        "INTO_LEAP": True,
        "INTO_LEAP_LONGER": False,
        "FEB_28": True,
        "FEB_28_LONGER": False,
    }


def test_missing_and_contradictory_dates():
    contracts = contracts_of(
        ("NO_END", "2024-01-01", None),  # duration not known: kept
        # No start date: measured from the signature, 10 January 2024.
        ("NO_START", None, "2025-01-09", {"signed": "2024-01-10"}),
        ("NO_START_LONGER", None, "2025-01-10", {"signed": "2024-01-10"}),
        ("BACKWARDS", "2024-06-01", "2024-05-01"),  # ends before it starts: kept
    )
    assert short(contracts) == {
        "NO_END": False,
        "NO_START": True,
        "NO_START_LONGER": False,
        "BACKWARDS": False,
    }
    with pytest.raises(ValueError, match="duration_from"):
        one_year_or_less(contracts, "booked")


def test_exclusions_by_the_expedient_and_by_flag():
    contracts = contracts_of(
        ("SHORT", "2024-01-01", "2024-12-31"),
        ("LONG", "2024-01-01", "2026-12-31"),
        ("FLAGGED", "2024-01-01", "2026-12-31"),
        ("BOTH", "2024-01-01", "2024-06-30"),
        ("BLANK", "2024-01-01", "2026-12-31"),
    )
    flags = pd.Series({"FLAGGED": "right to invoice", "BOTH": "usage royalty", "BLANK": "  "})
    elected = contract_exclusions(contracts, short_contract_expedient=True, flagged=flags)
    assert dict(zip(elected["contract_id"], elected["reason"], strict=True)) == {
        "SHORT": SHORT_CONTRACT_REASON,
        "FLAGGED": "right to invoice",
        "BOTH": f"usage royalty; {SHORT_CONTRACT_REASON}",
    }
    not_elected = contract_exclusions(contracts, short_contract_expedient=False, flagged=flags)
    assert set(not_elected["contract_id"]) == {"FLAGGED", "BOTH"}
    with pytest.raises(UnknownContractError, match="'GHOST'"):
        contract_exclusions(
            contracts, short_contract_expedient=False, flagged=pd.Series({"GHOST": "typo"})
        )


def test_disclosed_is_closing_less_excluded_and_the_register_lists_what_is_left_out():
    contracts = contracts_of(
        ("SHORT", "2024-01-01", "2024-12-31"),
        ("LONG", "2024-01-01", "2025-12-31"),
        ("DONE", "2024-01-01", "2024-05-31"),
    )
    rows = rows_of(
        ("2024-05", "SHORT", 70_000),
        ("2024-05", "LONG", 1_900_000),
        ("2024-05", "DONE", 0),
        (JUNE, "SHORT", 60_000),
        (JUNE, "LONG", 1_800_000),
    )
    exclusions = contract_exclusions(contracts, short_contract_expedient=True)
    assert set(exclusions["contract_id"]) == {"SHORT", "DONE"}
    result = apply_exclusions(rows, exclusions, contracts)
    # May: closing 700.00 + 19,000.00 + 0 = 19,700.00; excluded 700.00; disclosed 19,000.00.
    # June: 600.00 + 18,000.00 = 18,600.00; excluded 600.00; disclosed 18,000.00.
    assert result.by_month.to_dict("list") == {
        "period": [parse_month("2024-05"), parse_month(JUNE)],
        "closing": [1_970_000, 1_860_000],
        "excluded": [70_000, 60_000],
        "disclosed": [1_900_000, 1_800_000],
    }
    # DONE holds no backlog: it is not in the register.
    assert result.register.to_dict("records") == [
        {
            "period": parse_month("2024-05"),
            "contract_id": "SHORT",
            "amount": 70_000,
            "reason": SHORT_CONTRACT_REASON,
        },
        {
            "period": parse_month(JUNE),
            "contract_id": "SHORT",
            "amount": 60_000,
            "reason": SHORT_CONTRACT_REASON,
        },
    ]
    assert rows["closing"].sum() == 70_000 + 1_900_000 + 60_000 + 1_800_000  # rows untouched
    flow = pd.DataFrame({"period": result.by_month["period"], "closing": [1_970_000, 1_860_000]})
    assert exclusion_discrepancies(result.by_month, result.register, flow) == []
    flow.loc[1, "closing"] = 1_860_001
    found = exclusion_discrepancies(result.by_month, result.register, flow)
    assert [(d["period"], d["problem"], d["difference"]) for d in found] == [
        ("2024-06", "closing = the flow's closing does not hold", "-0.01"),
    ]
    # The disclosed RPO's timing: the waterfall of the rows not excluded.
    timing = split_backlog(rows, contracts, disclosed=~result.excluded)
    june = timing.by_month[timing.by_month["period"] == parse_month(JUNE)].iloc[0]
    assert june["amount"] == 1_800_000  # = disclosed
    june_lines = timing.waterfall[timing.waterfall["period"] == parse_month(JUNE)]
    assert int(june_lines["amount"].sum()) == 1_800_000
    disclosed = dict(zip(result.by_month["period"], result.by_month["disclosed"], strict=True))
    assert timing_discrepancies(timing, disclosed) == []
    # The timing of every row (no mask) does not sum to the disclosed RPO: named.
    whole = split_backlog(rows, contracts)
    assert [(d["period"], d["difference"]) for d in timing_discrepancies(whole, disclosed)] == [
        ("2024-05", "700.00"),
        ("2024-06", "600.00"),
    ]
