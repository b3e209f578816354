"""When the backlog becomes revenue: figures worked out by hand, SPEC's example first."""

import numpy as np
import pandas as pd
import pytest

from backlog_pipeline.accounting import timing as timing_module
from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.accounting.lookup import RowContracts, UnknownContractError
from backlog_pipeline.accounting.revenue_plan import PlanError, _by_row_then_remainder, describe
from backlog_pipeline.accounting.timing import (
    WATERFALL_LINES,
    split_backlog,
    timing_discrepancies,
)
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline_tests.rpo_frames import contracts_of, plan_of, rows_of

JUNE = "2024-06"


def waterfall_of(timing, month: str = JUNE) -> dict[str, int]:
    lines = timing.waterfall[timing.waterfall["period"] == parse_month(month)]
    return dict(zip(lines["line"], lines["amount"].astype(int), strict=True))


def expected_waterfall(**lines: int) -> dict[str, int]:
    return {line: lines.get(line, 0) for line in WATERFALL_LINES}


def parts_of(timing, contract_id: str, month: str = JUNE) -> tuple[int, int, int, int]:
    rows = timing.rows
    row = rows[(rows["contract_id"] == contract_id) & (rows["period"] == parse_month(month))]
    assert len(row) == 1
    row = row.iloc[0]
    return (
        int(row["within_12_months"]),
        int(row["after_12_months"]),
        int(row["undated"]),
        int(row["over_recognized"]),
    )


def basis_of(timing, contract_id: str) -> str:
    return str(timing.rows.loc[timing.rows["contract_id"] == contract_id, "basis"].iloc[0])


def test_spec_worked_example_through_the_roll_forward():
    # 24,000.00 over 24 months from January 2024, 1,000.00 recognized each month.
    contracts = contracts_of(("C1", "2024-01-01", "2025-12-31"))
    contracts["signed_month"] = parse_month("2024-01")
    contracts["tcv"] = 2_400_000
    changes = pd.DataFrame(
        {"contract_id": [], "effective_month": [], "kind": [], "amount": []}
    ).astype({"effective_month": "int64", "amount": "float64"})
    months = [f"2024-{m:02d}" for m in range(1, 7)]
    recognition = pd.DataFrame(
        {"contract_id": "C1", "period": [parse_month(m) for m in months], "amount": 100_000}
    )
    rows, _ = compute_backlog(contracts, changes, recognition, parse_month(JUNE), parse_month(JUNE))
    # At the end of June 24,000 − 6 × 1,000 = 18,000.00 remains.
    assert rows["closing"].tolist() == [1_800_000]
    timing = split_backlog(rows, contracts)
    # July 2024 … December 2025 is 18 months: 1,800,000 / 18 = 100,000 cents a month;
    # within 12 months: July … June 2025 = 12 × 1,000.00; after: 6 × 1,000.00.
    assert parts_of(timing, "C1") == (1_200_000, 600_000, 0, 0)
    assert basis_of(timing, "C1") == "straight_line"
    lines = timing.waterfall[timing.waterfall["period"] == parse_month(JUNE)]
    assert lines["label"].tolist()[:12] == [
        "2024-07",
        "2024-08",
        "2024-09",
        "2024-10",
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
        "2025-05",
        "2025-06",
    ]
    assert waterfall_of(timing) == expected_waterfall(
        **{f"month_{k:02d}": 100_000 for k in range(1, 13)}, months_13_24=600_000
    )
    month = timing.by_month.iloc[0]
    assert (month["amount"], month["within_12_months"], month["after_12_months"]) == (
        1_800_000,
        1_200_000,
        600_000,
    )
    assert timing_discrepancies(timing) == []


def test_cents_are_placed_by_largest_remainder_ties_to_the_earlier_month():
    contracts = contracts_of(
        ("A", "2024-07-01", "2024-09-30"),  # July … September: 3 months
        ("B", "2024-07-01", "2024-09-30"),
        ("C", "2024-07-01", "2024-09-30"),
    )
    timing = split_backlog(
        rows_of((JUNE, "A", 10_000), (JUNE, "B", 2), (JUNE, "C", 10_002)), contracts
    )
    # 100.00 / 3: 10,000 = 3 × 3,333 + 1 → 33.34, 33.33, 33.33 (the odd cent to July);
    # 0.02 / 3: 0 each + 2 → 0.01, 0.01, 0.00; 100.02 / 3 = 33.34 each.
    assert waterfall_of(timing) == expected_waterfall(
        month_01=3_334 + 1 + 3_334, month_02=3_333 + 1 + 3_334, month_03=3_333 + 0 + 3_334
    )
    assert parts_of(timing, "A") == (10_000, 0, 0, 0)


def test_straight_line_starts_at_the_later_of_next_month_and_the_start_month():
    contracts = contracts_of(
        ("FUTURE", "2024-09-15", "2025-08-31"),  # September 2024 … August 2025: 12 months
        ("NO_START", None, "2024-12-31"),  # July … December 2024: 6 months
        ("LONG", "2024-07-01", "2028-06-30"),  # 48 months from July 2024
    )
    rows = rows_of((JUNE, "FUTURE", 120_000), (JUNE, "NO_START", 60_000), (JUNE, "LONG", 480_000))
    timing = split_backlog(rows, contracts)
    # FUTURE: 120,000 / 12 = 10,000 a month; September … June 2025 (10 months) within 12.
    assert parts_of(timing, "FUTURE") == (100_000, 20_000, 0, 0)
    # NO_START: 60,000 / 6 = 10,000 a month, all within 12 months.
    assert parts_of(timing, "NO_START") == (60_000, 0, 0, 0)
    # LONG: 480,000 / 48 = 10,000 a month: 12 months within, 36 after.
    assert parts_of(timing, "LONG") == (120_000, 360_000, 0, 0)
    # Month k: LONG 10,000 (k = 1…12) + NO_START 10,000 (k = 1…6) + FUTURE 10,000 (k = 3…12).
    months = {
        f"month_{k:02d}": 10_000 + 10_000 * (k <= 6) + 10_000 * (k >= 3) for k in range(1, 13)
    }
    assert waterfall_of(timing) == expected_waterfall(
        **months,
        months_13_24=120_000 + 2 * 10_000,  # LONG 12 months + FUTURE July, August 2025
        months_25_36=120_000,
        after_36_months=120_000,
    )


def test_undated_when_there_is_no_end_date_even_with_a_start():
    contracts = contracts_of(("NONE", None, None), ("START_ONLY", "2024-03-01", None))
    timing = split_backlog(rows_of((JUNE, "NONE", 50_000), (JUNE, "START_ONLY", 7_000)), contracts)
    assert parts_of(timing, "NONE") == (0, 0, 50_000, 0)
    assert parts_of(timing, "START_ONLY") == (0, 0, 7_000, 0)
    assert waterfall_of(timing) == expected_waterfall(undated=57_000)
    assert basis_of(timing, "NONE") == "undated"


def test_negative_backlog_is_never_spread_even_with_a_plan():
    contracts = contracts_of(("OVER", "2024-01-01", "2024-12-31"))
    plan = plan_of(("OVER", "2024-07", 10_000))
    timing = split_backlog(rows_of((JUNE, "OVER", -50_000)), contracts, plan)
    assert parts_of(timing, "OVER") == (0, 0, 0, -50_000)
    assert waterfall_of(timing) == expected_waterfall(over_recognized=-50_000)
    assert basis_of(timing, "OVER") == "over_recognized"
    assert timing.plan_report.empty  # a negative backlog is not compared with the plan


def test_backlog_past_the_end_month_counts_in_the_next_month():
    contracts = contracts_of(
        ("ENDED", "2023-01-01", "2024-03-31"), ("ENDS_NOW", "2023-07-01", "2024-06-30")
    )
    timing = split_backlog(rows_of((JUNE, "ENDED", 30_000), (JUNE, "ENDS_NOW", 4_000)), contracts)
    # Both have no month left after June: all of it in July 2024 (month 1).
    assert parts_of(timing, "ENDED") == (30_000, 0, 0, 0)
    assert parts_of(timing, "ENDS_NOW") == (4_000, 0, 0, 0)
    assert waterfall_of(timing) == expected_waterfall(month_01=34_000)
    assert basis_of(timing, "ENDED") == "past_end"


def test_an_end_before_the_start_is_undated_not_guessed():
    contracts = contracts_of(("BACKWARDS", "2025-03-01", "2024-12-31"))
    timing = split_backlog(rows_of((JUNE, "BACKWARDS", 9_000)), contracts)
    assert parts_of(timing, "BACKWARDS") == (0, 0, 9_000, 0)
    assert basis_of(timing, "BACKWARDS") == "end_before_start"


def test_a_plan_that_differs_from_straight_line():
    # 24 months from January 2024, 18,000.00 left at the end of June (as SPEC's example).
    contracts = contracts_of(("C1", "2024-01-01", "2025-12-31"))
    plan = plan_of(
        ("C1", "2024-06", 100_000),  # not after June: does not count
        ("C1", "2024-07", 900_000),  # month 1
        ("C1", "2025-03", 300_000),  # month 9
        ("C1", "2025-09", 600_000),  # month 15: 13–24 band
    )
    timing = split_backlog(rows_of((JUNE, "C1", 1_800_000)), contracts, plan)
    # After June the plan holds 900,000 + 300,000 + 600,000 = 1,800,000 = the backlog.
    assert parts_of(timing, "C1") == (1_200_000, 600_000, 0, 0)
    assert waterfall_of(timing) == expected_waterfall(
        month_01=900_000, month_09=300_000, months_13_24=600_000
    )
    assert basis_of(timing, "C1") == "plan"
    assert timing.plan_report.empty


def test_a_contract_missing_from_the_plan_falls_back_to_straight_line():
    contracts = contracts_of(
        ("IN", "2024-07-01", "2024-08-31"), ("OUT", "2024-07-01", "2024-08-31")
    )
    plan = plan_of(("IN", "2024-08", 20_000))
    timing = split_backlog(rows_of((JUNE, "IN", 20_000), (JUNE, "OUT", 20_000)), contracts, plan)
    # IN: all in August (month 2); OUT: 10,000 in July and in August.
    assert waterfall_of(timing) == expected_waterfall(month_01=10_000, month_02=30_000)
    assert basis_of(timing, "OUT") == "straight_line"
    assert timing.plan_report.empty  # no plan is not a plan to warn about


def test_a_plan_that_does_not_sum_to_the_backlog_is_scaled_and_reported():
    contracts = contracts_of(("S", "2024-01-01", "2025-12-31"))
    plan = plan_of(("S", "2024-07", 30_000), ("S", "2024-08", 30_000), ("S", "2024-09", 30_000))
    timing = split_backlog(rows_of((JUNE, "S", 100_000)), contracts, plan)
    # 1,000.00 in proportion to 300, 300, 300: 100,000 × 30,000 / 90,000 = 33,333 r 1/3
    # each; 99,999 placed, the cent left goes to the earliest of the equal remainders.
    assert waterfall_of(timing) == expected_waterfall(
        month_01=33_334, month_02=33_333, month_03=33_333
    )
    assert basis_of(timing, "S") == "plan_scaled"
    report = timing.plan_report.to_dict("records")
    assert report == [
        {
            "period": parse_month(JUNE),
            "contract_id": "S",
            "plan_total": 90_000,
            "backlog": 100_000,
            "difference": -10_000,  # plan − backlog
            "action": "scaled",
            "reason": "the plan's lines after the month do not sum to the backlog: scaled to it",
        }
    ]
    assert describe(timing.plan_report.iloc[0]) == (
        "2024-06 contract S: plan 900.00 vs backlog 1000.00 (difference -100.00): the plan's "
        "lines after the month do not sum to the backlog: scaled to it"
    )


def test_scaling_gives_the_left_over_cents_to_the_largest_remainders():
    contracts = contracts_of(("R", "2024-01-01", "2025-12-31"))
    plan = plan_of(("R", "2024-07", 100), ("R", "2024-08", 200), ("R", "2024-09", 700))
    timing = split_backlog(rows_of((JUNE, "R", 1_001)), contracts, plan)
    # 1,001 × (100, 200, 700) / 1,000 = 100.1, 200.2, 700.7: floors 1,000, one cent left,
    # to the largest remainder (.7, September), not the earliest month.
    assert waterfall_of(timing) == expected_waterfall(month_01=100, month_02=200, month_03=701)


def test_plans_that_cannot_be_used_are_reported_and_fall_back():
    contracts = contracts_of(
        ("NEG", "2024-07-01", "2024-08-31"),
        ("ZERO", "2024-07-01", "2024-08-31"),
        ("SPENT", "2024-07-01", "2024-08-31"),
    )
    plan = plan_of(
        ("NEG", "2024-07", 30_000),
        ("NEG", "2024-08", -10_000),
        ("ZERO", "2024-07", 0),
        ("SPENT", "2024-05", 20_000),  # nothing after June
    )
    rows = rows_of((JUNE, "NEG", 20_000), (JUNE, "ZERO", 20_000), (JUNE, "SPENT", 20_000))
    timing = split_backlog(rows, contracts, plan)
    # Each falls back to straight line: 10,000 in July and August each, three times.
    assert waterfall_of(timing) == expected_waterfall(month_01=30_000, month_02=30_000)
    report = timing.plan_report.set_index("contract_id")
    assert report["action"].tolist() == ["not_used"] * 3
    assert report.loc["NEG", "reason"] == "the plan holds a negative line after the month"
    assert report.loc["NEG", "plan_total"] == 20_000
    assert report.loc["ZERO", "reason"] == "the plan's lines after the month sum to 0"
    assert report.loc["SPENT", "reason"] == "the plan has no line after the month"
    assert report.loc["SPENT", "difference"] == -20_000  # 0 − 20,000


def test_the_plan_is_compared_with_the_local_amount_and_the_reporting_amount_is_split():
    contracts = contracts_of(("FX", "2024-01-01", "2025-12-31"))
    plan = plan_of(("FX", "2024-07", 50_000), ("FX", "2024-08", 50_000))  # EUR, say
    rows = rows_of((JUNE, "FX", 220_000)).assign(closing_local=100_000)
    timing = split_backlog(rows, contracts, plan, local_amount_column="closing_local")
    # The plan sums to the local backlog (1,000.00): nothing to report; the reporting
    # 2,200.00 is split in proportion, 1,100.00 each.
    assert timing.plan_report.empty
    assert waterfall_of(timing) == expected_waterfall(month_01=110_000, month_02=110_000)


def test_very_large_amounts_are_split_exactly():
    contracts = contracts_of(("BIG", "2024-01-01", "2030-12-31"))
    lines = (500_000_000_000_000_001, 300_000_000_000_000_000, 199_999_999_999_999_997)
    plan = plan_of(*(("BIG", f"2024-{7 + i:02d}", line) for i, line in enumerate(lines)))
    backlog = 999_999_999_999_999_990  # products reach 5 × 10^35: far past int64
    timing = split_backlog(rows_of((JUNE, "BIG", backlog)), contracts, plan)
    total = sum(lines)  # 999,999,999,999,999,998
    # By hand with Python integers: floors and remainders of backlog × line / total.
    floors = [backlog * line // total for line in lines]
    remainders = [backlog * line % total for line in lines]
    left = backlog - sum(floors)
    extra = sorted(range(3), key=lambda i: (-remainders[i], i))[:left]
    expected = [floors[i] + (i in extra) for i in range(3)]
    got = waterfall_of(timing)
    assert [got["month_01"], got["month_02"], got["month_03"]] == expected
    assert sum(expected) == backlog


def test_many_months_and_the_disclosed_mask():
    contracts = contracts_of(("A", "2024-01-01", "2024-12-31"), ("B", "2024-01-01", "2024-12-31"))
    rows = rows_of(
        ("2024-05", "A", 70_000), ("2024-05", "B", 700), (JUNE, "A", 60_000), (JUNE, "B", 600)
    )
    disclosed = rows["contract_id"].to_numpy() == "A"
    timing = split_backlog(rows, contracts, disclosed=disclosed)
    # May: 7 months left (June … December), 10,000 a month; June: 6 months left.
    assert waterfall_of(timing, "2024-05") == expected_waterfall(
        **{f"month_{k:02d}": 10_000 for k in range(1, 8)}
    )
    assert waterfall_of(timing, JUNE) == expected_waterfall(
        **{f"month_{k:02d}": 10_000 for k in range(1, 7)}
    )
    # B is not disclosed: its parts are on its rows but not in the month's figures.
    assert parts_of(timing, "B") == (600, 0, 0, 0)
    assert timing.by_month["amount"].tolist() == [70_000, 60_000]
    assert timing_discrepancies(timing) == []


def test_a_waterfall_that_disagrees_with_the_rows_is_named():
    contracts = contracts_of(("A", "2024-07-01", "2024-12-31"))
    timing = split_backlog(rows_of((JUNE, "A", 60_000)), contracts)
    timing.waterfall.loc[timing.waterfall["line"] == "month_03", "amount"] += 1
    found = timing_discrepancies(timing)
    assert [(d["figure"], d["difference"]) for d in found] == [
        ("amount", "-0.01"),
        ("within_12_months", "-0.01"),
    ]


def test_bad_inputs_are_named():
    contracts = contracts_of(("A", "2024-07-01", "2024-12-31"))
    with pytest.raises(UnknownContractError, match="'GHOST'"):
        split_backlog(rows_of((JUNE, "GHOST", 1)), contracts)
    other_rows = RowContracts.of(rows_of((JUNE, "A", 1), (JUNE, "A", 2)), contracts)
    with pytest.raises(ValueError, match="other contract rows"):
        split_backlog(rows_of((JUNE, "A", 1)), other_rows)
    with pytest.raises(PlanError, match="amount"):
        split_backlog(rows_of((JUNE, "A", 1)), contracts, plan_of().drop(columns="amount"))
    huge = plan_of(
        ("A", "2024-07", 600_000_000_000_000_000), ("A", "2024-08", 600_000_000_000_000_000)
    )
    with pytest.raises(PlanError, match="'A'"):
        split_backlog(rows_of((JUNE, "A", 1)), contracts, huge)


# ---- an independent route: each row's schedule built month by month in plain Python ----


def _reference_schedule(month, amount, start, end, plan_lines):
    """(offsets → cents, kind, plan report action) for one contract row, following the rules
    one by one."""
    schedule, kind = _reference_parts(month, amount, start, end, plan_lines)
    if amount <= 0 or not plan_lines:
        return schedule, kind, None
    after = [cents for period, cents in plan_lines if period > month]
    usable = after and sum(after) > 0 and min(after) >= 0
    if not usable:
        return schedule, kind, "not_used"
    return schedule, kind, "scaled" if sum(after) != amount else None


def _reference_parts(month, amount, start, end, plan_lines):
    if amount <= 0:
        return {}, "over" if amount < 0 else "none"
    after = [(period - month, cents) for period, cents in plan_lines if period > month]
    total = sum(cents for _, cents in after)
    if after and total > 0 and all(cents >= 0 for _, cents in after):
        floors = [amount * cents // total for _, cents in after]
        remainders = [amount * cents % total for _, cents in after]
        order = sorted(range(len(after)), key=lambda i: (-remainders[i], i))
        bonus = set(order[: amount - sum(floors)])
        schedule = {}
        for i, (offset, _) in enumerate(after):
            schedule[offset] = schedule.get(offset, 0) + floors[i] + (i in bonus)
        return schedule, "dated"
    if end is None:
        return {}, "undated"
    first = max(month + 1, start if start is not None else month + 1)
    if end <= month:
        return {1: amount}, "dated"
    if end < first:
        return {}, "undated"
    months = list(range(first, end + 1))
    schedule = {}
    for i, due in enumerate(months):  # cent by cent: the first B % n months get one more
        schedule[due - month] = amount // len(months) + (1 if i < amount % len(months) else 0)
    return schedule, "dated"


def _mid_month(month):
    return None if month is None else f"{month_label(month)}-15"


def _line(offset):
    if offset <= 12:
        return f"month_{offset:02d}"
    return "months_13_24" if offset <= 24 else "months_25_36" if offset <= 36 else "after_36_months"


def _random_case(rng):
    months = [parse_month("2024-01") + k for k in range(3)]
    specs, plan, rows = [], [], []
    for n in range(60):
        cid = f"K{n:03d}"
        start = (
            None
            if rng.random() < 0.2
            else int(rng.integers(parse_month("2022-01"), parse_month("2026-01")))
        )
        end = (
            None
            if rng.random() < 0.15
            else int(rng.integers(parse_month("2023-06"), parse_month("2029-01")))
        )
        specs.append((cid, _mid_month(start), _mid_month(end)))
        if rng.random() < 0.4:
            for _ in range(int(rng.integers(0, 6))):
                cents = (
                    int(rng.integers(-2_000, 90_000))
                    if rng.random() < 0.1
                    else int(rng.integers(0, 90_000))
                )
                plan.append(
                    (cid, month_label(int(rng.integers(months[0] - 2, months[0] + 50))), cents)
                )
        for month in months:
            if rng.random() < 0.8:
                amount = int(rng.integers(-50_000, 5_000_000)) if rng.random() < 0.9 else 0
                rows.append((month_label(month), cid, amount))
    plan.append(("GHOST", month_label(months[0] + 1), 1))  # no such contract: left out
    return contracts_of(*specs), rows_of(*rows), plan_of(*plan), months


@pytest.mark.parametrize("seed", range(8))
def test_random_contracts_agree_with_a_month_by_month_schedule(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    contracts, rows, plan, months = _random_case(rng)
    if seed >= 4:  # many small chunks, and the contracts looked up once beforehand
        monkeypatch.setattr(timing_module, "_CHUNK_ROWS", 17)
        contracts_given = RowContracts.of(rows, contracts)
    else:
        contracts_given = contracts
    timing = split_backlog(rows, contracts_given, plan if seed % 2 else None)
    reported = set()
    terms = contracts.set_index("contract_id")
    lines_of = {
        cid: list(zip(g["period"], g["amount"], strict=True))
        for cid, g in plan.groupby("contract_id")
    }
    waterfall = {month: dict.fromkeys(WATERFALL_LINES, 0) for month in months}
    for row, got in zip(rows.itertuples(), timing.rows.itertuples(), strict=True):
        start, end = terms.loc[row.contract_id, ["start_date", "end_date"]]
        schedule, kind, action = _reference_schedule(
            row.period,
            row.closing,
            None if pd.isna(start) else parse_month(start.strftime("%Y-%m")),
            None if pd.isna(end) else parse_month(end.strftime("%Y-%m")),
            lines_of.get(row.contract_id, []) if seed % 2 else [],
        )
        if action:
            reported.add((row.period, row.contract_id, action))
        within = sum(c for k, c in schedule.items() if k <= 12)
        after = sum(c for k, c in schedule.items() if k > 12)
        undated = row.closing if kind == "undated" else 0
        over = row.closing if kind == "over" else 0
        assert (got.within_12_months, got.after_12_months, got.undated, got.over_recognized) == (
            within,
            after,
            undated,
            over,
        ), row
        lines = waterfall[row.period]
        for offset, cents in schedule.items():
            lines[_line(offset)] += cents
        lines["undated"] += undated
        lines["over_recognized"] += over
    for month in months:
        assert waterfall_of(timing, month_label(month)) == waterfall[month]
        assert sum(waterfall[month].values()) == int(
            rows.loc[rows["period"] == month, "closing"].sum()
        )
    assert timing.plan_lines_without_contract == (1 if seed % 2 else 0)  # GHOST's line
    report = timing.plan_report
    assert set(zip(report["period"], report["contract_id"], report["action"], strict=True)) == (
        reported
    )
    assert len(report) == len(reported)
    assert timing_discrepancies(timing) == []


def test_both_orderings_of_remainders_agree():
    # The packed single-key sort (totals small enough) and the two-key sort (any total)
    # must order entries identically: by row, remainder descending, then entry.
    rng = np.random.default_rng(3)
    row = np.sort(rng.integers(0, 50, 2_000))
    remainder = rng.integers(0, 20, 2_000)  # many equal remainders: ties to the earlier entry
    packed = _by_row_then_remainder(row, remainder, 20)
    two_keys = _by_row_then_remainder(row, remainder, 2**62)
    expected = sorted(range(2_000), key=lambda i: (row[i], -remainder[i], i))
    assert packed.tolist() == expected
    assert two_keys.tolist() == expected
