"""The bridge as Markdown, for the report asset's materialization in the Dagster UI.

The UI renders a Markdown metadata value (``MetadataValue.md``) with its image syntax, and
its sanitizer lets ``data:`` image sources through (dagster-webserver 1.13's
MarkdownWithPlugins adds ``data`` to the allowed ``src`` protocols), so the bridge can be
embedded as a small PNG without the UI reaching for a file it cannot serve. The table below
it carries the same published figures as text, for a reader who copies them. This module
returns plain text; the Dagster layer wraps it (``dg.MetadataValue.md(...)``) and adds the
page's path (``dg.MetadataValue.path(...)``).
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from backlog_pipeline.report import figures
from backlog_pipeline.report.bridge import bridge_bars, bridge_figure
from backlog_pipeline.report.formatting import amount_text, month_name, percent_text
from backlog_pipeline.report.model import MonthPack

# 80 dpi keeps the embedded image near 40 KB of text in the event log (880 x 384 pixels).
PREVIEW_DPI = 80


def bridge_preview_png(pack: MonthPack) -> bytes:
    """A smaller rendering of the bridge, sized for the UI rather than for slides."""
    with figures.chart_style():
        return figures.png_bytes(bridge_figure(pack.flow, pack.currency), dpi=PREVIEW_DPI)


def preview_from_png(png: bytes) -> bytes:
    """The slide PNG (``PNG_DPI``) scaled down to ``PREVIEW_DPI``: no second drawing."""
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        size = (round(width * PREVIEW_DPI / figures.PNG_DPI),
                round(height * PREVIEW_DPI / figures.PNG_DPI))  # fmt: skip
        smaller = image.convert("RGBA").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    smaller.save(buffer, format="PNG")
    return buffer.getvalue()


def bridge_markdown(pack: MonthPack, embed_image: bool = True, png: bytes | None = None) -> str:
    """The month's bridge as Markdown: the chart (embedded PNG) and the flow as a table.

    ``png``: the bridge's slide PNG already written, scaled down instead of drawn again.
    """
    month = month_name(pack.period)
    lines = [f"**Backlog bridge, {month}** ({pack.currency}, {_version_text(pack)})", ""]
    if embed_image:
        preview = bridge_preview_png(pack) if png is None else preview_from_png(png)
        encoded = base64.b64encode(preview).decode("ascii")
        lines += [f"![Backlog bridge, {month}](data:image/png;base64,{encoded})", ""]
    lines += [f"| {month} | {pack.currency} |", "|:---|---:|"]
    lines += [f"| {bar.label} | {amount_text(bar.amount)} |" for bar in bridge_bars(pack.flow)]
    lines += [
        "",
        f"Net change {amount_text(pack.flow.net_change)} "
        f"({percent_text(pack.flow.net_change_pct)} of the opening).",
    ]
    return "\n".join(lines) + "\n"


def _version_text(pack: MonthPack) -> str:
    version = pack.version
    text = f"version {version.number}"
    if version.restated:
        text += f", restates version {version.restates}"
    return text + (", locked" if version.locked else "")
