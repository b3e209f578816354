"""One matplotlib figure, two outputs: SVG text for the page and PNG bytes for slides.

Matplotlib draws without a browser or a display (the Agg canvas), so the close can write
the pack on a plain server. The settings below make both outputs byte-for-byte repeatable:
labels stay real ``<text>`` in the SVG (the browser test reads them, a reader can select
them), clip-path ids come from a fixed salt instead of a random one, and the dates and
version strings matplotlib would stamp into the files are left out.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure

PNG_DPI = 150
# Chart colours: totals in navy, what adds in green, what takes away in red, FX in violet.
TOTAL = "#1f3b57"
RISE = "#2e7d32"
FALL = "#c62828"
FX = "#6a4c93"
CURRENT = "#3b6ea5"
NON_CURRENT = "#9dbbd9"
UNDATED = "#c9c9c9"
GRID = "#d9d9d9"

_STYLE = {
    "svg.fonttype": "none",
    # DejaVu Sans ships inside matplotlib: the PNGs look the same on every machine.
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "path.simplify": False,
}


@contextmanager
def chart_style() -> Iterator[None]:
    """The pack's look, scoped so that the caller's matplotlib settings are untouched."""
    with matplotlib.rc_context(_STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas: no pyplot, no global figure list, safe in threads."""
    return Figure(figsize=(width, height), layout="constrained")


def png_size(figure: Figure) -> tuple[int, int]:
    """The PNG's pixel size: the figure's inches times ``PNG_DPI`` (no tight cropping)."""
    width, height = figure.get_size_inches()
    return round(width * PNG_DPI), round(height * PNG_DPI)


def svg_text(figure: Figure, chart_id: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prologue).

    ``chart_id`` salts the clip-path ids and names the root element, so two charts on one
    page never share an id.
    """
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": chart_id, "svg.id": chart_id}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def png_bytes(figure: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG bytes with no software or time stamp in them."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


@dataclass(frozen=True)
class Chart:
    """A drawn chart: its SVG for the page and its PNG for slides, from one figure."""

    name: str
    title: str
    svg: str
    png: bytes
    png_size: tuple[int, int]


def render(name: str, title: str, build: Callable[[], Figure]) -> Chart:
    """Draw ``build()`` in the pack's style and keep both outputs; the figure is dropped.

    The constrained layout (a third of the drawing time) is worked out once, for the SVG;
    the PNG keeps those positions, which are fractions of the figure and so hold at any dpi.
    """
    with chart_style():
        figure = build()
        svg = svg_text(figure, name)
        figure.set_layout_engine("none")
        return Chart(name, title, svg, png_bytes(figure), png_size(figure))
