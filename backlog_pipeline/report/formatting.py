"""Figures as people read them: ``USD 3,946,899.40``, ``June 2025``, ``2.13 %``.

Formatting only inserts separators and units: the digits are the published ones, so the text
on a slide can be checked against the warehouse character by character.
"""

from __future__ import annotations

from decimal import Decimal

from backlog_pipeline.periods import parse_month
from backlog_pipeline.report.model import Ratio, RatioUnit

# Fixed English names: the locale of the machine running the close must not change the pack.
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MINUS = "-"


def money_text(amount: Decimal, currency: str) -> str:
    """``USD 3,946,899.40``; a negative amount is ``USD -1,234.50``."""
    return f"{currency} {amount:,.2f}"


def amount_text(amount: Decimal) -> str:
    """``3,946,899.40``: for tables whose heading names the currency."""
    return f"{amount:,.2f}"


def month_name(period: str) -> str:
    """``2025-06`` → ``June 2025``."""
    year, month0 = divmod(parse_month(period), 12)
    return f"{_MONTH_NAMES[month0]} {year}"


def short_month(period: str) -> str:
    """``2025-06`` → ``Jun 2025``, for axis ticks."""
    year, month0 = divmod(parse_month(period), 12)
    return f"{_MONTH_NAMES[month0][:3]} {year}"


def decimal_text(value: Decimal) -> str:
    """A published ratio with its own places and thousands separators (``1,234.5678``)."""
    return f"{value:,}"


def percent_text(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{decimal_text(value)} %"


def ratio_text(value: Decimal | None, unit: RatioUnit) -> str:
    if value is None:
        return "n/a"
    if unit is RatioUnit.PERCENT:
        return percent_text(value)
    if unit is RatioUnit.MULTIPLE:
        return f"{decimal_text(value)}×"
    return f"{decimal_text(value)} months"


def ratio_cells(ratio: Ratio) -> tuple[str, str]:
    """The ratio's current and previous text, a null replaced by its reason."""
    current = ratio_text(ratio.value, ratio.unit)
    if ratio.value is None:
        current = f"n/a ({ratio.reason})"
    previous = ratio_text(ratio.previous, ratio.unit)
    if ratio.previous is None and ratio.previous_reason:
        previous = f"n/a ({ratio.previous_reason})"
    return current, previous
