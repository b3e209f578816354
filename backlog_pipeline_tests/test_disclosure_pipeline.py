"""The RPO disclosure end to end: a close publishes it beside the flow, in its transaction
and version, and the documents read it back. Figures by hand: see ``disclosure_company``."""

from decimal import Decimal

import pandas as pd
import pytest
import simplejson

from backlog_pipeline.accounting.expedients import SHORT_CONTRACT_REASON
from backlog_pipeline_tests import disclosure_company as company
from backlog_pipeline_tests.support import (
    build,
    check_evaluations,
    check_results,
    close,
    money,
    partition_key,
    read,
    table,
)

pytestmark = pytest.mark.slow

D = Decimal
NEW_CHECKS = (
    "contract_timing_sums_to_month", "waterfall_sums_to_disclosed", "disclosure_matches_published",
    "disclosed_plus_excluded_is_closing", "slices_sum_to_flow", "revenue_plan_matches_backlog",
)  # fmt: skip
# June's waterfall: W 1,000.00 a month; P 4,000.00 then 2,000.00 by the plan; S2 100.00 a
# month from July to January; W's 6,000.00 in 13–24; U undated; N over-recognized.
JUNE_WATERFALL = [5100, 3100, *[1100] * 5, *[1000] * 5, 6000, 0, 0, 5000, -200]


def _close_company(tmp_path, monkeypatch, warehouse_url):
    monkeypatch.setenv("BACKLOG_ERP_PLAN_TABLE", "revenue_plan")
    monkeypatch.setenv("BACKLOG_REVENUE_BUDGET_CSV", str(company.write_budget(tmp_path)))
    monkeypatch.setenv("BACKLOG_RPO_SHORT_CONTRACT_EXPEDIENT", "true")
    defs = build(
        tmp_path, monkeypatch, warehouse_url,
        contracts=company.CONTRACTS, changes=[], recognition=company.RECOGNITION,
    )  # fmt: skip
    company.write_plan(tmp_path / "sources" / "erp.sqlite")
    return defs, close(defs, "2024-01", "2024-06")


def _june(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["period"] == "2024-06"]


def test_a_close_publishes_the_hand_computed_disclosure(tmp_path, monkeypatch, warehouse_url):
    _, result = _close_company(tmp_path, monkeypatch, warehouse_url)
    assert result.success
    evaluations = check_results(result)
    assert all(evaluations[name].passed for name in NEW_CHECKS)

    june = _june(table(warehouse_url, "rpo_disclosure")).iloc[0]
    figures = ("closing", "excluded", "disclosed", "within_12_months", "after_12_months",
               "undated", "over_recognized")  # fmt: skip
    assert [money(june[f]) for f in figures] == [
        D("32100"), D("2600"), D("29500"), D("18700"), D("6000"), D("5000"), D("-200")
    ]  # fmt: skip
    assert (june["currency"], june["version"], june["duration_from"]) == ("USD", 1, "start")
    assert bool(june["plan_used"]) and bool(june["short_contract_expedient"])

    timing = _june(table(warehouse_url, "rpo_contract_timing")).set_index("contract_id")
    expected = {  # within, after, undated, over-recognized, basis, excluded
        "W": ("12000", "6000", "0", "0", "straight_line", False),
        "P": ("6000", "0", "0", "0", "plan", False),  # straight line: 9 months, 4,000.02 within
        "U": ("0", "0", "5000", "0", "undated", False),
        "N": ("0", "0", "0", "-200", "over_recognized", False),
        "S1": ("600", "0", "0", "0", "straight_line", True),
        "S2": ("700", "0", "0", "0", "straight_line", False),
        "F": ("1090.92", "909.08", "0", "0", "straight_line", True),  # 2,000.00 / 22 months
    }
    for contract_id, (*parts, basis, excluded) in expected.items():
        row = timing.loc[contract_id]
        names = ("within_12_months", "after_12_months", "undated", "over_recognized")
        assert [money(row[p]) for p in names] == [money(p) for p in parts], contract_id
        assert (row["basis"], bool(row["excluded"])) == (basis, excluded), contract_id

    waterfall = _june(table(warehouse_url, "rpo_timing_waterfall")).sort_values("position")
    assert [money(v) for v in waterfall["amount"]] == [money(v) for v in JUNE_WATERFALL]
    assert (
        waterfall["due_month"].iloc[0] == "2024-07" and waterfall["due_month"].iloc[11] == "2025-06"
    )

    register = _june(table(warehouse_url, "rpo_exclusion_register")).set_index("contract_id")
    assert {c: (money(r["amount"]), r["reason"]) for c, r in register.iterrows()} == {
        "F": (D("2000"), company.FLAG), "S1": (D("600"), SHORT_CONTRACT_REASON)
    }  # fmt: skip
    _assert_ratios_slices_aging(warehouse_url)
    _assert_documents(tmp_path / "data" / "output" / "2024-06")


def _assert_ratios_slices_aging(url: str) -> None:
    ratios = table(url, "backlog_ratios").set_index("period")
    june = ratios.loc["2024-06"]
    # 0 lost of 34,300.00 opening; 0 new for 2,200.00 converted; 32,100 × 3 / 6,600.
    assert money(june["cancellation_share_pct"]) == D("0.00")
    assert D(str(june["book_to_bill"])) == D("0") and june["months_of_revenue_months_used"] == 3
    assert D(str(june["months_of_revenue"])).quantize(D("0.0001")) == D("14.5909")
    # 32,100.00 and 20,390.92 (18,700 + S1's 600 + F's 1,090.92) over a 24,000.00 budget.
    assert money(june["budget_next_12_months"]) == D("24000")
    assert D(str(june["coverage"])).quantize(D("0.0001")) == D("1.3375")
    assert D(str(june["current_coverage"])).quantize(D("0.0001")) == D("0.8496")
    assert bool(june["visible_year"])
    assert (june["largest_customer_id"], money(june["largest_customer_share_pct"])) == (
        "CUST-W", D("56.07")  # 18,000 / 32,100
    )  # fmt: skip
    assert money(june["top_10_share_pct"]) == D("100.00")
    january = ratios.loc["2024-01"]  # a zero denominator: null with its reason, never 0
    assert pd.isna(january["cancellation_share_pct"])
    assert january["cancellation_share_reason"] == "the month opened with no backlog"
    assert january["coverage_reason"].startswith("the budget has no figure for 2024-02")
    slices = _june(table(url, "backlog_slices"))
    products = slices[slices["dimension"] == "product"].set_index("slice")["closing"]
    assert {k: money(v) for k, v in products.items()} == {
        "(none)": D("8100"), "Platform": D("18000"), "Services": D("6000")
    }  # fmt: skip
    aging = _june(table(url, "backlog_aging"))
    assert list(zip(aging["label"], map(money, aging["closing"]), strict=True)) == [
        ("2024", D("32100"))
    ]


def _assert_documents(folder) -> None:
    total = simplejson.loads((folder / "bookings_backlog_total.json").read_text(), use_decimal=True)
    rpo = total["measurement"]["rpo"]
    assert (rpo["disclosed"], rpo["within12Months"], rpo["after12Months"]) == (
        D("29500.00"), D("18700.00"), D("6000.00")
    )  # fmt: skip
    document = simplejson.loads((folder / "rpo_disclosure.json").read_text(), use_decimal=True)
    assert document["disclosed"] == D("29500.00") and len(document["waterfall"]) == 17
    note = (folder / "rpo_note_us_gaap.md").read_text()
    assert "USD 29,500.00" in note and "63.39%" in note  # 18,700 / 29,500
    assert "USD 600.00" in note  # the short contract left out
    ifrs = (folder / "rpo_note_ifrs.txt").read_text()
    assert "IFRS 15.121(a)" in ifrs and "50-14A" not in ifrs


def test_a_changed_plan_restates_the_timing_as_a_new_version_and_a_lock_holds(
    tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs, result = _close_company(tmp_path, monkeypatch, url)
    assert result.success
    # A corrected plan: 3,000.00 in July and 2,000.00 in August, 1,000.00 short of every
    # month's backlog: scaled to it (June: 6,000 × 3/5 = 3,600.00, × 2/5 = 2,400.00), warned.
    plan = [line for line in company.PLAN if line[1] <= "2024-06"]
    company.write_plan(
        tmp_path / "sources" / "erp.sqlite",
        [*plan, ("P", "2024-07", "3000.00"), ("P", "2024-08", "2000.00")],
    )
    restated = close(defs, "2024-01", "2024-06")
    assert restated.success
    evaluations = check_results(restated)
    warned = evaluations["disclosure_matches_published"]
    assert not warned.passed and warned.severity.value == "WARN"
    # Each of the six months moved, and each month's own result says so (one each).
    moved = [
        e for e in check_evaluations(restated) if e.check_name == "disclosure_matches_published"
    ]
    assert sorted(e.partition for e in moved) == [partition_key(f"2024-0{m}") for m in range(1, 7)]
    assert all(not e.passed and e.metadata["discrepancies"].value == 1 for e in moved)
    assert evaluations["matches_published"].passed  # the flow did not move
    scaled = evaluations["revenue_plan_matches_backlog"]
    assert not scaled.passed and scaled.severity.value == "WARN"
    evidence = read(
        url, "SELECT period, contract_id, amount, reason FROM backlog_exceptions "
        "WHERE check_name = 'revenue_plan_matches_backlog' ORDER BY period",
    )  # fmt: skip
    assert len(evidence) == 6 and set(evidence["contract_id"]) == {"P"}
    assert money(evidence["amount"].iloc[-1]) == D("-1000")  # plan − backlog in June
    assert "plan 5000.00 vs backlog 6000.00" in evidence["reason"].iloc[-1]
    versions = read(url, "SELECT period, version FROM rpo_disclosure ORDER BY period")
    assert versions["version"].tolist() == [2] * 6  # every month's plan lines after it moved
    flows = read(url, "SELECT period, version, closing FROM publication_versions")
    assert len(flows) == 12 and set(flows["version"]) == {1, 2}
    june = read(url, "SELECT line, amount FROM rpo_timing_waterfall WHERE period = '2024-06'")
    lines = dict(zip(june["line"], map(money, june["amount"]), strict=True))
    assert (lines["month_01"], lines["month_02"]) == (D("4700"), D("3500"))
    before = read(
        url, "SELECT amount FROM rpo_timing_waterfall_history WHERE period = '2024-06' "
        "AND version = 1 AND line = 'month_01'",
    )  # fmt: skip
    assert before["amount"].map(money).tolist() == [D("5100")]

    from backlog_pipeline.periods import parse_month
    from backlog_pipeline.warehouse.engine import create_warehouse_engine
    from backlog_pipeline.warehouse.locks import lock_month

    engine = create_warehouse_engine(url)
    lock_month(engine, parse_month("2024-06"), "Jane Roe (CFO)", "June signed off")
    engine.dispose()
    company.write_plan(tmp_path / "sources" / "erp.sqlite", company.PLAN)
    refused = close(defs, "2024-06")
    assert not refused.success  # June's timing would change: refused, before publication
    blocked = check_results(refused)["disclosure_matches_published"]
    assert blocked.severity.value == "ERROR" and "locked by Jane Roe (CFO)" in (
        blocked.metadata["summary"].value
    )
    june = read(
        url, "SELECT version, within_12_months FROM rpo_disclosure WHERE period = '2024-06'"
    )
    assert june["version"].tolist() == [2]


def test_a_first_release_warehouse_gets_the_disclosure_added_to_its_versions(
    tmp_path, monkeypatch, warehouse_url
):
    from backlog_pipeline_tests import test_currency_migration as fixture
    from backlog_pipeline_tests.first_release import write_first_release_warehouse

    write_first_release_warehouse(warehouse_url)
    defs = build(
        tmp_path, monkeypatch, warehouse_url,
        contracts=fixture.CONTRACTS, changes=fixture.CHANGES, recognition=fixture.RECOGNITION,
    )  # fmt: skip
    result = close(defs, "2024-01", "2024-03")
    assert result.success  # January is locked: its flow is unchanged, its disclosure added
    versions = read(warehouse_url, "SELECT period, version, disclosure_hash FROM "
                    "publication_versions ORDER BY period, version")  # fmt: skip
    assert versions[["period", "version"]].values.tolist() == [
        ["2024-01", 1], ["2024-02", 1], ["2024-03", 1], ["2024-03", 2]
    ]  # fmt: skip
    # The current versions carry the disclosure's digest; March's version 1 was replaced.
    assert versions["disclosure_hash"].isna().tolist() == [False, False, True, False]
    rpo = table(warehouse_url, "rpo_disclosure")
    assert rpo["version"].tolist() == [1, 1, 2]
    # No end dates in the first release's contracts: every closing is undated.
    assert [money(v) for v in rpo["undated"]] == [D("11000"), D("12200.25"), D("12650.25")]
    assert [money(v) for v in rpo["disclosed"]] == [money(v) for v in rpo["closing"]]
    log = read(warehouse_url, "SELECT period, action, reason FROM period_lock_log "
               "WHERE action = 'added'")  # fmt: skip
    assert log["period"].tolist() == ["2024-01"]
    assert log["reason"].iloc[0].startswith("RPO disclosure tables added to version 1 by run")

    assert close(defs, "2024-01", "2024-03").success  # a rerun adds nothing, logs nothing
    assert len(read(warehouse_url, "SELECT * FROM period_lock_log WHERE action = 'added'")) == 1
    assert len(table(warehouse_url, "rpo_disclosure_history")) == 0
