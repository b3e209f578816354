"""Cents × rate: exact for any NUMERIC(18,2) figure, rounded half-up, checked against
Python's own integers and ``Decimal`` (an independent route: no int64 anywhere)."""

from decimal import ROUND_HALF_UP, Decimal, localcontext

import numpy as np
import pytest

from backlog_pipeline.accounting.fx_rates import RATE_SCALE
from backlog_pipeline.accounting.fx_rounding import (
    FigureTooLargeError,
    residual,
    split_product,
    to_cents,
    translate,
)


def expected_cents(cents: int, rate_units: int) -> int:
    """Half-up (away from zero at a tie) with Decimal, at a precision that never rounds."""
    with localcontext() as context:
        context.prec = 80
        exact = Decimal(cents) * Decimal(rate_units) / Decimal(RATE_SCALE)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_ties_go_away_from_zero():
    # 1 cent × 1.5 = 1.5 → 2; −1 × 1.5 = −1.5 → −2; 1 × 2.5 = 2.5 → 3 (not 2, as banks
    # would round); 3 × 0.5 = 1.5 → 2; just under a half stays down.
    cents = np.array([1, -1, 1, 3, 1, -1, 5, -5], dtype=np.int64)
    tenth = RATE_SCALE // 10
    # 1.5, 1.5, 2.5, 0.5, 1.4999999999 twice (1.4999999999 cents → 1, −1.4999… → −1),
    # and 0.1 twice (5 cents × 0.1 = 0.5 cent → 1, −0.5 → −1).
    rates = np.array([15 * tenth, 15 * tenth, 25 * tenth, 5 * tenth, 14_999_999_999,
                      14_999_999_999, tenth, tenth])  # fmt: skip
    assert translate(cents, rates).tolist() == [2, -2, 3, 2, 1, -1, 1, -1]
    # Residuals: +0.5, −0.5, +0.5, +0.5, −0.4999999999, +0.4999999999, +0.5, −0.5 cent.
    half = RATE_SCALE // 2
    assert residual(cents, rates).tolist() == [
        half, -half, half, half, -(half - 1), half - 1, half, -half,
    ]  # fmt: skip


def test_largest_figures_are_exact_where_int64_products_would_wrap():
    # 9,999,999,999,999,999.99 (the largest NUMERIC(18,2)) at 0.9999999999: the product
    # is about 10^28 ten-billionths of a cent, far past int64; the result still fits.
    biggest = 10**18 - 1
    cents = np.array([biggest, -biggest, 123_456_789_012_345, 10**9], dtype=np.int64)
    rates = np.array([9_999_999_999, 9_999_999_999, 13_333_333_333, 11_000_000_001])
    got = translate(cents, rates).tolist()
    assert got == [expected_cents(int(c), int(r)) for c, r in zip(cents, rates, strict=True)]
    # By hand: 10^9 cents × 1.1000000001 = 1,100,000,000.1 cents → 1,100,000,000.
    assert got[3] == 1_100_000_000


def test_a_result_beyond_int64_is_refused_not_wrapped():
    with pytest.raises(FigureTooLargeError) as raised:
        translate(np.array([1, 10**18 - 1]), np.array([RATE_SCALE, 99 * RATE_SCALE]))
    assert raised.value.rows.tolist() == [1]


def test_random_products_agree_with_python_integers():
    rng = np.random.default_rng(7)
    n = 20_000
    cents = np.concatenate([rng.integers(-(10**18) + 1, 10**18, n), rng.integers(-1000, 1000, n)])
    rates = np.concatenate([rng.integers(1, 3 * RATE_SCALE, n), rng.integers(-(10**12), 10**12, n)])
    whole, remainder = split_product(cents, rates)
    for c, r, w, rest in zip(cents, rates, whole, remainder, strict=True):
        assert int(w) * RATE_SCALE + int(rest) == int(c) * int(r)
        assert 0 <= rest < RATE_SCALE
    positive = rates > 0
    got = translate(cents[positive], rates[positive])
    for c, r, g in zip(cents[positive], rates[positive], got, strict=True):
        assert int(g) == expected_cents(int(c), int(r))


def test_to_cents_carries_remainders_of_any_sign():
    # 7 cents and −1.5 + 0.5 cent of remainders: 6 whole cents; 7 and 0.3 cent: not whole.
    whole, exact = to_cents(np.array([7, 7]), np.array([-RATE_SCALE, 3 * RATE_SCALE // 10]))
    assert whole.tolist() == [6, 7]
    assert exact.tolist() == [True, False]
