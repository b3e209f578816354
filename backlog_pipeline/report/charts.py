"""The pack's other charts: closing trend, timing, plan coverage, customers, flow lines.

Each draws the published figures as given; positions (stacking, bar tops) are the only
arithmetic. Labels are the formatted published figures, so a chart can be read without
its table. Every drawn element that a test or a reader may look for carries an id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from backlog_pipeline.report import figures
from backlog_pipeline.report.formatting import (
    amount_text,
    money_text,
    percent_text,
    ratio_text,
    short_month,
)
from backlog_pipeline.report.model import (
    ClosingPoint,
    Concentration,
    MonthFlow,
    PlanCoverage,
    RatioUnit,
    TimingSchedule,
)


def _money_axis(axes: Axes, currency: str, axis: str = "y") -> None:
    target = axes.yaxis if axis == "y" else axes.xaxis
    target.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    target.grid(True, color=figures.GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    (axes.set_ylabel if axis == "y" else axes.set_xlabel)(currency)


def closing_figure(
    points: tuple[ClosingPoint, ...], currency: str, title: str, chart_id: str
) -> Figure:
    """Closing backlog per month; within / after 12 months stacked where timing is given.

    Element ids start with ``chart_id`` (the month's trend and the all-months history can
    share a page without sharing ids).
    """
    figure = figures.new_figure(11, 4.2)
    axes = figure.add_subplot()
    positions = list(range(len(points)))
    for position, point in zip(positions, points, strict=True):
        parts = [(f"closing-{point.period}", point.closing, figures.TOTAL, "Closing backlog")]
        if point.has_timing:
            parts = [
                (
                    f"within-{point.period}",
                    point.within_12_months,
                    figures.CURRENT,
                    "Within 12 months",
                ),
                (
                    f"after-{point.period}",
                    point.after_12_months,
                    figures.NON_CURRENT,
                    "After 12 months",
                ),
                (f"undated-{point.period}", point.undated, figures.UNDATED, "Undated"),
            ]
        bottom = 0.0
        for gid, amount, colour, legend in parts:
            if amount is None:
                continue
            (patch,) = axes.bar(
                position, float(amount), bottom=bottom, width=0.7, color=colour, label=legend
            )
            patch.set_gid(f"{chart_id}-{gid}")
            bottom += float(amount)
        if point.has_timing:
            marker = axes.scatter(
                [position],
                [float(point.closing)],
                marker="_",
                s=220,
                color=figures.TOTAL,
                linewidths=2,
                label="Closing backlog",
                zorder=3,
            )
            marker.set_gid(f"{chart_id}-marker-{point.period}")
    last = points[-1]
    label = axes.annotate(
        money_text(last.closing, currency),
        (positions[-1], float(last.closing)),
        xytext=(0, 5),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=8.5,
    )
    label.set_gid(f"{chart_id}-label-{last.period}")
    _month_ticks(axes, [point.period for point in points])
    _money_axis(axes, currency)
    _headroom(axes, [float(point.closing) for point in points], 1.15)
    _unique_legend(figure, axes)
    axes.set_title(title)
    return figure


def _month_ticks(axes: Axes, periods: list[str]) -> None:
    crowded = len(periods) > 12
    axes.set_xticks(
        range(len(periods)),
        [short_month(period) for period in periods],
        rotation=45 if crowded else 0,
        ha="right" if crowded else "center",
    )


def _unique_legend(figure: Figure, axes: Axes) -> None:
    """One legend entry per series, above the plot so that it never covers a bar."""
    handles, labels = axes.get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    if len(seen) > 1:
        figure.legend(
            seen.values(), seen.keys(), loc="outside upper right", ncols=len(seen), fontsize=8
        )


def _headroom(axes: Axes, values: list[float], factor: float) -> None:
    """Room above the tallest bar for its label (layout only)."""
    top = max([0.0, *values])
    if top > 0:
        axes.set_ylim(top=top * factor)


class Bar(NamedTuple):
    """One labelled bar: its element id, axis label, published amount, colour and label text."""

    gid: str
    label: str
    amount: Decimal
    colour: str
    text: str


def _labelled_bars(axes: Axes, bars: list[Bar], horizontal: bool, rotation: int = 0) -> None:
    """Draw the bars with their label at the end of each (``<gid>`` and ``<gid>-label``)."""
    for position, bar in enumerate(bars):
        end = max(float(bar.amount), 0.0)
        if horizontal:
            (patch,) = axes.barh(position, float(bar.amount), height=0.62, color=bar.colour)
            where, offset, align = (end, position), (4, 0), {"va": "center"}
        else:
            (patch,) = axes.bar(position, float(bar.amount), width=0.7, color=bar.colour)
            where, offset, align = (position, end), (0, 3), {"ha": "center", "va": "bottom"}
        patch.set_gid(bar.gid)
        label = axes.annotate(bar.text, where, xytext=offset, textcoords="offset points",
                              rotation=rotation, fontsize=8, **align)  # fmt: skip
        label.set_gid(f"{bar.gid}-label")
    ticks = axes.set_yticks if horizontal else axes.set_xticks
    ticks(range(len(bars)), [bar.label for bar in bars])
    if horizontal:
        axes.invert_yaxis()  # the first bar on top


def timing_figure(timing: TimingSchedule, currency: str, title: str) -> Figure:
    """Each of the next 12 months, then the 12-month bands, after 36 months and undated."""
    parts = [(f"timing-{part.period}", short_month(part.period), part.amount, figures.CURRENT)
             for part in timing.next_months]  # fmt: skip
    parts += [
        ("timing-13-24", "13–24 months", timing.months_13_to_24, figures.NON_CURRENT),
        ("timing-25-36", "25–36 months", timing.months_25_to_36, figures.NON_CURRENT),
        ("timing-after-36", "After 36 months", timing.after_36_months, figures.NON_CURRENT),
        ("timing-undated", "Undated", timing.undated, figures.UNDATED),
    ]
    if timing.not_spread is not None:
        parts.append(
            ("timing-not-spread", "Negative (not spread)", timing.not_spread, figures.FALL)
        )
    bars = [Bar(gid, label, amount, colour, amount_text(amount))
            for gid, label, amount, colour in parts]  # fmt: skip
    figure = figures.new_figure(11, 4.2)
    axes = figure.add_subplot()
    _labelled_bars(axes, bars, horizontal=False, rotation=90)
    axes.tick_params(axis="x", labelrotation=45)
    for tick in axes.get_xticklabels():
        tick.set_horizontalalignment("right")
    _money_axis(axes, currency)
    _headroom(axes, [float(bar.amount) for bar in bars], 1.35)
    axes.set_title(title)
    return figure


def coverage_figure(coverage: PlanCoverage, currency: str, title: str) -> Figure:
    """The next 12 months' revenue budget beside the backlog that covers it."""
    rows = [
        ("coverage-budget", "Revenue budget, next 12 months", coverage.budget_next_12_months,
         figures.UNDATED),
        ("coverage-within", "Backlog within 12 months", coverage.within_12_months,
         figures.CURRENT),
        ("coverage-closing", "Closing backlog", coverage.closing, figures.TOTAL),
    ]  # fmt: skip
    bars = [Bar(gid, label, amount, colour, money_text(amount, currency))
            for gid, label, amount, colour in rows if amount is not None]  # fmt: skip
    figure = figures.new_figure(11, 2.6)
    axes = figure.add_subplot()
    _labelled_bars(axes, bars, horizontal=True)
    axes.margins(x=0.2)
    _money_axis(axes, currency, axis="x")
    covered = ratio_text(coverage.coverage, RatioUnit.MULTIPLE)
    current = ratio_text(coverage.current_coverage, RatioUnit.MULTIPLE)
    axes.set_title(f"{title}: coverage {covered}, current coverage {current}")
    return figure


def customers_figure(concentration: Concentration, currency: str, title: str) -> Figure:
    """The largest customers' closing backlog, with each one's share of the total."""
    customers = concentration.top_customers
    bars = [
        Bar(f"customer-{rank}", customer.label, customer.closing, figures.CURRENT,
            money_text(customer.closing, currency)
            + ("" if customer.share_pct is None else f" · {percent_text(customer.share_pct)}"))
        for rank, customer in enumerate(customers, start=1)
    ]  # fmt: skip
    figure = figures.new_figure(11, 0.9 + 0.32 * max(len(customers), 1))
    axes = figure.add_subplot()
    _labelled_bars(axes, bars, horizontal=True)
    axes.margins(x=0.3)
    _money_axis(axes, currency, axis="x")
    axes.set_title(
        f"{title}: largest {percent_text(concentration.largest_share_pct)}, "
        f"top 10 {percent_text(concentration.top10_share_pct)} of the closing backlog"
    )
    return figure


_FLOW_LINES = (
    ("new_bookings", "New bookings", figures.RISE, "-"),
    ("converted", "Converted", figures.FALL, "-"),
    ("lost", "Cancellations", figures.FALL, ":"),
    ("increases", "Increases", figures.RISE, ":"),
    ("decreases", "Decreases", "#e57373", "--"),
    ("fx_revaluation", "FX revaluation", figures.FX, "-."),
)


def flow_lines_figure(flows: tuple[MonthFlow, ...], currency: str, title: str) -> Figure:
    """Each movement of the flow as a line across the published months."""
    figure = figures.new_figure(11, 4.2)
    axes = figure.add_subplot()
    positions = list(range(len(flows)))
    show_fx = any(flow.has_fx for flow in flows)
    for key, legend, colour, style in _FLOW_LINES:
        if key == "fx_revaluation" and not show_fx:
            continue
        values: list[Decimal] = [getattr(flow, key) for flow in flows]
        (line,) = axes.plot(
            positions,
            [float(value) for value in values],
            color=colour,
            linestyle=style,
            marker="o",
            markersize=3,
            label=legend,
        )
        line.set_gid(f"flow-{key}")
    _month_ticks(axes, [flow.period for flow in flows])
    _money_axis(axes, currency)
    _unique_legend(figure, axes)
    axes.set_title(title)
    return figure
