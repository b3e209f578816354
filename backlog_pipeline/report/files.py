"""Where the packs go: ``<output>/<YYYY-MM>/board_pack.html`` and the trend at the top.

Each file is written to a temporary name beside it and renamed into place, so a reader (or
a mail job picking up the PNGs) never sees half a file, and a failed close leaves the
previous pack whole.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
    written = [write_atomically(folder / MONTH_PAGE, page.html.encode("utf-8"))]
    for chart in page.charts:
        written.append(write_atomically(folder / f"board_pack_{chart.name}.png", chart.png))
    return written


def write_trend_report(trend: TrendPack, output_dir: Path) -> list[Path]:
    """Write the across-months page and its PNGs at the output folder's top level."""
    folder = Path(output_dir)
    page = trend_page(trend)
    written = [write_atomically(folder / TREND_PAGE, page.html.encode("utf-8"))]
    for chart in page.charts:
        written.append(write_atomically(folder / f"{chart.name}.png", chart.png))
    return written


def write_atomically(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp makes the file private; a report is read by people and mail jobs.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
