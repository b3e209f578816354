"""Calendar months as the accounting period.

Inside, a month is an integer ``year * 12 + month - 1`` so that "every month up to E"
is a plain integer comparison over millions of rows; outside it is ``YYYY-MM``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

_MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


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


def month_of(day: dt.date) -> int:
    return month_index(day.year, day.month)


def first_day(index: int) -> dt.date:
    year, month0 = divmod(int(index), 12)
    return dt.date(year, month0 + 1, 1)


def last_day(index: int) -> dt.date:
    year, month0 = divmod(int(index), 12)
    return dt.date(year, month0 + 1, calendar.monthrange(year, month0 + 1)[1])


def partition_key(index: int) -> str:
    """The Dagster monthly partition key (``YYYY-MM-01``) of a month."""
    return first_day(index).isoformat()


def month_positions(periods: ArrayLike, months: Iterable[int]) -> dict[int, np.ndarray]:
    """The row positions of each of ``months`` in a column of month indices, in row order."""
    values = np.asarray(periods, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    return {
        month: order[ordered.searchsorted(month, "left") : ordered.searchsorted(month, "right")]
        for month in months
    }


def month_range(first: int, last: int) -> list[int]:
    return list(range(int(first), int(last) + 1))
