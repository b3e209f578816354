"""Strict, vectorised parsing of raw source columns.

Each parser returns the parsed values and, per row, the reason the value was refused
(``None`` where it was fine), so the caller can quarantine exactly the bad rows and keep
the good ones. Nothing is guessed: a value that needs interpretation is refused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from backlog_pipeline.money import MAX_ABS_UNITS, AmountError, parse_cents, units_to_cents
from backlog_pipeline.periods import month_index

# The longest amount the digit-by-digit path reads: a sign, 16 digits, a point and 2 more.
_PLAIN_WIDTH = 20
_PLAIN_BATCH = 1_000_000
_ZERO, _NINE, _MINUS, _POINT = (ord(c) for c in "09-.")


def _all_text(raw: pd.Series, missing_allowed: bool) -> bool:
    """Every value is a ``str`` (or missing, if allowed): the common case of a source."""
    if raw.dtype != object:
        return False
    kind = infer_dtype(raw.to_numpy(), skipna=missing_allowed)
    return kind == "string" or (missing_allowed and kind == "empty")


def _as_text(raw: pd.Series) -> pd.Series:
    if _all_text(raw, missing_allowed=False):
        # One call per value rather than pandas' string machinery: millions of ERP ids.
        values = raw.to_numpy()
        text = np.fromiter(map(str.strip, values), dtype=object, count=len(values))
        text[text == ""] = None
        return pd.Series(text, index=raw.index, copy=False)
    text = raw.astype("string").str.strip()
    text = text.mask(text == "")
    return text.astype(object).where(text.notna(), None)


def parse_text(raw: pd.Series) -> pd.Series:
    """Trimmed text (``str`` values in an object column), with empty strings as missing."""
    return _as_text(raw)


def _distinct_values_once(
    parse: Callable[[pd.Series], tuple[pd.Series, pd.Series]], raw: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """``parse`` applied to each distinct text once and spread back over the rows.

    Dates and months repeat: a million contracts are signed on a thousand days, fifteen
    million lines fall in thirty-six months. Only for text (and missing) values, so no two
    values that merely compare equal (``1`` and ``True``) are taken for each other.
    """
    if len(raw) < 1_000 or not _all_text(raw, missing_allowed=True):
        return parse(raw)
    codes, distinct = pd.factorize(raw.to_numpy(), use_na_sentinel=True)
    if len(distinct) > len(raw) // 4:
        return parse(raw)
    # Missing values get a slot of their own, after the distinct texts.
    codes = np.where(codes < 0, len(distinct), codes)
    parsed, reasons = parse(pd.Series([*distinct, None], dtype=object))
    return (
        pd.Series(parsed.array.take(codes), index=raw.index),
        pd.Series(reasons.to_numpy().take(codes), index=raw.index, dtype=object),
    )


# A date, then optionally a time, then optionally its offset from UTC (Z, +05:00, +0000).
_DATE_TIME = (
    r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$"
)


def parse_dates(raw: pd.Series, timezone: str = "UTC") -> tuple[pd.Series, pd.Series]:
    """ISO dates (``YYYY-MM-DD``, a time part allowed) to ``datetime64``; others refused.

    A date-time with an offset (``Z``, ``-05:00``) is an instant: it falls on its day in
    ``timezone``, the close's time zone, so a deal signed at 23:30 in New York on 31 January
    is January's when the close is New York's. A plain date, or a time without an offset,
    keeps the day as written: nothing says where it was.
    """
    return _distinct_values_once(functools.partial(_parse_dates, timezone=timezone), raw)


def _parse_dates(raw: pd.Series, timezone: str) -> tuple[pd.Series, pd.Series]:
    text = _as_text(raw)
    parts = text.str.extract(_DATE_TIME)
    parsed = pd.to_datetime(parts[0], format="%Y-%m-%d", errors="coerce")
    timed = parts[1].notna() & parsed.notna()
    if timed.any():
        zoned = timed & parts[2].notna()
        # The time must be one (25:00 is not); with an offset it also decides the day.
        instants = pd.to_datetime(text[zoned], format="ISO8601", utc=True, errors="coerce")
        local = instants.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
        parsed[zoned] = local.astype(parsed.dtype)
        naive = timed & ~zoned
        written = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        parsed[naive] = parsed[naive].where(written.notna())
    reasons = pd.Series(None, index=raw.index, dtype=object)
    reasons[text.isna()] = "date is missing"
    bad = text.notna() & parsed.isna()
    reasons[bad] = "date " + text[bad].map(repr) + " is not an ISO date (YYYY-MM-DD)"
    return parsed, reasons


def parse_months(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``YYYY-MM`` (or an ISO date, taken as its month) to a month index; others refused."""
    return _distinct_values_once(_parse_months, raw)


def _parse_months(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = _as_text(raw)
    parts = text.str.extract(r"^(\d{4})-(\d{2})(?:-\d{2}(?:[ T].*)?)?$")
    year = pd.to_numeric(parts[0], errors="coerce")
    month = pd.to_numeric(parts[1], errors="coerce")
    valid = year.notna() & month.between(1, 12)
    index = month_index(year, month).where(valid)
    # An ISO date must also be a real date (2024-02-30 is not).
    has_day = pd.to_numeric(text.str.len()).fillna(0) > 7
    dated = valid & has_day
    if dated.any():
        real = pd.to_datetime(text[dated], format="ISO8601", errors="coerce").notna()
        valid = valid & real.reindex(valid.index, fill_value=True)
        index = index.where(valid)
    reasons = pd.Series(None, index=raw.index, dtype=object)
    reasons[text.isna()] = "period is missing"
    bad = text.notna() & ~valid
    reasons[bad] = "period " + text[bad].map(repr) + " is not a month (YYYY-MM)"
    return index.astype("Int64"), reasons


def parse_amounts(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts to integer cents; sub-cent, non-numeric and missing values are refused.

    Plain decimal text (the common case, millions of ERP lines) is read digit by digit in
    numpy; anything else (floats from SQLite, ``Decimal`` from PostgreSQL, exponents,
    spaces, a ``+``) goes through :func:`parse_cents` one by one so the reason is exact.
    """
    reasons = pd.Series(None, index=raw.index, dtype=object)
    cents = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    if raw.empty:
        return cents, reasons
    if pd.api.types.is_integer_dtype(raw.dtype):
        fast = raw.notna() & (raw.abs() < MAX_ABS_UNITS)
        cents[fast] = units_to_cents(raw[fast].astype("int64"))
    else:
        if pd.api.types.is_float_dtype(raw.dtype):
            # repr is the shortest text that round-trips: 12.3 -> '12.3', 0.12999999 stays.
            raw = raw.map(lambda value: None if pd.isna(value) else repr(float(value)))
        values = raw.to_numpy(dtype=object)
        if infer_dtype(values, skipna=False) == "string":
            is_text = np.ones(len(values), dtype=bool)
        else:
            is_text = np.fromiter((type(v) is str for v in values), dtype=bool, count=len(values))
        fast = np.zeros(len(values), dtype=bool)
        texts = np.flatnonzero(is_text)
        value, plain = np.zeros(len(texts), dtype=np.int64), np.zeros(len(texts), dtype=bool)
        for start in range(0, len(texts), _PLAIN_BATCH):  # bounds the code-point matrix
            part = slice(start, start + _PLAIN_BATCH)
            value[part], plain[part] = _plain_cents(values[texts[part]])
        fast[texts[plain]] = True
        if fast.all():
            return pd.Series(pd.array(value, dtype="Int64"), index=raw.index), reasons
        cents[fast] = value[plain]
        fast = pd.Series(fast, index=raw.index)
    for label, value in raw[~fast].items():
        try:
            cents[label] = parse_cents(value)
        except AmountError as error:
            reasons[label] = str(error)
    return cents, reasons


def _plain_cents(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cents of the texts written exactly ``-?DIGITS[.D[D]]`` (at most 16 digits before the
    point), and which texts those are. The rest, rare, is left to :func:`parse_cents`.

    The texts become a matrix of code points, one row each, and the digits are summed
    column by column: exact integer arithmetic, no float and no per-value Python call.
    """
    cents = np.zeros(len(texts), dtype=np.int64)
    if not len(texts):
        return cents, np.zeros(0, dtype=bool)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    plain = (lengths > 0) & (lengths <= _PLAIN_WIDTH)
    width = int(lengths[plain].max()) if plain.any() else 1
    matrix = (
        np.where(plain, texts, "").astype(f"<U{width}").view(np.uint32).reshape(len(texts), width)
    )
    rows = np.arange(len(texts))
    negative = matrix[:, 0] == _MINUS
    first = negative.astype(np.int64)

    def at(offset: np.ndarray) -> np.ndarray:
        return np.where(offset >= 0, matrix[rows, np.clip(offset, 0, width - 1)], 0)

    decimals = np.where(at(lengths - 3) == _POINT, 2, np.where(at(lengths - 2) == _POINT, 1, 0))
    point = np.where(decimals > 0, lengths - decimals - 1, lengths)
    whole_digits = point - first
    plain &= (whole_digits >= 1) & (whole_digits <= 16)
    for column in range(width):
        code = matrix[:, column]
        inside = (column >= first) & (column < lengths) & (column != point)
        digit = (code >= _ZERO) & (code <= _NINE)
        plain &= digit | ~inside
        cents = np.where(inside & digit, cents * 10 + (code.astype(np.int64) - _ZERO), cents)
    cents *= np.array([100, 10, 1], dtype=np.int64)[decimals]
    cents = np.where(negative, -cents, cents)
    # Text whose length numpy sees otherwise (a trailing NUL) is not plain.
    plain &= np.char.str_len(matrix.view(f"<U{width}").ravel()) == lengths
    return np.where(plain, cents, 0), plain
