"""Calendar months as the accounting period: the one module that knows their encoding.

Inside, a month is an integer ``year * 12 + month - 1`` so that "every month up to E"
is a plain integer comparison over millions of rows; outside it is ``YYYY-MM``. Every
other module converts through these functions and never re-derives the encoding.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

_MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


def month_index(year: int, month: int) -> int:
    """The index of a calendar month; elementwise on numpy arrays and pandas series too."""
    return year * 12 + month - 1


def month_of(day: dt.date) -> int:
    """The month index of one date (a ``datetime.date`` or ``pandas.Timestamp``)."""
    return month_index(day.year, day.month)


def month_indices(dates: pd.Series) -> pd.Series:
    """The month index of each date of a datetime column (NaN where the date is missing)."""
    return month_index(dates.dt.year, dates.dt.month)


def parse_month(text: str) -> int:
    """``YYYY-MM`` (or a monthly partition key ``YYYY-MM-01``) to a month index."""
    match = _MONTH_PATTERN.match(str(text).strip())
    if match is None:
        raise ValueError(f"{text!r} is not a month in YYYY-MM form")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"{text!r} is not a month in YYYY-MM form")
    return month_index(year, month)


def month_label(index: int) -> str:
    year, month0 = divmod(int(index), 12)
    return f"{year:04d}-{month0 + 1:02d}"


def month_labels(indices: object) -> np.ndarray:
    """``YYYY-MM`` of many month indices at once (object array; each label made once)."""
    months, positions = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
    return np.array([month_label(month) for month in months], dtype=object)[positions]


def first_day(index: int) -> dt.date:
    year, month0 = divmod(int(index), 12)
    return dt.date(year, month0 + 1, 1)


def last_day(index: int) -> dt.date:
    year, month0 = divmod(int(index), 12)
    return dt.date(year, month0 + 1, calendar.monthrange(year, month0 + 1)[1])


# Month 0 of numpy's datetime64[M] is 1970-01.
_NUMPY_EPOCH = month_index(1970, 1)


def first_days(indices: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` of the first day of each month index (many at once)."""
    return (np.asarray(indices) - _NUMPY_EPOCH).astype("datetime64[M]").astype("datetime64[D]")


# Dagster's partition keys of the months: ``YYYY-MM``, as every other place writes a month.
PARTITION_KEY_FORMAT = "%Y-%m"


def partition_key(index: int) -> str:
    """The Dagster monthly partition key of a month: its ``YYYY-MM`` label.

    Keys of the first release (``YYYY-MM-01``), in an instance's history, still parse.
    """
    return month_label(index)


def month_positions(periods: ArrayLike, months: Iterable[int]) -> dict[int, np.ndarray]:
    """The row positions of each of ``months`` in a column of month indices, in row order."""
    values = np.asarray(periods, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    return {
        month: order[ordered.searchsorted(month, "left") : ordered.searchsorted(month, "right")]
        for month in months
    }


def fiscal_year_start(index: int, first_calendar_month: int) -> int:
    """The first month of the fiscal year that holds month ``index``, for fiscal years
    starting in calendar month ``first_calendar_month`` (1 = January: calendar years)."""
    start = month_index(int(index) // 12, first_calendar_month)
    return start if start <= index else start - 12
