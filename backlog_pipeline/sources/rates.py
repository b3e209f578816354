"""Exchange rates from a CSV file or an ERP table into the canonical rates frame.

The raw shape is ``currency, month, average_rate, closing_rate`` (``month`` as ``YYYY-MM``,
rates as reporting-currency units for one unit of ``currency``, at most ten decimals).
Unlike contract lines, a bad rate is never quarantined: a month converted without its rate
would be wrong, so the whole table is refused, naming every bad row, and the close stops.
A rates table is small (currencies × months), so rows are read one by one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from functools import cache
from pathlib import Path

import pandas as pd
import pycountry

from backlog_pipeline.accounting.fx_rates import (
    RATE_COLUMNS,
    RATE_KINDS,
    RATE_SCALE,
    RateValueError,
    empty_rates,
    rate_units,
)
from backlog_pipeline.periods import month_label, month_of, parse_month
from backlog_pipeline.sources.small_tables import TableUnreadable, read_small_table

_SHOWN = 20  # problems spelled out in the message; all are in ``problems``


class RatesError(ValueError):
    """A rates table that cannot be used; ``problems`` lists each bad row."""

    def __init__(self, source: str, problems: list[dict[str, object]]) -> None:
        lines = [
            f"row {problem['row_number']} ({problem.get('currency') or '?'} "
            f"{problem.get('month') or '?'}): {problem['field']}: {problem['reason']}"
            for problem in problems[:_SHOWN]
        ]
        more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        super().__init__(f"{source}: rates refused: " + "; ".join(lines) + more)
        self.source = source
        self.problems = problems


@cache
def iso_currencies() -> frozenset[str]:
    """The ISO 4217 codes (pycountry's list): the one list the package checks codes against."""
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def _month(value: object) -> int:
    if isinstance(value, (dt.date, pd.Timestamp)):  # a DATE column: its month
        return month_of(value)
    return parse_month(str(value))


def _read_row(
    raw: dict[str, object], reporting_currency: str, known: Collection[str]
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """One raw row's canonical values and its problems as (field, reason)."""
    values: dict[str, object] = {}
    problems: list[tuple[str, str]] = []
    code = raw.get("currency")
    code = str(code).strip().upper() if code is not None and not pd.isna(code) else ""
    if not code:
        problems.append(("currency", "is missing"))
    elif code not in known:
        problems.append(("currency", f"{code!r} is not an ISO 4217 currency code"))
    values["currency"] = code
    try:
        values["month"] = _month(raw.get("month"))
    except (ValueError, TypeError):
        problems.append(("month", f"{raw.get('month')!r} is not a month in YYYY-MM form"))
    for kind in RATE_KINDS:
        try:
            values[kind] = rate_units(raw.get(kind))
        except RateValueError as error:
            problems.append((kind, str(error)))
    if code == reporting_currency and not problems:
        for kind in RATE_KINDS:
            if values[kind] != RATE_SCALE:
                problems.append(
                    (kind, f"the reporting currency {code} has rate 1, not {raw.get(kind)}")
                )
    return values, problems


def parse_rates(
    raw: pd.DataFrame,
    source: str,
    reporting_currency: str,
    known_currencies: Collection[str] | None = None,
) -> pd.DataFrame:
    """The canonical rates frame (``fx_rates.RATE_COLUMNS``) from raw rows, or RatesError.

    ``raw`` has the columns ``currency, month, average_rate, closing_rate`` as text (a CSV
    read with ``dtype=str``) or as SQL gives them (``Decimal``, ``date``). Refused, each
    naming its row (the line in the file, header on line 1): a rate with more than ten
    decimals, a rate that is zero, negative or not a number, a month not in ``YYYY-MM``
    form, a currency that is not ISO 4217 (``known_currencies``, default pycountry's
    list), the same (currency, month) twice. Rows of the reporting currency are dropped
    when their rates are exactly 1 and refused otherwise. Sorted by currency and month.
    """
    missing = [column for column in RATE_COLUMNS if column not in raw.columns]
    if missing:
        raise RatesError(
            source,
            [
                {"row_number": 1, "field": column, "reason": "column is missing"}
                for column in missing
            ],
        )
    known = iso_currencies() if known_currencies is None else known_currencies
    rows, problems, seen = [], [], {}
    for position, record in enumerate(raw[list(RATE_COLUMNS)].to_dict("records")):
        row_number = position + 2
        values, found = _read_row(record, reporting_currency, known)
        if not found and "month" in values:
            key = (values["currency"], values["month"])
            if key in seen:
                found.append(
                    (
                        "month",
                        f"{values['currency']} {month_label(values['month'])} is also on "
                        f"row {seen[key]}",
                    )
                )
            seen.setdefault(key, row_number)
        for field, reason in found:
            problems.append(
                {
                    "source": source,
                    "row_number": row_number,
                    "currency": values.get("currency") or None,
                    "month": record.get("month"),
                    "field": field,
                    "value": None if field == "month" else record.get(field),
                    "reason": reason,
                }
            )
        if not found and values["currency"] != reporting_currency:
            rows.append(values)
    if problems:
        raise RatesError(source, problems)
    if not rows:
        return empty_rates()
    rates = pd.DataFrame(rows, columns=list(RATE_COLUMNS)).astype(
        {"currency": object, "month": "int64", "average_rate": "int64", "closing_rate": "int64"}
    )
    return rates.sort_values(["currency", "month"], ignore_index=True)


def read_rates_csv(
    path: Path, reporting_currency: str, known_currencies: Collection[str] | None = None
) -> pd.DataFrame:
    """:func:`parse_rates` over a CSV file (``BACKLOG_FX_RATES_CSV``), read as text."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    return parse_rates(raw, str(path), reporting_currency, known_currencies)


def read_rates_table(url: str, table: str, source: str, reporting_currency: str) -> pd.DataFrame:
    """:func:`parse_rates` over a table of a database (``BACKLOG_FX_RATES_TABLE`` in the ERP's).

    ``table`` is ``name`` or ``schema.name`` with the canonical columns; it goes through
    SQLAlchemy as a quoted identifier. Values keep the driver's types (``Decimal`` from a
    NUMERIC column, text from SQLite), which :func:`rate_units` reads exactly.
    """
    try:
        raw = read_small_table(url, table, tuple(RATE_COLUMNS))
    except TableUnreadable as error:
        raise RatesError(
            source, [{"row_number": 1, "field": "table", "reason": f"cannot be read: {error}"}]
        ) from None
    return parse_rates(raw, source, reporting_currency)
