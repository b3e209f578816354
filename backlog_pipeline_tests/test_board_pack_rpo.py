"""The board pack of a close that publishes the RPO disclosure: the timing waterfall, the
split trend, ratios with their previous values, coverage and top customers, drawn in Chromium.

The close is issue 14's hand-computed company (``disclosure_company``); every expected figure
is read back from the warehouse with plain SQL, independently of the pack's reader, and June
2024's are also written out by hand there.
"""

from decimal import Decimal

import pytest

from backlog_pipeline_tests import disclosure_company as company
from backlog_pipeline_tests.support import build, close, money, read
from backlog_pipeline_tests.test_report_browser import drawn_text, open_page

pytestmark = pytest.mark.slow


def _rows(url: str, query: str) -> list[dict]:
    return read(url, query).to_dict("records")


def test_the_pack_draws_the_published_disclosure(tmp_path, monkeypatch, browser):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    monkeypatch.setenv("BACKLOG_ERP_PLAN_TABLE", "revenue_plan")
    monkeypatch.setenv("BACKLOG_REVENUE_BUDGET_CSV", str(company.write_budget(tmp_path)))
    monkeypatch.setenv("BACKLOG_RPO_SHORT_CONTRACT_EXPEDIENT", "true")
    defs = build(
        tmp_path, monkeypatch, url,
        contracts=company.CONTRACTS, changes=[], recognition=company.RECOGNITION,
    )  # fmt: skip
    company.write_plan(tmp_path / "sources" / "erp.sqlite")
    assert close(defs, "2024-01", "2024-06").success
    opened = open_page(browser, tmp_path / "data" / "output" / "2024-06" / "board_pack.html")
    page = opened.page

    # The waterfall: each line's drawn label is its published amount (by hand: W 1,000.00 a
    # month, P 4,000.00 then 2,000.00 by its plan, S2 100.00 a month to January).
    lines = {
        row["line"]: (row["due_month"], money(row["amount"]))
        for row in _rows(url, "SELECT * FROM rpo_timing_waterfall WHERE period = '2024-06'")
    }
    assert lines["month_01"] == ("2024-07", Decimal("5100.00"))
    for line, (due, amount) in lines.items():
        gid = {
            "months_13_24": "timing-13-24", "months_25_36": "timing-25-36",
            "after_36_months": "timing-after-36", "undated": "timing-undated",
            "over_recognized": "timing-not-spread",
        }.get(line, f"timing-{due}")  # fmt: skip
        if line == "over_recognized" and amount == 0:
            continue
        assert drawn_text(page, f"#{gid}-label") == f"{amount:,.2f}", line
    assert drawn_text(page, "#timing-not-spread-label") == "-200.00"  # N, over-recognized

    # The trend splits June's closing as rpo_disclosure publishes it.
    split = _rows(url, "SELECT * FROM rpo_disclosure WHERE period = '2024-06'")[0]
    assert money(split["within_12_months"]) == Decimal("18700.00")
    assert page.locator("#trend-within-2024-06 path").count() == 1
    tile = page.locator("#tile-within-12 .value").inner_text()
    assert tile == f"USD {money(split['within_12_months']):,.2f}"

    # Ratios beside the previous month's, as published.
    ratios = {
        row["period"]: row
        for row in _rows(url, "SELECT * FROM backlog_ratios WHERE period IN ('2024-05', '2024-06')")
    }
    cells = page.get_by_role("row", name="Months of revenue in backlog").get_by_role("cell")
    assert cells.all_inner_texts()[1:] == [
        f"{Decimal(str(ratios[p]['months_of_revenue'])):,} months" for p in ("2024-06", "2024-05")
    ]
    budget = money(ratios["2024-06"]["budget_next_12_months"])
    assert drawn_text(page, "#coverage-budget-label") == f"USD {budget:,.2f}" == "USD 24,000.00"

    # The largest customer carries the published largest share.
    largest = ratios["2024-06"]["largest_customer_id"]
    top = _rows(
        url,
        "SELECT slice, closing FROM backlog_slices WHERE period = '2024-06' "
        f"AND dimension = 'customer' AND slice = '{largest}'",
    )[0]
    share = Decimal(str(ratios["2024-06"]["largest_customer_share_pct"]))
    assert drawn_text(page, "#customer-1-label") == f"USD {money(top['closing']):,.2f} · {share} %"
    assert page.locator("#left-out").count() == 0  # nothing left out
    assert opened.errors == [] and opened.requests == [page.url]
