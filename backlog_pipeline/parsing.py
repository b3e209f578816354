"""Strict, vectorised parsing of raw source columns.

Each parser returns the parsed values and, per row, the reason the value was refused
(``None`` where it was fine), so the caller can quarantine exactly the bad rows and keep
the good ones. Nothing is guessed: a value that needs interpretation is refused.
"""

from __future__ import annotations

import pandas as pd

from backlog_pipeline.money import MAX_ABS_CENTS, AmountError, parse_cents

_PLAIN_AMOUNT = r"^\s*([+-]?)(\d{1,16})(?:\.(\d{0,2}))?\s*$"


def _as_text(raw: pd.Series) -> pd.Series:
    text = raw.astype("string").str.strip()
    return text.mask(text == "")


def parse_text(raw: pd.Series) -> pd.Series:
    """Trimmed text, with empty strings as missing."""
    return _as_text(raw)


def parse_dates(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO dates (``YYYY-MM-DD``, a time part allowed) to ``datetime64``; others refused."""
    text = _as_text(raw)
    # The calendar date as written; a time or offset after it does not move the day.
    day = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[ T][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")[0]
    parsed = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")
    reasons = pd.Series(None, index=raw.index, dtype=object)
    reasons[text.isna()] = "date is missing"
    bad = text.notna() & parsed.isna()
    reasons[bad] = "date " + text[bad].map(repr) + " is not an ISO date (YYYY-MM-DD)"
    return parsed, reasons


def parse_months(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``YYYY-MM`` (or an ISO date, taken as its month) to a month index; others refused."""
    text = _as_text(raw)
    parts = text.str.extract(r"^(\d{4})-(\d{2})(?:-\d{2}(?:[ T].*)?)?$")
    year = pd.to_numeric(parts[0], errors="coerce")
    month = pd.to_numeric(parts[1], errors="coerce")
    valid = year.notna() & month.between(1, 12)
    index = (year * 12 + month - 1).where(valid)
    # An ISO date must also be a real date (2024-02-30 is not).
    has_day = text.str.len().fillna(0) > 7
    dated = valid & has_day
    if dated.any():
        real = pd.to_datetime(text[dated], format="ISO8601", errors="coerce").notna()
        valid[dated] = real
        index[dated] = index[dated].where(real)
    reasons = pd.Series(None, index=raw.index, dtype=object)
    reasons[text.isna()] = "period is missing"
    bad = text.notna() & ~valid
    reasons[bad] = "period " + text[bad].map(repr) + " is not a month (YYYY-MM)"
    return index.astype("Int64"), reasons


def parse_amounts(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts to integer cents; sub-cent, non-numeric and missing values are refused.

    Plain decimal text (the common case, millions of ERP lines) is parsed in vectorised
    string operations; anything else (floats from SQLite, ``Decimal`` from PostgreSQL,
    exponents) goes through :func:`parse_cents` one by one so the reason is exact.
    """
    reasons = pd.Series(None, index=raw.index, dtype=object)
    cents = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    if raw.empty:
        return cents, reasons
    if pd.api.types.is_integer_dtype(raw.dtype):
        fast = raw.notna() & (raw.abs() < MAX_ABS_CENTS // 100)
        cents[fast] = raw[fast].astype("int64") * 100
    else:
        if pd.api.types.is_float_dtype(raw.dtype):
            # repr is the shortest text that round-trips: 12.3 -> '12.3', 0.12999999 stays.
            raw = raw.map(lambda value: None if pd.isna(value) else repr(float(value)))
        is_text = raw.map(lambda value: isinstance(value, str))
        parts = raw.astype("string").where(is_text).str.extract(_PLAIN_AMOUNT)
        fast = parts[1].notna()
        whole = parts.loc[fast, 1].astype("int64")
        fraction = parts.loc[fast, 2].fillna("").str.ljust(2, "0").astype("int64")
        value = whole * 100 + fraction
        value[parts.loc[fast, 0] == "-"] *= -1
        cents[fast] = value
    for label, value in raw[~fast].items():
        try:
            cents[label] = parse_cents(value)
        except AmountError as error:
            reasons[label] = str(error)
    return cents, reasons
