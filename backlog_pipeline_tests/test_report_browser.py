"""The board pack as a reader sees it: opened in headless Chromium, read from the drawn page.

Every assertion reads the rendered page (the drawn SVG elements, their geometry and the
text the browser lays out), never the HTML source. The browser is Debian's ``chromium``
driven by Playwright; ``.ci/run`` installs it. Without one the tests are skipped locally
and fail in CI.
"""

from dataclasses import dataclass, field, replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from backlog_pipeline.report import MonthPack, VersionInfo, write_month_pack, write_trend_report
from backlog_pipeline_tests.board_pack_samples import demo_flows, month_pack, trend_pack

pytestmark = pytest.mark.slow

BARS = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")
# The demo's published 2025-06 flow, formatted by hand.
JUNE_LABELS = {
    "opening": "USD 3,964,861.75",
    "new_bookings": "USD 432,000.00",
    "converted": "USD 414,933.35",
    "lost": "USD 26,401.00",
    "increases": "USD 15,660.00",
    "decreases": "USD 24,288.00",
    "closing": "USD 3,946,899.40",
}
JUNE_VALUES = {
    "opening": 3964861.75, "new_bookings": 432000.00, "converted": 414933.35, "lost": 26401.00,
    "increases": 15660.00, "decreases": 24288.00, "closing": 3946899.40,
}  # fmt: skip


@dataclass
class OpenedPage:
    page: object
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_page(browser, path: Path) -> OpenedPage:
    """Open a generated file, recording every request and every console or page error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = OpenedPage(context.new_page())
    page = opened.page
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.goto(path.as_uri(), wait_until="load")
    # Rendered: fonts settled and a closing bar (the bridge's, or a month's in the trend) laid
    # out with a size.
    page.wait_for_function("document.fonts.status === 'loaded'")
    page.locator("#bridge-bar-closing path, [id^='history-closing-'] path").first.wait_for()
    return opened


def drawn_text(page, selector: str) -> str:
    """The text of a drawn SVG label, after checking the browser laid it out with a size."""
    label = page.locator(selector)
    assert label.is_visible(), selector
    return label.evaluate(
        """element => {
            const box = element.getBBox();
            if (!(box.width > 0 && box.height > 0)) throw new Error("label not laid out");
            return element.textContent.trim();
        }"""
    )


def bar_heights(page, keys: tuple[str, ...]) -> dict[str, float]:
    """Each bar's drawn height, from the browser's geometry of its SVG path."""
    return {
        key: page.locator(f"#bridge-bar-{key} path").evaluate("element => element.getBBox().height")
        for key in keys
    }


def test_the_bridge_bars_carry_the_published_figures(browser, tmp_path):
    opened = open_page(browser, write_month_pack(month_pack(), tmp_path)[0])
    page = opened.page
    labels = {key: drawn_text(page, f"#bridge-label-{key}") for key in BARS}
    assert labels == JUNE_LABELS
    heights = bar_heights(page, BARS)
    # Taller bar for the larger figure: the order of heights is the order of the figures.
    assert sorted(BARS, key=heights.get) == sorted(BARS, key=JUNE_VALUES.get)
    # And in proportion: pixels per currency unit are the same for every bar (the y axis
    # is linear from 0), to within a hundredth of a pixel on the smallest bar.
    scale = heights["opening"] / JUNE_VALUES["opening"]
    for key in BARS:
        assert heights[key] == pytest.approx(JUNE_VALUES[key] * scale, abs=0.01), key
    assert page.locator("#bridge-bar-fx_revaluation").count() == 0  # one currency: no FX bar
    assert opened.requests == [page.url]  # the file itself, nothing else
    assert opened.errors == []


def test_the_cancellation_bar_is_drawn_at_zero(browser, tmp_path):
    quiet = MonthPack("USD", demo_flows()["2024-06"], VersionInfo(1, "run-quiet"))
    page = open_page(browser, write_month_pack(quiet, tmp_path)[0]).page
    lost = page.locator("#bridge-bar-lost path")
    assert lost.count() == 1
    assert lost.evaluate("element => element.getBBox().height") == 0
    # Flat but visible: a stroked line as wide as the other bars.
    assert lost.evaluate("element => getComputedStyle(element).strokeWidth") not in ("0", "0px")
    width = lost.evaluate("element => element.getBBox().width")
    assert width == pytest.approx(
        page.locator("#bridge-bar-opening path").evaluate("element => element.getBBox().width")
    )
    assert drawn_text(page, "#bridge-label-lost") == "USD 0.00"
    assert drawn_text(page, "#bridge-label-closing") == "USD 1,960,391.99"


def test_fx_revaluation_has_its_own_bar(browser, tmp_path):
    # A 1,250.00 loss on revaluation: 3,946,899.40 − 1,250.00 = 3,945,649.40 closing and
    # 3,945,649.40 − 3,964,861.75 = −19,212.35 net change.
    flow = replace(
        demo_flows()["2025-06"],
        fx_revaluation=D("-1250.00"),
        closing=D("3945649.40"),
        net_change=D("-19212.35"),
    )
    page = open_page(
        browser, write_month_pack(MonthPack("USD", flow, VersionInfo(1, "r")), tmp_path)[0]
    ).page
    assert drawn_text(page, "#bridge-label-fx_revaluation") == "USD -1,250.00"
    assert drawn_text(page, "#bridge-label-closing") == "USD 3,945,649.40"
    heights = bar_heights(page, ("fx_revaluation", "opening"))
    # 1,250.00 against 3,964,861.75 on the same linear scale.
    expected = heights["opening"] * 1250.00 / 3964861.75
    assert heights["fx_revaluation"] == pytest.approx(expected, abs=0.01)


def test_every_part_of_the_month_is_drawn_and_labelled(browser, tmp_path):
    opened = open_page(browser, write_month_pack(month_pack(), tmp_path)[0])
    page = opened.page
    assert page.locator("#pack-title").inner_text() == "Bookings backlog, June 2025"
    assert page.locator("#tile-closing .value").inner_text() == "USD 3,946,899.40"
    # Trend: 18 demo months (January 2024 to June 2025), the last three split by timing.
    assert page.locator("[id^='trend-closing-'] path").count() == 15
    assert page.locator("[id^='trend-within-'] path").count() == 3
    assert drawn_text(page, "#trend-label-2025-06") == "USD 3,946,899.40"
    assert drawn_text(page, "#timing-2026-06-label") == "143,138.95"
    assert drawn_text(page, "#timing-13-24-label") == "1,120,000.00"
    assert drawn_text(page, "#coverage-budget-label") == "USD 4,800,000.00"
    assert drawn_text(page, "#customer-1-label") == "USD 220,000.00 · 5.57 %"
    ratios = page.get_by_role("row", name="Book-to-bill (new ÷ converted)")
    assert ratios.get_by_role("cell").all_inner_texts()[1:] == ["1.0411×", "1.0745×"]
    check = page.get_by_role("row", name="no_phantom_backlog")
    assert check.get_by_role("cell").all_inner_texts()[1:] == ["WARN", "Failed"]
    assert opened.errors == [] and opened.requests == [page.url]


def test_a_restated_month_shows_its_new_version(browser, tmp_path):
    restated = month_pack(version=VersionInfo(2, "run-restated-7f3a", locked=True, restates=1))
    page = open_page(browser, write_month_pack(restated, tmp_path)[0]).page
    badge = page.locator("#version-restated")
    assert badge.is_visible()
    assert badge.inner_text() == "Restated: version 2 replaces version 1"
    assert page.locator("#version-locked").inner_text() == "Locked"
    version = page.get_by_role("row", name="Version")
    assert version.get_by_role("cell").all_inner_texts() == ["Version", "2 (restates version 1)"]
    assert page.locator("#version-run-id").inner_text() == "run-restated-7f3a"


def test_the_trend_report_opens_offline_with_every_month(browser, tmp_path):
    opened = open_page(browser, write_trend_report(trend_pack(), tmp_path)[0])
    page = opened.page
    assert page.locator("[id^='history-closing-'] path").count() == 21  # 24 − 3 split
    assert drawn_text(page, "#history-label-2025-12") == "USD 4,123,609.33"
    assert page.locator("#flow-lost").count() == 1
    assert page.locator("#trend-table tbody tr").count() == 24
    assert opened.errors == [] and opened.requests == [page.url]
