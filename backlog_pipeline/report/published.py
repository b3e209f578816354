"""From published rows to the pack's model: a month's pack and the trend across months.

Only field mapping happens here: every figure is the row's own (text parsed exactly), the
previous month's ratio is the previous month's published row, and a part whose table or
row is not published is left off the pack with a note that says so, rather than derived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.report.formatting import month_name
from backlog_pipeline.report.model import (
    CheckResult,
    ClosingPoint,
    Concentration,
    CustomerShare,
    MonthFlow,
    MonthPack,
    PeriodAmount,
    PlanCoverage,
    Ratio,
    RatioUnit,
    TimingSchedule,
    VersionInfo,
)
from backlog_pipeline.report.trend_model import TrendMonth, TrendPack
from backlog_pipeline.report.values import PackError
from backlog_pipeline.warehouse.board_pack_reads import (
    DISCLOSURE_TABLE,
    RATIOS_TABLE,
    SLICES_TABLE,
    WATERFALL_TABLE,
    Published,
)

Row = Mapping[str, Any]
HISTORY_MONTHS = 24
_MONEY = ("closing", "within_12_months", "after_12_months", "undated")
# column, name on the page, unit, column of its reason when null
_RATIOS = (
    ("cancellation_share_pct", "Cancellation share (lost ÷ opening)", RatioUnit.PERCENT,
     "cancellation_share_reason"),
    ("book_to_bill", "Book-to-bill (new ÷ converted)", RatioUnit.MULTIPLE, "book_to_bill_reason"),
    ("months_of_revenue", "Months of revenue in backlog", RatioUnit.MONTHS,
     "months_of_revenue_reason"),
    ("coverage", "Coverage of the next 12 months' budget", RatioUnit.MULTIPLE, "coverage_reason"),
    ("current_coverage", "Current coverage (within 12 months ÷ budget)", RatioUnit.MULTIPLE,
     "coverage_reason"),
)  # fmt: skip
_BANDS = {
    "months_13_24": "months_13_to_24",
    "months_25_36": "months_25_to_36",
    "after_36_months": "after_36_months",
    "undated": "undated",
    "over_recognized": "not_spread",
}


def exact(value: object, name: str) -> Decimal | None:
    """A published number as ``Decimal``: NUMERIC as read, SQLite's exact text parsed."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, str | int) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except ArithmeticError:
            pass
    raise PackError(f"{name} must be an exact published number, got {value!r}")


def month_pack(published: Published, period: str, checks: Sequence[CheckResult] = ()) -> MonthPack:
    """The month's pack from the published rows; what is not published is noted, not shown."""
    flows = {row["period"]: row for row in published.flow}
    if period not in flows or period not in published.versions:
        raise PackError(f"{period} is not published: no board pack without published figures")
    notes: list[str] = []
    version = published.versions[period]
    closing_points = [
        closing_point(published, flows[month]) for month in sorted(flows) if month <= period
    ][-HISTORY_MONTHS:]
    return MonthPack(
        currency=published.currency,
        flow=MonthFlow.from_row(flows[period]),
        version=VersionInfo(version.version, version.run_id, version.locked, version.restates),
        history=tuple(closing_points),
        timing=_timing(published, period, notes),
        coverage=_coverage(published, period, flows[period]),
        concentration=_concentration(published, period, notes),
        ratios=_ratios(published, period, notes),
        checks=tuple(checks),
        notes=tuple(notes),
    )


def closing_point(published: Published, flow: Row) -> ClosingPoint:
    """The month's closing and, when ``rpo_disclosure`` has its row, the timing split."""
    rows = published.rows(DISCLOSURE_TABLE, flow["period"]) or []
    if not rows:
        return ClosingPoint(flow["period"], flow["closing"])
    row = rows[0]
    split = {name: exact(row.get(name), f"{DISCLOSURE_TABLE}.{name}") for name in _MONEY[1:]}
    return ClosingPoint(flow["period"], flow["closing"], **split)


def trend_pack(published: Published) -> TrendPack:
    """Every published month, with its timing split where it is published."""
    months = []
    for row in published.flow:
        point = closing_point(published, row)
        months.append(TrendMonth(MonthFlow.from_row(row), point if point.has_timing else None))
    return TrendPack(published.currency, tuple(months))


def _not_published(table: str, what: str, period: str) -> str:
    return (
        f"{what}: not shown, {table} has no row for {month_name(period)}"
        if table
        else f"{what}: not shown"
    )


def _missing_table(table: str, what: str) -> str:
    return f"{what}: not shown, this warehouse has no {table} table"


def _timing(published: Published, period: str, notes: list[str]) -> TimingSchedule | None:
    rows = published.rows(WATERFALL_TABLE, period)
    what = "When the backlog becomes revenue"
    if rows is None:
        notes.append(_missing_table(WATERFALL_TABLE, what))
        return None
    if not rows:
        notes.append(_not_published(WATERFALL_TABLE, what, period))
        return None
    lines = {row["line"]: row for row in rows}
    month = parse_month(period)
    next_months = tuple(
        PeriodAmount(
            lines[line].get("due_month") or month_label(month + k),
            exact(lines[line]["amount"], f"timing {line}"),
        )
        for k, line in ((k, f"month_{k:02d}") for k in range(1, 13))
        if line in lines
    )
    bands = {
        field: exact(lines[line]["amount"], f"timing {line}")
        for line, field in _BANDS.items()
        if line in lines
    }
    if bands.get("not_spread") == 0:
        bands["not_spread"] = None
    return TimingSchedule(next_months, **bands)


def _ratio_rows(published: Published, period: str) -> tuple[Row | None, Row | None] | None:
    this = published.rows(RATIOS_TABLE, period)
    if this is None:
        return None
    before = published.rows(RATIOS_TABLE, month_label(parse_month(period) - 1)) or [None]
    return (this[0] if this else None), before[0]


def _ratios(published: Published, period: str, notes: list[str]) -> tuple[Ratio, ...]:
    rows = _ratio_rows(published, period)
    if rows is None:
        notes.append(_missing_table(RATIOS_TABLE, "Ratios, top customers and concentration"))
        return ()
    current, previous = rows
    if current is None:
        notes.append(_not_published(RATIOS_TABLE, "Ratios", period))
        return ()
    ratios = []
    for column, name, unit, reason_column in _RATIOS:
        if column not in current:
            continue
        value = exact(current[column], f"{RATIOS_TABLE}.{column}")
        before = None if previous is None else exact(previous.get(column), column)
        before_reason = (
            "not published for the month before"
            if previous is None
            else previous.get(reason_column)
        )
        ratios.append(
            Ratio(
                name,
                unit,
                value,
                before,
                reason=current.get(reason_column) or ("not published" if value is None else None),
                previous_reason=before_reason if before is None else None,
                note=_ratio_note(column, current),
            )
        )
    return tuple(ratios)


def _ratio_note(column: str, row: Row) -> str | None:
    used = row.get("months_of_revenue_months_used")
    if column == "months_of_revenue" and used is not None:
        return f"closing ÷ average converted of the last {int(used)} month(s)"
    return None


def _coverage(published: Published, period: str, flow: Row) -> PlanCoverage | None:
    """Coverage only when a budget was given. Current coverage divides the backlog due within
    12 months of the whole closing, which is published only as the ratio: no bar for it."""
    rows = _ratio_rows(published, period)
    if not rows or rows[0] is None:
        return None
    row = rows[0]
    budget = exact(row.get("budget_next_12_months"), "budget_next_12_months")
    if budget is None:
        return None
    return PlanCoverage(
        budget,
        None,
        flow["closing"],
        exact(row.get("coverage"), "coverage"),
        exact(row.get("current_coverage"), "current_coverage"),
    )


def _concentration(published: Published, period: str, notes: list[str]) -> Concentration | None:
    """The published shares (``backlog_ratios``) and the largest customers (``backlog_slices``);
    only the largest customer's own share is published, so only it carries one."""
    rows = _ratio_rows(published, period)
    what = "Top customers and concentration"
    if rows is None or rows[0] is None:
        return None  # said with the ratios
    row = rows[0]
    largest = exact(row.get("largest_customer_share_pct"), "largest_customer_share_pct")
    top10 = exact(row.get("top_10_share_pct"), "top_10_share_pct")
    if largest is None or top10 is None:
        notes.append(f"{what}: not shown, {row.get('concentration_reason') or 'no backlog'}")
        return None
    customers = published.rows(SLICES_TABLE, period)
    if customers is None:
        notes.append(f"{what}: the shares only, this warehouse has no {SLICES_TABLE} table")
    return Concentration(
        largest,
        top10,
        tuple(
            CustomerShare(
                str(customer["slice"]),
                exact(customer["closing"], f"{SLICES_TABLE}.closing"),
                largest if customer["slice"] == row.get("largest_customer_id") else None,
            )
            for customer in customers or []
        ),
    )
