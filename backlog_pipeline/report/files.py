"""Where the packs go: ``<output>/<YYYY-MM>/board_pack.html`` and the trend at the top.

Each file is written through ``file_writes`` (a temporary name beside it renamed into place,
0644, left alone when unchanged), so a reader (or a mail job picking up the PNGs) never sees
half a file, and a failed close leaves the previous pack whole.
"""

from __future__ import annotations

from pathlib import Path

from backlog_pipeline.file_writes import write_atomically
from backlog_pipeline.report.model import MonthPack, TrendPack
from backlog_pipeline.report.pages import month_page, trend_page

MONTH_PAGE = "board_pack.html"
TREND_PAGE = "backlog_trend.html"


def month_pack_folder(output_dir: Path, period: str) -> Path:
    """``<output>/<YYYY-MM>``: the same folder as the month's JSON documents."""
    return Path(output_dir) / period


def write_month_pack(pack: MonthPack, output_dir: Path) -> list[Path]:
    """Write the month's page and one PNG per chart; returns the files, the page first."""
    folder = month_pack_folder(output_dir, pack.period)
    page = month_page(pack)
    written = [_written(folder / MONTH_PAGE, page.html.encode("utf-8"))]
    for chart in page.charts:
        written.append(_written(folder / f"board_pack_{chart.name}.png", chart.png))
    return written


def write_trend_report(trend: TrendPack, output_dir: Path) -> list[Path]:
    """Write the across-months page and its PNGs at the output folder's top level."""
    folder = Path(output_dir)
    page = trend_page(trend)
    written = [_written(folder / TREND_PAGE, page.html.encode("utf-8"))]
    for chart in page.charts:
        written.append(_written(folder / f"{chart.name}.png", chart.png))
    return written


def _written(path: Path, content: bytes) -> Path:
    write_atomically(path, content)
    return path
