"""The checks every figure handed to the board pack passes: money, ratios, months.

A published amount arrives as a two-decimal ``Decimal`` (NUMERIC(18,2) read back); anything
else (a float, a third decimal, a period like ``2025-6``) means the reader is wrong, and the
pack says which field rather than drawing it.
"""

from __future__ import annotations

import re
from decimal import Decimal

from backlog_pipeline.money import CENT

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class PackError(ValueError):
    """A figure handed to the board pack that it cannot show as published."""


def money(value: object, name: str) -> Decimal:
    """A published amount: a finite ``Decimal`` with at most two places, kept at two places."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PackError(f"{name} must be a finite Decimal amount, got {value!r}")
    if value != value.quantize(CENT):
        raise PackError(f"{name} = {value} has more than two decimals")
    # "+ 0" turns a negative zero into 0.00, which is how the warehouse prints it.
    return value.quantize(CENT) + 0


def optional_money(value: object, name: str) -> Decimal | None:
    return None if value is None else money(value, name)


def ratio_value(value: object, name: str) -> Decimal | None:
    """A published ratio or percentage, exactly as stored (its places are kept)."""
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PackError(f"{name} must be a finite Decimal or None, got {value!r}")
    return value


def period(value: object, name: str = "period") -> str:
    if not isinstance(value, str) or not _PERIOD.match(value):
        raise PackError(f"{name} must be a YYYY-MM month, got {value!r}")
    return value


def currency_code(value: object) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise PackError(f"currency must be an ISO 4217 code, got {value!r}")
    return value


def ascending(rows: tuple | list, name: str) -> None:
    """Rows (with a ``period``) in ascending month order, each month once."""
    periods = [row.period for row in rows]
    if periods != sorted(set(periods)):
        raise PackError(f"{name} must be in ascending month order without repeats: {periods}")
