"""The bridge: a waterfall from the month's opening to its closing backlog.

Opening and closing stand on the axis; each movement floats from where the previous one
ended, up when it adds to the backlog and down when it takes away. The cancellation bar is
always drawn, at 0 too (a flat line with ``USD 0.00`` over it): a board must see that there
were no cancellations, not wonder whether the line was forgotten. FX revaluation gets its
own bar only when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from matplotlib import ticker
from matplotlib.figure import Figure

from backlog_pipeline.report import figures
from backlog_pipeline.report.formatting import money_text, month_name
from backlog_pipeline.report.model import MonthFlow


@dataclass(frozen=True)
class BridgeBar:
    """One bar: the published amount it shows and where it sits (layout arithmetic only)."""

    key: str
    label: str
    amount: Decimal
    bottom: float
    height: float
    colour: str
    level_after: float  # where the running total stands once this bar is drawn

    @property
    def top(self) -> float:
        return self.bottom + self.height


# key, axis label, direction (+1 adds, -1 takes away, 0 stands on the axis)
_STEPS = (
    ("opening", "Opening", 0),
    ("new_bookings", "+ New bookings", 1),
    ("converted", "− Converted", -1),
    ("lost", "− Cancellations", -1),
    ("increases", "+ Increases", 1),
    ("decreases", "− Decreases", -1),
    ("fx_revaluation", "± FX revaluation", 1),
    ("closing", "Closing", 0),
)


def bridge_bars(flow: MonthFlow) -> list[BridgeBar]:
    """The bars in drawing order; the cancellation bar is always there, FX only when not 0."""
    bars = []
    level = 0.0
    for key, label, direction in _STEPS:
        if key == "fx_revaluation" and not flow.has_fx:
            continue
        amount = getattr(flow, key)
        if direction == 0:
            level = float(amount)
            bars.append(BridgeBar(key, label, amount, 0.0, level, figures.TOTAL, level))
            continue
        moved = direction * float(amount)
        colour = figures.FX if key == "fx_revaluation" else _colour(direction)
        bottom = min(level, level + moved)
        level += moved
        bars.append(BridgeBar(key, label, amount, bottom, abs(moved), colour, level))
    return bars


def _colour(direction: int) -> str:
    return figures.RISE if direction > 0 else figures.FALL


def bridge_figure(flow: MonthFlow, currency: str) -> Figure:
    """The bridge chart; every bar and its label carry an id (``bridge-bar-<key>``)."""
    bars = bridge_bars(flow)
    figure = figures.new_figure(11, 4.8)
    axes = figure.add_subplot()
    positions = range(len(bars))
    for position, bar in zip(positions, bars, strict=True):
        (patch,) = axes.bar(
            position,
            bar.height,
            bottom=bar.bottom,
            width=0.62,
            color=bar.colour,
            edgecolor=bar.colour,
            linewidth=1.2,
        )
        patch.set_gid(f"bridge-bar-{bar.key}")
        label = axes.annotate(
            money_text(bar.amount, currency),
            (position, bar.top),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8.5,
            color="#222222",
        )
        label.set_gid(f"bridge-label-{bar.key}")
    for position, left in enumerate(bars[:-1]):
        # The dotted connector at the level where one bar ends and the next begins.
        level = left.level_after
        axes.plot(
            [position + 0.31, position + 0.69],
            [level, level],
            color="#888888",
            linewidth=0.8,
            linestyle=":",
        )
    axes.set_xticks(list(positions), [bar.label for bar in bars])
    low = min(0.0, *(bar.bottom for bar in bars))
    high = max(0.0, *(bar.top for bar in bars))
    axes.set_ylim(low * 1.12, high * 1.12 or 1.0)
    axes.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    axes.yaxis.grid(True, color=figures.GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    axes.set_ylabel(currency)
    axes.set_title(f"Backlog bridge, {month_name(flow.period)}")
    return figure
