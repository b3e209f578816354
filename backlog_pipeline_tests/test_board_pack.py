"""The board pack of a real close: written by the ``report/board_pack`` asset, read in Chromium.

Each test closes the hand dataset of ``support`` (its figures worked out by hand there), then
reads the published figures back from the warehouse with plain SQL, independently of the
pack's own reader, and compares them with what the browser drew.
"""

from decimal import Decimal

import pytest
import sqlalchemy as sa
from PIL import Image

from backlog_pipeline.cli import close_report
from backlog_pipeline.periods import parse_month
from backlog_pipeline.warehouse.locks import lock_month
from backlog_pipeline_tests.support import (
    AFTER_LATE_LINE,
    EXPECTED,
    add_late_line,
    build,
    close,
    money,
    partition_key,
    read,
)
from backlog_pipeline_tests.test_report_browser import (
    BARS,
    bar_heights,
    drawn_text,
    open_page,
)

pytestmark = pytest.mark.slow


def published_flow(url: str, period: str) -> dict[str, Decimal]:
    """The month's published figures, by plain SQL (exact text on SQLite)."""
    frame = read(url, f"SELECT * FROM backlog_flow WHERE period = '{period}'")
    assert len(frame) == 1, period
    return {key: money(frame.iloc[0][key]) for key in BARS}


def report_metadata(result, month: str) -> dict[str, object]:
    """The board pack's materialization metadata for ``month`` in that run."""
    found = [
        event.materialization.metadata
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
        and event.asset_key.to_user_string() == "report/board_pack"
        and event.partition == partition_key(month)
    ]
    assert len(found) == 1, month
    return {name: value.value for name, value in found[0].items()}


def trend_rows(page) -> list[list[str]]:
    rows = page.locator("#trend-table tbody tr")
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


def test_a_range_close_writes_each_month_and_refreshes_the_trend_in_one_run(
    tmp_path, monkeypatch, browser
):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    output = tmp_path / "data" / "output"
    assert close(defs, "2024-01", "2024-03").success
    trend = output / "backlog_trend.html"
    first = open_page(browser, trend).page
    assert [row[0] for row in trend_rows(first)] == ["January 2024", "February 2024", "March 2024"]

    result = close(defs, "2024-04", "2024-06")  # one run over three months
    assert result.success
    # One run, one step of the pack for the three months.
    steps = [
        e.step_key for e in result.all_events if e.is_step_success and "board_pack" in e.step_key
    ]
    assert steps == ["report__board_pack"]
    for month in ("2024-04", "2024-05", "2024-06"):
        metadata = report_metadata(result, month)
        assert metadata["board_pack"] == str(output / month / "board_pack.html")
        assert metadata["version"] == 1 and metadata["publishing_run"] == result.run_id
    # The trend, refreshed once by that run, now has the six months, June's closing last.
    opened = open_page(browser, trend)
    rows = trend_rows(opened.page)
    assert [row[0] for row in rows] == [
        "January 2024", "February 2024", "March 2024", "April 2024", "May 2024", "June 2024",
    ]  # fmt: skip
    june = published_flow(url, "2024-06")
    assert f"{june['closing']:,.2f}" in rows[-1]
    assert opened.errors == [] and opened.requests == [opened.page.url]


def test_the_bridge_of_a_real_close_carries_the_published_figures(tmp_path, monkeypatch, browser):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    result = close(defs, "2024-01", "2024-06")
    assert result.success
    folder = tmp_path / "data" / "output" / "2024-04"
    opened = open_page(browser, folder / "board_pack.html")
    page = opened.page
    figures = published_flow(url, "2024-04")
    # By hand (support.EXPECTED): C1 terminated in April, 8,000.00 lost.
    assert figures["lost"] == Decimal("8000.00") == money(EXPECTED["2024-04"][3])
    labels = {key: drawn_text(page, f"#bridge-label-{key}") for key in BARS}
    assert labels == {key: f"USD {figures[key]:,.2f}" for key in BARS}
    heights = bar_heights(page, BARS)
    scale = heights["opening"] / float(figures["opening"])
    for key in BARS:
        assert heights[key] == pytest.approx(float(figures[key]) * scale, abs=0.01), key
    assert page.locator("#pack-title").inner_text() == "Bookings backlog, April 2024"
    run = page.get_by_role("row", name="Run id")
    assert run.get_by_role("cell").all_inner_texts() == ["Run id", result.run_id]
    check = page.get_by_role("row", name="flow_reconciles")
    assert check.get_by_role("cell").all_inner_texts()[1:] == ["ERROR", "Passed"]
    assert page.locator("#version-open").inner_text() == "Open (not locked)"
    assert opened.errors == [] and opened.requests == [page.url]
    # The PNG beside it is a real image: 11 × 4.8 inches at 150 dpi.
    with Image.open(folder / "board_pack_bridge.png") as image:
        image.load()
        assert (image.format, image.size) == ("PNG", (1650, 720))
        assert len(image.getcolors(maxcolors=1_000_000)) > 10
    # The UI's Markdown embeds the same bridge as a PNG and lists the published figures.
    bridge = report_metadata(result, "2024-04")["bridge"]
    assert f"| − Cancellations | {figures['lost']:,.2f} |" in bridge
    assert "data:image/png;base64," in bridge


def test_a_restated_month_shows_its_new_version_and_a_locked_one_says_so(
    tmp_path, monkeypatch, browser
):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    first = close(defs, "2024-01", "2024-06")
    assert first.success
    engine = sa.create_engine(url)
    lock_month(engine, parse_month("2024-02"), "Jane Controller", "February signed off")
    engine.dispose()
    add_late_line(tmp_path)  # 100.00 more converted in April: April on restated
    second = close(defs, "2024-02", "2024-06")
    assert second.success
    output = tmp_path / "data" / "output"

    april = open_page(browser, output / "2024-04" / "board_pack.html").page
    assert april.locator("#version-restated").inner_text() == (
        "Restated: version 2 replaces version 1"
    )
    version = april.get_by_role("row", name="Version")
    assert version.get_by_role("cell").all_inner_texts() == ["Version", "2 (restates version 1)"]
    assert april.locator("#version-run-id").inner_text() == second.run_id
    closing = published_flow(url, "2024-04")["closing"]
    assert closing == money(AFTER_LATE_LINE["2024-04"])  # 3,400.25, by hand in support
    assert drawn_text(april, "#bridge-label-closing") == f"USD {closing:,.2f}"

    february = open_page(browser, output / "2024-02" / "board_pack.html").page
    assert february.locator("#version-locked").inner_text() == "Locked"
    assert february.locator("#version-restated").count() == 0
    assert february.locator("#version-run-id").inner_text() == first.run_id  # unchanged
    assert report_metadata(second, "2024-02")["locked"] is True


def test_a_pack_that_cannot_be_written_fails_the_run_after_publication_naming_it(
    tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(tmp_path, monkeypatch, url)
    blocked = tmp_path / "data" / "output" / "2024-02" / "board_pack.html"
    blocked.mkdir(parents=True)  # a folder where the page goes: the write fails
    result = close(defs, "2024-01", "2024-02")
    assert not result.success
    assert close_report.failed_steps(result) == {close_report.BOARD_PACK_STEP}
    (message,) = close_report.failures(result)
    assert message.startswith(
        f"report__board_pack: The board pack could not be written to {blocked}"
    )
    assert "The warehouse tables ARE published" in message
    # Published and documented all the same: the pack comes after, and says so.
    assert set(read(url, "SELECT period FROM backlog_flow")["period"]) == {"2024-01", "2024-02"}
    assert (tmp_path / "data" / "output" / "2024-02" / "bookings_backlog_total.json").is_file()
