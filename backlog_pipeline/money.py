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
# The same limit in currency units, as a NUMERIC(18,2) column shows it.
MAX_ABS_CENTS_DECIMAL = Decimal(MAX_ABS_CENTS).scaleb(-2)
# Sums of cents are int64 (numpy): exact as long as no sum can pass this.
INT64_MAX = int(np.iinfo(np.int64).max)
_WHOLE_DIGITS = 16


class AmountError(ValueError):
    """An amount that cannot be held exactly in cents."""


class AmountsTooLargeError(ValueError):
    """Amounts whose sums could pass what int64 cents hold: no figure from them is exact."""


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
    """Two-decimal ``Decimal`` for publication, exact at any size."""
    return Decimal(int(cents)).scaleb(-2)


def two_decimals(value: object, rounding: bool = False) -> Decimal:
    """A figure as the exact two-decimal ``Decimal`` a NUMERIC(18,2) column holds.

    Refuses (``ValueError``) a value that is not a whole number of cents, unless
    ``rounding`` (half up: for doubles stored before money was exact text), and any value
    beyond ±9,999,999,999,999,999.99: never rounded silently, never wrapped.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    text = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    exact = amount.quantize(CENT, rounding=ROUND_HALF_UP) if abs(amount) < 10**17 else amount
    if exact != amount and not rounding:
        raise ValueError(f"{value!r} is not a whole number of cents")
    if abs(exact) > MAX_ABS_CENTS_DECIMAL:
        raise ValueError(f"{value!r} does not fit NUMERIC(18,2) (at most ±{MAX_ABS_CENTS_DECIMAL})")
    return exact + 0 if exact.is_zero() else exact


def decimal_to_cents(value: object) -> int:
    """Cents from a two-decimal figure read back from the warehouse (``Decimal`` or text)."""
    cents = Decimal(str(value)).scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of cents")
    return int(cents)


def units_to_cents(units: object) -> object:
    """Whole currency units in cents: an int, or elementwise a numpy array or pandas series."""
    return units * 100


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


def exact_sum(cents: object) -> int:
    """The exact sum of many amounts in cents, however large: never wraps around int64.

    Each amount is split into its high and low 32 bits; each half sums in int64 without
    overflow for up to 2**31 amounts, and the halves are joined in Python integers.
    Vectorised, so fifteen million recognition lines add up in milliseconds.
    """
    values = np.asarray(cents, dtype=np.int64)
    if not len(values):
        return 0
    # The common case: no partial sum can pass int64, so numpy's own sum is exact.
    peak = max(int(values.max()), -int(values.min()))
    if peak * len(values) <= INT64_MAX:
        return int(values.sum(dtype=np.int64))
    high = int((values >> 32).sum(dtype=np.int64))
    low = int((values & 0xFFFFFFFF).sum(dtype=np.int64))
    return high * 2**32 + low


def require_exact_sums(amounts: dict[str, np.ndarray]) -> None:
    """Refuse amounts whose sums could wrap around int64; ``amounts`` by what they are.

    Every figure (a contract's running backlog, a month's total, a cumulative sum) is a
    sum of some of the amounts with their signs, so none can pass the sum of their absolute
    values: when that fits int64, no sum anywhere can wrap. Real ledgers are far below it
    (92 quadrillion currency units); past it nothing computed in int64 could be trusted.
    """
    sizes = {name: exact_sum(np.abs(np.asarray(v, dtype=np.int64))) for name, v in amounts.items()}
    if sum(sizes.values()) > INT64_MAX:
        listed = ", ".join(f"{name} {format_cents(size)}" for name, size in sizes.items())
        raise AmountsTooLargeError(
            f"The amounts read add up to {format_cents(sum(sizes.values()))} in absolute value "
            f"({listed}), more than the {format_cents(INT64_MAX)} that exact 64-bit cents "
            "arithmetic holds: no figure computed from them could be trusted, so none is. "
            "Nothing was published."
        )


_FRACTIONS = [f"{cents:02d}" for cents in range(100)]


def _texts(cents: np.ndarray) -> list[str]:
    magnitude = np.abs(cents)
    wholes, fractions = (magnitude // 100).tolist(), (magnitude % 100).tolist()
    negative = (cents < 0).tolist()
    return [
        f"{'-' if minus else ''}{whole}.{_FRACTIONS[fraction]}"
        for whole, fraction, minus in zip(wholes, fractions, negative, strict=True)
    ]


def cents_text(cents: np.ndarray) -> np.ndarray:
    """``12218.75`` style text for many amounts at once (object array), exact.

    The vectorised counterpart of :func:`format_cents`, for bulk writes and generated data.
    Contract figures repeat a lot (most rows have no new booking, loss or change in a
    month), so when fewer than half the values are distinct each is formatted once.
    """
    cents = np.asarray(cents, dtype=np.int64)
    values, inverse = np.unique(cents, return_inverse=True)
    if len(values) <= len(cents) // 2:
        return np.array(_texts(values), dtype=object)[inverse]
    return np.array(_texts(cents), dtype=object)
