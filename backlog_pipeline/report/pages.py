"""The month's board pack page and the trend page: charts and tables in one HTML file.

The page has no script and no link to anything: styles are in the page, charts are inline
SVG, fonts are the reader's own. It opens from an e-mail attachment on a plane.
Jinja2 (already installed with Dagster) escapes every text it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import jinja2
from matplotlib.figure import Figure

from backlog_pipeline.report import charts, figures
from backlog_pipeline.report.bridge import bridge_bars, bridge_figure
from backlog_pipeline.report.formatting import (
    amount_text,
    money_text,
    month_name,
    percent_text,
    ratio_cells,
)
from backlog_pipeline.report.model import MonthPack, Ratio
from backlog_pipeline.report.trend_model import TrendPack


@dataclass(frozen=True)
class Page:
    html: str
    charts: tuple[figures.Chart, ...]


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("backlog_pipeline.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


ChartPlan = tuple[str, str, Callable[[], Figure]]


def month_chart_plan(pack: MonthPack) -> list[ChartPlan]:
    """The month's charts in page order (name, title, how to draw); a part not given has none."""
    month, currency = month_name(pack.period), pack.currency
    wanted = [("bridge", f"Backlog bridge, {month}", partial(bridge_figure, pack.flow, currency))]
    if pack.history:
        title = f"Closing backlog, {month_name(pack.history[0].period)} to {month}"
        build = partial(charts.closing_figure, pack.history, currency, title, "trend")
        wanted.append(("trend", title, build))
    if pack.timing is not None:
        title = f"Timing of the backlog at the end of {month}"
        wanted.append(
            ("timing", title, partial(charts.timing_figure, pack.timing, currency, title))
        )
    if pack.coverage is not None:
        title = "Plan coverage"
        build = partial(charts.coverage_figure, pack.coverage, currency, title)
        wanted.append(("coverage", title, build))
    if pack.concentration is not None and pack.concentration.top_customers:
        title = "Top customers"
        build = partial(charts.customers_figure, pack.concentration, currency, title)
        wanted.append(("customers", title, build))
    return wanted


def month_charts(pack: MonthPack) -> tuple[figures.Chart, ...]:
    """The month's charts, drawn, in page order."""
    return tuple(
        figures.render(name, title, build) for name, title, build in month_chart_plan(pack)
    )


def month_page(pack: MonthPack, fingerprint: str = "") -> Page:
    """The month's page; ``fingerprint`` (of the pack and the code that draws it) is kept in
    the page so that an unchanged pack need not be drawn again."""
    drawn = month_charts(pack)
    by_name = {chart.name: chart for chart in drawn}
    flow, currency = pack.flow, pack.currency
    month = month_name(pack.period)
    context = {
        "title": f"Bookings backlog, {month} ({currency})",
        "heading": f"Bookings backlog, {month}",
        "month": month,
        "currency": currency,
        "version": pack.version,
        "tiles": _tiles(pack),
        "bridge": by_name["bridge"],
        "flow_rows": [
            {"label": bar.label, "text": amount_text(bar.amount), "total": bar.key == "closing"}
            for bar in bridge_bars(flow)
        ],
        "trend": by_name.get("trend"),
        "trend_months": len(pack.history),
        "timing": by_name.get("timing"),
        "coverage": by_name.get("coverage"),
        "customers": by_name.get("customers"),
        "ratios": [_ratio_row(ratio) for ratio in pack.ratios],
        "checks": pack.checks,
        "checks_summary": _checks_summary(pack),
        "notes": pack.notes,
        "fingerprint": fingerprint,
    }
    return Page(_templates().get_template("board_pack.html.j2").render(context), drawn)


@dataclass(frozen=True)
class Tile:
    key: str
    name: str
    value: str
    detail: str = ""


def _tiles(pack: MonthPack) -> list[Tile]:
    """The headline figures above the charts."""
    flow, currency = pack.flow, pack.currency
    tiles = [
        Tile("closing", "Closing backlog", money_text(flow.closing, currency),
             f"opening {money_text(flow.opening, currency)}"),
        Tile("net-change", "Net change", money_text(flow.net_change, currency),
             f"{percent_text(flow.net_change_pct)} of the opening"),
        Tile("new-bookings", "New bookings", money_text(flow.new_bookings, currency)),
    ]  # fmt: skip
    last = pack.history[-1] if pack.history else None
    if last is not None and last.has_timing:
        within = money_text(last.within_12_months, currency)
        after = f"after 12 months {money_text(last.after_12_months, currency)}"
        tiles.append(Tile("within-12", "Becomes revenue within 12 months", within, after))
    if pack.concentration is not None:
        largest = percent_text(pack.concentration.largest_share_pct)
        top10 = f"top 10: {percent_text(pack.concentration.top10_share_pct)}"
        tiles.append(Tile("concentration", "Largest customer's share", largest, top10))
    return tiles


def _ratio_row(ratio: Ratio) -> dict[str, str | None]:
    current, previous = ratio_cells(ratio)
    return {"name": ratio.name, "current": current, "previous": previous, "note": ratio.note}


def _checks_summary(pack: MonthPack) -> str:
    failed = [check for check in pack.checks if not check.passed]
    if not failed:
        return f"All {len(pack.checks)} checks passed."
    return f"{len(failed)} of {len(pack.checks)} checks did not pass (warnings are published)."


TREND_CHARTS = ("backlog_trend_closing", "backlog_trend_flow")


def trend_charts(trend: TrendPack) -> tuple[figures.Chart, ...]:
    currency = trend.currency
    points = tuple(month.closing_point() for month in trend.months)
    flows = tuple(month.flow for month in trend.months)
    closing_title = "Closing backlog, all published months"
    return (
        figures.render(
            TREND_CHARTS[0],
            closing_title,
            lambda: charts.closing_figure(points, currency, closing_title, "history"),
        ),
        figures.render(
            TREND_CHARTS[1],
            "Movements per month",
            lambda: charts.flow_lines_figure(flows, currency, "Movements per month"),
        ),
    )


def trend_page(trend: TrendPack, fingerprint: str = "") -> Page:
    drawn = trend_charts(trend)
    show_fx = any(month.flow.has_fx for month in trend.months)
    show_timing = any(month.timing is not None for month in trend.months)
    columns = ["Month", "Opening", "New", "Converted", "Cancellations", "Increases", "Decreases"]
    columns += ["FX revaluation"] * show_fx + ["Closing", "Net change %"]
    columns += ["Within 12 months", "After 12 months"] * show_timing
    rows = []
    for month in trend.months:
        flow = month.flow
        row = [month_name(flow.period)] + [
            amount_text(getattr(flow, key))
            for key in ("opening", "new_bookings", "converted", "lost", "increases", "decreases")
        ]
        row += [amount_text(flow.fx_revaluation)] * show_fx
        row += [amount_text(flow.closing), percent_text(flow.net_change_pct)]
        if show_timing:
            split = month.timing
            row += (
                ["–", "–"]
                if split is None or not split.has_timing
                else [amount_text(split.within_12_months), amount_text(split.after_12_months)]
            )
        rows.append(row)
    context = {
        "title": f"Bookings backlog across months ({trend.currency})",
        "heading": "Bookings backlog across months",
        "currency": trend.currency,
        "first": month_name(trend.months[0].flow.period),
        "last": month_name(trend.months[-1].flow.period),
        "closing": drawn[0],
        "flow": drawn[1],
        "columns": columns,
        "rows": rows,
        "fingerprint": fingerprint,
    }
    return Page(_templates().get_template("backlog_trend.html.j2").render(context), drawn)
