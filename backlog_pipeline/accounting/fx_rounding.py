"""Cents × rate, exact, and the one place where a converted figure is rounded to the cent.

**The rounding rule.** A figure in cents times a rate in rate units (10⁻¹⁰, see
:mod:`~backlog_pipeline.accounting.fx_rates`) is an exact integer number of 10⁻¹⁰ cents,
its *product*. :func:`translate` turns it into cents half-up, as ``Decimal``'s
``ROUND_HALF_UP``: a tie goes away from zero, so +0.5 cent → +1 and −0.5 cent → −1 (a
reversal rounds to the opposite of the line it reverses). The conversion rounds each
figure of each contract row once, with this function; nothing else rounds money. The
*residual* of a product (:func:`residual`) is what that rounding adds to it, within ±½
cent; the second route of the revaluation sums residuals instead of rounding anything.

**Exact in int64.** numpy's int64 wraps silently past 2⁶³ ≈ 9.2 × 10¹⁸, and cents × rate
units passes that for a figure of about 8 × 10⁸ cents at a rate near 1. So a product is
never formed whole: :func:`split_product` gives it as ``whole × RATE_SCALE + remainder``
(whole cents, and 0 ≤ remainder < RATE_SCALE in 10⁻¹⁰ cents), from partial products that
each stay below 2⁶³ for any figure of NUMERIC(18,2) and any rate below 10⁸ whose result
fits NUMERIC(18,2). A result that would not fit raises :class:`FigureTooLargeError`,
naming its rows, rather than wrapping.
"""

from __future__ import annotations

import numpy as np

from backlog_pipeline.accounting.fx_rates import RATE_SCALE

_HALF = RATE_SCALE // 2
_SPLIT = 10**5  # RATE_SCALE = _SPLIT², so a remainder splits into two factors below 10⁵
_LIMIT = 2**62  # |whole cents| of a product's leading partial product stays below this


class FigureTooLargeError(ValueError):
    """A figure × rate too large for NUMERIC(18,2); ``rows`` are the positions affected."""

    def __init__(self, message: str, rows: np.ndarray) -> None:
        super().__init__(message)
        self.rows = rows


Split = tuple[np.ndarray, np.ndarray]


def split_product(cents: np.ndarray, rate: np.ndarray) -> Split:
    """``cents × rate`` as ``(whole, remainder)``: ``whole × RATE_SCALE + remainder``,
    with ``0 ≤ remainder < RATE_SCALE``, exactly, in int64.

    ``rate`` may be negative (a difference of rates). With ``c = a·S + b`` (``S`` the
    scale, ``0 ≤ b < S``) and ``r = r₁·S + r₀``: ``c·r = (a·r + b·r₁)·S + b·r₀``, and
    ``b·r₀`` (up to 10²⁰) is taken in two halves of ``b``, each below 10¹⁵.
    """
    cents = np.asarray(cents, dtype=np.int64)
    rate = np.asarray(rate, dtype=np.int64)
    cents = np.where(rate < 0, -cents, cents)
    rate = np.abs(rate)
    a, b = np.divmod(cents, RATE_SCALE)
    too_large = np.abs(a) > _LIMIT // np.maximum(rate, 1)
    if too_large.any():
        raise FigureTooLargeError(
            f"{int(too_large.sum())} figure(s) × rate exceed NUMERIC(18,2)",
            np.flatnonzero(too_large),
        )
    whole_rate, fraction_rate = np.divmod(rate, RATE_SCALE)
    b_high, b_low = np.divmod(b, _SPLIT)
    g = b_high * fraction_rate
    h = (g % _SPLIT) * _SPLIT + b_low * fraction_rate
    whole = a * rate + b * whole_rate + g // _SPLIT + h // RATE_SCALE
    return whole, h % RATE_SCALE


def _rounds_up(whole: np.ndarray, remainder: np.ndarray) -> np.ndarray:
    """THE rule: does half-up round ``whole + remainder/S`` to ``whole + 1``?

    ``whole`` is the floor, so a negative product has ``whole < 0``; there a tie stays at
    ``whole``, which is away from zero.
    """
    return np.where(whole < 0, remainder > _HALF, remainder >= _HALF)


def translate(cents: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """``cents × rate`` in cents, rounded half-up: a figure converted at a rate."""
    whole, remainder = split_product(cents, rate)
    return whole + _rounds_up(whole, remainder)


def residual(cents: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """What :func:`translate` adds to the exact ``cents × rate``, in 10⁻¹⁰ cents (±½ cent).

    Computed from the product's remainder alone, not from a rounded figure.
    """
    whole, remainder = split_product(cents, rate)
    return np.where(_rounds_up(whole, remainder), RATE_SCALE - remainder, -remainder)


def to_cents(whole: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``whole + units / RATE_SCALE`` as cents, and whether it is a whole number of cents.

    ``units`` are 10⁻¹⁰ cents of any sign (a sum of remainders and residuals).
    """
    carry, left = np.divmod(units, RATE_SCALE)
    return whole + carry, left == 0
