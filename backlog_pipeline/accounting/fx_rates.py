"""Exchange rates: their exact encoding, and the table the conversion looks them up in
(which rates a close needs is :mod:`~backlog_pipeline.accounting.fx_rates_needed`).

A rate is reporting-currency units for one unit of a currency, per month: an average rate
(for the month's movements) and a closing rate (for its month-end backlog). Sources give
at most ten decimals, so a rate is held exactly as an integer number of 10⁻¹⁰ units
(``RATE_SCALE``): ``1.0825`` is ``10_825_000_000``. Cents × rate units is then an integer
number of 10⁻¹⁰ cents, and no float is ever involved. This module is the one home of
that encoding.

The canonical rates frame (``RATE_COLUMNS``) has one row per (currency, month): ``currency``
(ISO 4217 text), ``month`` (month index, see :mod:`backlog_pipeline.periods`),
``average_rate`` and ``closing_rate`` (int64 rate units). The reporting currency needs no
rows: its rate is 1 in every month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from backlog_pipeline.periods import month_label

RATE_DECIMALS = 10
RATE_SCALE = 10**RATE_DECIMALS
# A rate below 10⁸ keeps its units below 10¹⁸, far inside int64.
MAX_RATE_UNITS = 10**8 * RATE_SCALE - 1
RATE_COLUMNS = ("currency", "month", "average_rate", "closing_rate")
RATE_KINDS = ("average_rate", "closing_rate")
_RATE_PATTERN = re.compile(r"^\s*\+?(\d*)(?:\.(\d*))?\s*$")


class RateValueError(ValueError):
    """A rate that cannot be held exactly (too many decimals, not a positive number)."""


def rate_units(value: object) -> int:
    """One rate (text, ``Decimal``, int or float as a source gives it) in exact rate units.

    Refused, never rounded: more than ten decimals, zero or negative, not a plain decimal
    number, or 10⁸ and above. A float is read through its shortest round-trip text
    (``1.0825``), as :func:`backlog_pipeline.money.parse_cents` reads amounts.
    """
    if value is None or isinstance(value, bool) or (isinstance(value, float) and value != value):
        raise RateValueError(f"rate {value!r} is missing or not a number")
    if isinstance(value, (int, np.integer)):
        units = int(value) * RATE_SCALE
    else:
        if isinstance(value, (float, np.floating)):
            # The shortest round-trip text, in plain notation (1e-05 is 0.00001).
            text = _decimal_text(Decimal(repr(float(value))))
        elif isinstance(value, Decimal):
            text = _decimal_text(value)
        else:
            text = str(value)
        match = _RATE_PATTERN.match(text)
        if match is None or not (match.group(1) or match.group(2)):
            raise RateValueError(_explain_bad_rate(text))
        whole, fraction = match.group(1) or "0", match.group(2) or ""
        if len(fraction.rstrip("0")) > RATE_DECIMALS:
            raise RateValueError(f"rate {text.strip()!r} has more than {RATE_DECIMALS} decimals")
        fraction = fraction.rstrip("0")
        units = int(whole) * RATE_SCALE + int(fraction.ljust(RATE_DECIMALS, "0"))
    if units <= 0:
        raise RateValueError(f"rate {value!r} is not positive")
    if units > MAX_RATE_UNITS:
        raise RateValueError(f"rate {value!r} is not below 100000000")
    return units


def _decimal_text(value: Decimal) -> str:
    """Plain text of a ``Decimal``; NUMERIC(20,12) gives trailing zeros, which are exact."""
    if not value.is_finite():
        return str(value)
    return format(value.normalize() if value == value.to_integral_value() else value, "f")


def _explain_bad_rate(text: str) -> str:
    stripped = text.strip()
    if stripped == "":
        return "rate is missing"
    try:
        number = Decimal(stripped)
    except InvalidOperation:
        return f"rate {stripped!r} is not a number"
    if number.is_finite() and number <= 0:
        return f"rate {stripped!r} is not positive"
    return f"rate {stripped!r} is not a plain decimal number"


def rate_decimal(units: int) -> Decimal:
    """The rate as a ten-decimal ``Decimal``: NUMERIC(20,10) in the warehouse, exact."""
    return Decimal(int(units)).scaleb(-RATE_DECIMALS)


def rates_for_publication(rates: pd.DataFrame) -> pd.DataFrame:
    """The canonical rates as published with a version: ``YYYY-MM`` months, ``Decimal`` rates."""
    published = pd.DataFrame(
        {
            "currency": rates["currency"].astype(object),
            "month": [month_label(month) for month in rates["month"]],
            "average_rate": [rate_decimal(units) for units in rates["average_rate"]],
            "closing_rate": [rate_decimal(units) for units in rates["closing_rate"]],
        }
    )
    return published.reset_index(drop=True)


def empty_rates() -> pd.DataFrame:
    """The canonical rates frame with no rows (a one-currency company)."""
    return pd.DataFrame(
        {
            "currency": pd.Series(dtype=object),
            "month": pd.Series(dtype="int64"),
            "average_rate": pd.Series(dtype="int64"),
            "closing_rate": pd.Series(dtype="int64"),
        }
    )


@dataclass(frozen=True)
class RateTable:
    """The rates as dense arrays, looked up for millions of contract rows at once.

    ``average[i, m - first_month]`` is the average rate of ``currencies[i]`` in month
    ``m`` in rate units; 0 means not published. The reporting currency is 1 everywhere.
    """

    reporting_currency: str
    currencies: tuple[str, ...]
    first_month: int
    average: np.ndarray
    closing: np.ndarray

    @classmethod
    def from_rates(cls, rates: pd.DataFrame, reporting_currency: str) -> RateTable:
        """From the canonical rates frame (one row per currency and month)."""
        foreign = rates[rates["currency"] != reporting_currency]
        currencies = tuple(sorted(foreign["currency"].unique()))
        months = foreign["month"].to_numpy(np.int64)
        first = int(months.min()) if len(months) else 0
        span = int(months.max()) - first + 1 if len(months) else 0
        code = pd.Index(currencies).get_indexer(foreign["currency"])
        tables = []
        for kind in RATE_KINDS:
            table = np.zeros((len(currencies), span), dtype=np.int64)
            table[code, months - first] = foreign[kind].to_numpy(np.int64)
            tables.append(table)
        return cls(reporting_currency, currencies, first, tables[0], tables[1])

    def rates_of(self, kind: str, currency: pd.Categorical, months: np.ndarray) -> np.ndarray:
        """``kind`` (``average_rate`` or ``closing_rate``) for each row's currency and month.

        ``currency`` is a categorical column (a few categories, a code per row), so each
        row is one array lookup; rows of the reporting currency get ``RATE_SCALE``.
        """
        table = self.average if kind == "average_rate" else self.closing
        categories = list(currency.categories)
        # Each category's row in the table: -1 when the currency has no rates at all,
        # -2 for the reporting currency.
        row_of = np.array(
            [
                -2 if code == self.reporting_currency
                else self.currencies.index(code) if code in self.currencies
                else -1
                for code in categories
            ]
            + [-1],  # a missing currency (code -1) has no rates
            dtype=np.int64,
        )  # fmt: skip
        rows = row_of[np.asarray(currency.codes, dtype=np.int64)]
        offsets = np.asarray(months, dtype=np.int64) - self.first_month
        inside = (rows >= 0) & (offsets >= 0) & (offsets < table.shape[1])
        found = np.zeros(len(rows), dtype=np.int64)
        found[inside] = table[rows[inside], offsets[inside]]
        found[rows == -2] = RATE_SCALE
        return found
