"""Where the packs go: ``<output>/<YYYY-MM>/board_pack.html`` and the trend at the top.

Each file is written through ``file_writes`` (a temporary name beside it renamed into place,
0644, left alone when unchanged), so a reader (or a mail job picking up the PNGs) never sees
half a file, and a failed close leaves the previous pack whole.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import matplotlib

from backlog_pipeline.file_writes import write_atomically
from backlog_pipeline.report.model import MonthPack
from backlog_pipeline.report.pages import TREND_CHARTS, month_chart_plan, month_page, trend_page
from backlog_pipeline.report.trend_model import TrendPack

MONTH_PAGE = "board_pack.html"
TREND_PAGE = "backlog_trend.html"


def month_pack_folder(output_dir: Path, period: str) -> Path:
    """``<output>/<YYYY-MM>``: the same folder as the month's JSON documents."""
    return Path(output_dir) / period


def write_month_pack(pack: MonthPack, output_dir: Path) -> list[Path]:
    """Write the month's page and one PNG per chart; returns the files, the page first.

    Drawing is most of a close's report time (about a second a chart), so a pack whose page
    already holds its fingerprint, with every PNG beside it, is left as it is: the same
    figures, version and checks drawn by the same code would give the same bytes.
    """
    folder = month_pack_folder(output_dir, pack.period)
    fingerprint = pack_fingerprint(pack)
    page_path = folder / MONTH_PAGE
    pngs = [folder / f"board_pack_{name}.png" for name, _, _ in month_chart_plan(pack)]
    if _drawn_already(page_path, fingerprint, pngs):
        return [page_path, *pngs]
    page = month_page(pack, fingerprint)
    written = [_written(page_path, page.html.encode("utf-8"))]
    for chart in page.charts:
        written.append(_written(folder / f"board_pack_{chart.name}.png", chart.png))
    return written


def pack_fingerprint(pack: MonthPack | TrendPack) -> str:
    """What the page is drawn from: the pack (its repr is exact) and the drawing code."""
    return hashlib.sha256(f"{_code_digest()}\n{pack!r}".encode()).hexdigest()


@cache
def _code_digest() -> str:
    """The report package's modules and templates, and matplotlib's version."""
    digest = hashlib.sha256(matplotlib.__version__.encode())
    root = Path(__file__).parent
    for path in sorted([*root.glob("*.py"), *root.glob("templates/*.j2")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _drawn_already(page: Path, fingerprint: str, pngs: list[Path]) -> bool:
    """The page holds this fingerprint and every PNG of it is there."""
    try:
        held = f"pack-fingerprint: {fingerprint}" in page.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return held and all(png.is_file() for png in pngs)


def write_trend_report(trend: TrendPack, output_dir: Path) -> list[Path]:
    """Write the across-months page and its PNGs at the output folder's top level."""
    folder = Path(output_dir)
    fingerprint = pack_fingerprint(trend)
    pngs = [folder / f"{name}.png" for name in TREND_CHARTS]
    if _drawn_already(folder / TREND_PAGE, fingerprint, pngs):
        return [folder / TREND_PAGE, *pngs]
    page = trend_page(trend, fingerprint)
    written = [_written(folder / TREND_PAGE, page.html.encode("utf-8"))]
    for chart in page.charts:
        written.append(_written(folder / f"{chart.name}.png", chart.png))
    return written


def _written(path: Path, content: bytes) -> Path:
    write_atomically(path, content)
    return path
