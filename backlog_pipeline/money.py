"""Money, chosen in one place: integer cents inside, two-decimal ``Decimal`` outside.

This is the one module that knows the cents encoding (the ×100); every other module
converts through these functions.

Integer cents keep every sum exact and let pandas add millions of lines in vectorised
int64 arithmetic; ``Decimal`` with two places is what the warehouse and the JSON documents
receive, so no float ever reaches a published figure.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np

CENT = Decimal("0.01")
# Plain decimal notation with at most two decimals; a sign is allowed, exponents are not.
_AMOUNT_PATTERN = re.compile(r"^\s*([+-]?)(\d+)(?:\.(\d{0,2}))?\s*$")
# NUMERIC(18,2) holds at most 16 integer digits.
MAX_ABS_CENTS = 10**18 - 1
# Whole currency units whose cents still fit.
MAX_ABS_UNITS = MAX_ABS_CENTS // 100
_WHOLE_DIGITS = 16


class AmountError(ValueError):
    """An amount that cannot be held exactly in cents."""


def parse_cents(value: object) -> int:
    """Parse one amount into integer cents, refusing anything that would need rounding.

    Sub-cent amounts are refused rather than rounded: a silently rounded source line
    would make the backlog disagree with the ERP by fractions nobody can trace.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise AmountError("amount is missing")
    if isinstance(value, bool):
        raise AmountError(f"amount {value!r} is not a number")
    if isinstance(value, (int, np.integer)):
        cents = int(value) * 100
    else:
        if isinstance(value, (float, np.floating)):
            # repr of a float is the shortest string that round-trips, e.g. 12.3 -> '12.3'.
            text = repr(float(value))
        elif isinstance(value, Decimal):
            # A JSON number from an API (1.23456789E7) or a NUMERIC column: exact either way.
            # 10**16 and more cannot fit, and would overflow quantize's 28 digits.
            if value.is_finite() and value.adjusted() >= _WHOLE_DIGITS:
                raise AmountError(f"amount {value!r} does not fit NUMERIC(18,2)")
            # NUMERIC(18,4) columns arrive as Decimal('12.5000'): trailing zeros are exact.
            if value.is_finite() and value == value.quantize(CENT):
                value = value.quantize(CENT)
            text = format(value, "f")
        else:
            text = str(value)
        match = _AMOUNT_PATTERN.match(text)
        if match is None:
            raise AmountError(_explain_bad_amount(text))
        sign, whole, fraction = match.groups()
        cents = int(whole) * 100 + int((fraction or "").ljust(2, "0"))
        if sign == "-":
            cents = -cents
    if abs(cents) > MAX_ABS_CENTS:
        raise AmountError(f"amount {value!r} does not fit NUMERIC(18,2)")
    return cents


def _explain_bad_amount(text: str) -> str:
    stripped = text.strip()
    if stripped == "":
        return "amount is missing"
    try:
        as_decimal = Decimal(stripped)
    except InvalidOperation:
        return f"amount {stripped!r} is not a decimal number"
    if not as_decimal.is_finite():
        return f"amount {stripped!r} is not a finite number"
    if as_decimal.adjusted() >= _WHOLE_DIGITS:  # 1e30: quantize would overflow
        return f"amount {stripped!r} is not in plain decimal notation"
    if as_decimal != as_decimal.quantize(CENT, rounding=ROUND_HALF_UP):
        return f"amount {stripped!r} has more than two decimals"
    return f"amount {stripped!r} is not in plain decimal notation"


def cents_to_decimal(cents: int) -> Decimal:
    """Two-decimal ``Decimal`` for publication."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def decimal_to_cents(value: object) -> int:
    """Cents from a two-decimal figure read back from the warehouse (``Decimal`` or text)."""
    cents = Decimal(str(value)).scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of cents")
    return int(cents)


def units_to_cents(units: object) -> object:
    """Whole currency units in cents: an int, or elementwise a numpy array or pandas series."""
    return units * 100


def cents_to_floats(cents: np.ndarray) -> np.ndarray:
    """The doubles nearest each amount in currency units (what SQLite stores for NUMERIC)."""
    return np.asarray(cents) / 100


def percent_of(cents: object, percent: object) -> object:
    """``percent`` % of an amount in cents, rounded down to the cent (elementwise too)."""
    return percent * cents // 100


def format_cents(cents: int) -> str:
    """``12218.75`` style text, used in messages and previews."""
    return str(cents_to_decimal(cents))


def percent_change(net_change_cents: int, opening_cents: int) -> Decimal | None:
    """``net_change / opening × 100`` to two decimals, half up; ``None`` when opening is 0."""
    if opening_cents == 0:
        return None
    ratio = Decimal(int(net_change_cents)) * 100 / Decimal(int(opening_cents))
    # "+ 0" turns a negative zero (no change on a negative opening) into 0.00.
    return ratio.quantize(CENT, rounding=ROUND_HALF_UP) + 0


def cents_text(cents: np.ndarray) -> np.ndarray:
    """``12218.75`` style text for many amounts at once (object array), exact.

    The vectorised counterpart of :func:`format_cents`, for bulk writes and generated data.
    """
    cents = np.asarray(cents, dtype=np.int64)
    magnitude = np.abs(cents)
    whole = (magnitude // 100).astype(str)
    fraction = np.strings.zfill((magnitude % 100).astype(str), 2)
    text = np.strings.add(np.strings.add(whole, "."), fraction)
    return np.where(cents < 0, np.strings.add("-", text), text).astype(object)
