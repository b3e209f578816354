"""The board pack without a browser: its inputs, its figures, its files and its UI preview.

The figures are the demo's published 2025-06 flow (see board_pack_samples); every expected
text below is written out by hand from those figures.
"""

import base64
import io
import re
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest
from PIL import Image

from backlog_pipeline.report import (
    ClosingPoint,
    MonthFlow,
    MonthPack,
    PackError,
    VersionInfo,
    bridge_markdown,
    write_month_pack,
    write_trend_report,
)
from backlog_pipeline.report.bridge import bridge_bars
from backlog_pipeline.report.formatting import money_text, month_name
from backlog_pipeline_tests.board_pack_samples import demo_flows, month_pack, trend_pack

JUNE = dict(
    opening=D("3964861.75"),
    new_bookings=D("432000.00"),
    converted=D("414933.35"),
    lost=D("26401.00"),
    increases=D("15660.00"),
    decreases=D("24288.00"),
    closing=D("3946899.40"),
    net_change=D("-17962.35"),
    net_change_pct=D("-0.45"),
)


def test_money_and_months_read_as_people_write_them():
    assert money_text(D("3946899.40"), "USD") == "USD 3,946,899.40"
    assert money_text(D("0.00"), "USD") == "USD 0.00"
    assert money_text(D("-17962.35"), "EUR") == "EUR -17,962.35"
    assert month_name("2025-06") == "June 2025"
    assert month_name("2024-12") == "December 2024"


def test_a_float_or_a_third_decimal_is_refused_naming_the_field():
    with pytest.raises(PackError, match="2025-06 converted must be a finite Decimal"):
        MonthFlow("2025-06", **{**JUNE, "converted": 414933.35})
    with pytest.raises(PackError, match=r"2025-06 lost = 26401.001 has more than two decimals"):
        MonthFlow("2025-06", **{**JUNE, "lost": D("26401.001")})
    with pytest.raises(PackError, match="YYYY-MM"):
        MonthFlow("2025-6", **JUNE)


def test_a_flow_that_does_not_reconcile_draws_no_bridge():
    # One cent more closing: 3,964,861.75 + 432,000.00 − 414,933.35 − 26,401.00 + 15,660.00
    # − 24,288.00 = 3,946,899.40, not 3,946,899.41.
    with pytest.raises(PackError, match=r"reach 3946899.40, closing is 3946899.41"):
        MonthFlow("2025-06", **{**JUNE, "closing": D("3946899.41")})


def test_a_flow_row_from_the_warehouse_becomes_a_month_flow():
    row = {"period": "2025-06", "currency": "USD", "version": 1, **JUNE}
    assert MonthFlow.from_row(row) == MonthFlow("2025-06", **JUNE)
    assert MonthFlow.from_row(row).fx_revaluation == D("0.00")
    # A float read back (a reader that lost the NUMERIC type) is refused, not drawn.
    with pytest.raises(PackError, match="2025-06 closing must be a finite Decimal"):
        MonthFlow.from_row({**row, "closing": 3946899.4})


def test_a_net_change_that_is_not_closing_less_opening_is_refused():
    # 3,946,899.40 − 3,964,861.75 = −17,962.35, not −17,962.53.
    with pytest.raises(PackError, match=r"net_change -17962\.53 is not closing"):
        MonthFlow("2025-06", **{**JUNE, "net_change": D("-17962.53")})


def test_bridge_bars_stand_where_the_published_figures_put_them():
    bars = bridge_bars(MonthFlow("2025-06", **JUNE))
    assert [bar.key for bar in bars] == [
        "opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing"
    ]  # fmt: skip
    assert [bar.amount for bar in bars] == [
        D("3964861.75"), D("432000.00"), D("414933.35"), D("26401.00"), D("15660.00"),
        D("24288.00"), D("3946899.40"),
    ]  # fmt: skip
    # New bookings float on the opening: from 3,964,861.75 up to 4,396,861.75; converted
    # then falls from there to 3,981,928.40.
    assert bars[1].bottom == pytest.approx(3964861.75)
    assert bars[1].top == pytest.approx(4396861.75)
    assert bars[2].bottom == pytest.approx(3981928.40)
    assert bars[2].top == pytest.approx(4396861.75)
    # Every movement ends where the closing bar stands.
    assert bars[-2].level_after == pytest.approx(3946899.40)
    assert bars[0].bottom == bars[-1].bottom == 0.0


def test_the_cancellation_bar_is_kept_at_zero_and_fx_only_when_there_is_some():
    quiet = demo_flows()["2024-06"]  # the demo's month without cancellations
    keys = [bar.key for bar in bridge_bars(quiet)]
    assert "lost" in keys and "fx_revaluation" not in keys
    lost = next(bar for bar in bridge_bars(quiet) if bar.key == "lost")
    assert (lost.amount, lost.height) == (D("0.00"), 0.0)
    # A 1,250.00 revaluation gain: closing 3,946,899.40 + 1,250.00 = 3,948,149.40.
    with_fx = MonthFlow(
        "2025-06",
        **{**JUNE, "closing": D("3948149.40"), "net_change": D("-16712.35")},
        fx_revaluation=D("1250.00"),
    )
    fx = [bar for bar in bridge_bars(with_fx) if bar.key == "fx_revaluation"]
    assert len(fx) == 1 and fx[0].amount == D("1250.00")


def test_the_month_pack_files_are_written_where_the_readme_says(tmp_path):
    written = write_month_pack(month_pack(), tmp_path)
    folder = tmp_path / "2025-06"
    assert written[0] == folder / "board_pack.html"
    assert sorted(path.name for path in written[1:]) == [
        "board_pack_bridge.png", "board_pack_coverage.png", "board_pack_customers.png",
        "board_pack_timing.png", "board_pack_trend.png",
    ]  # fmt: skip
    assert sorted(path.name for path in folder.iterdir()) == sorted(p.name for p in written)


def test_each_png_is_a_real_image_of_the_figure_size(tmp_path):
    written = {path.name: path for path in write_month_pack(month_pack(), tmp_path)}
    with Image.open(written["board_pack_bridge.png"]) as image:
        image.load()  # decodes every pixel: a truncated file fails here
        # The bridge is 11 × 4.8 inches at 150 dpi: 1650 × 720 pixels.
        assert (image.format, image.size) == ("PNG", (1650, 720))
        assert len(image.getcolors(maxcolors=1_000_000)) > 10  # drawn, not blank
    with Image.open(written["board_pack_timing.png"]) as image:
        assert image.size == (1650, 630)  # 11 × 4.2 inches at 150 dpi


def test_same_figures_give_the_same_bytes(tmp_path):
    first = write_month_pack(month_pack(), tmp_path / "one")
    second = write_month_pack(month_pack(), tmp_path / "two")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_parts_not_given_are_left_off_the_page(tmp_path):
    pack = MonthPack("USD", demo_flows()["2024-06"], VersionInfo(1, "run-1"))
    written = write_month_pack(pack, tmp_path)
    assert [path.name for path in written] == ["board_pack.html", "board_pack_bridge.png"]
    html = written[0].read_text(encoding="utf-8")
    for section in ('id="trend"', 'id="timing"', 'id="customers"', 'id="ratios"'):
        assert section not in html


def test_the_page_links_to_nothing_outside_itself(tmp_path):
    html = write_month_pack(month_pack(), tmp_path)[0].read_text(encoding="utf-8")
    assert "<script" not in html and "@import" not in html and "@font-face" not in html
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    # Matplotlib's SVG only points at its own definitions (#...) inside the page.
    assert references and all(reference.startswith("#") for reference in references)


def test_history_is_the_last_24_months_at_most():
    flows = demo_flows()
    points = tuple(ClosingPoint(period, flow.closing) for period, flow in flows.items())
    assert len(points) == 24
    MonthPack("USD", flows["2025-12"], VersionInfo(1, "r"), history=points)
    extra = (ClosingPoint("2023-12", D("0.00")), *points)
    with pytest.raises(PackError, match="at most the last 24 months"):
        MonthPack("USD", flows["2025-12"], VersionInfo(1, "r"), history=extra)


def test_the_trend_report_is_at_the_top_of_the_output_folder(tmp_path):
    written = write_trend_report(trend_pack(), tmp_path)
    assert [path.relative_to(tmp_path).as_posix() for path in written] == [
        "backlog_trend.html", "backlog_trend_closing.png", "backlog_trend_flow.png",
    ]  # fmt: skip
    html = written[0].read_text(encoding="utf-8")
    assert "January 2024 to December 2025 (24 months)" in html


def test_bridge_markdown_embeds_the_chart_and_lists_the_figures():
    text = bridge_markdown(month_pack())
    assert "| − Cancellations | 26,401.00 |" in text
    assert "| Closing | 3,946,899.40 |" in text
    assert "Net change -17,962.35 (-0.45 % of the opening)." in text
    encoded = re.search(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", text).group(1)
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
        assert image.size == (880, 384)  # 11 × 4.8 inches at 80 dpi
    without = bridge_markdown(month_pack(), embed_image=False)
    assert "data:image" not in without and "| Opening | 3,964,861.75 |" in without


def test_bridge_markdown_names_a_restated_version():
    pack = month_pack(version=VersionInfo(2, "run-2", locked=True, restates=1))
    assert "(USD, version 2, restates version 1, locked)" in bridge_markdown(pack, False)


def test_a_version_cannot_restate_itself_or_a_later_one():
    with pytest.raises(PackError):
        VersionInfo(2, "run", restates=2)
    assert replace(VersionInfo(3, "run", restates=2), locked=True).restated


def test_templates_ship_with_the_package():
    import backlog_pipeline.report as report

    templates = Path(report.__file__).parent / "templates"
    assert {path.name for path in templates.glob("*.j2")} == {
        "base.html.j2", "board_pack.html.j2", "backlog_trend.html.j2"
    }  # fmt: skip


def test_an_unchanged_pack_is_not_drawn_again_and_a_changed_one_is(tmp_path, monkeypatch):
    first = write_month_pack(month_pack(), tmp_path)
    before = {path: path.stat().st_mtime_ns for path in first}

    def no_drawing(*args, **kwargs):
        raise AssertionError("an unchanged pack was drawn again")

    monkeypatch.setattr("backlog_pipeline.report.figures.render", no_drawing)
    assert write_month_pack(month_pack(), tmp_path) == first
    assert {path: path.stat().st_mtime_ns for path in first} == before
    # A new version of the same figures is a new page: drawn (and so refused here).
    restated = month_pack(version=VersionInfo(2, "run-2", restates=1))
    with pytest.raises(AssertionError, match="drawn again"):
        write_month_pack(restated, tmp_path)
    # A missing PNG is drawn again too.
    monkeypatch.undo()
    first[1].unlink()
    assert write_month_pack(month_pack(), tmp_path) == first and first[1].is_file()


def test_the_ui_preview_is_the_slide_png_scaled_down(tmp_path):
    written = write_month_pack(month_pack(), tmp_path)
    text = bridge_markdown(month_pack(), png=written[1].read_bytes())
    encoded = re.search(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", text).group(1)
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
        assert image.size == (880, 384)  # 1650 × 720 at 80/150
    assert len(encoded) < 60_000
