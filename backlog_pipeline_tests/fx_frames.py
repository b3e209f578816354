"""Typed canonical frames for the currency tests, written as a few readable tuples.

Built straight in the typed shape the accounting reads (cents, month indices), so the
currency tests depend on nothing but the accounting itself.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from backlog_pipeline.accounting.currency import with_currency
from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.money import cents_to_decimal, parse_cents
from backlog_pipeline.periods import parse_month


def typed_contracts(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    """(contract_id, signed month YYYY-MM, TCV, currency)."""
    return pd.DataFrame(
        {
            "contract_id": pd.Series([row[0] for row in rows], dtype=object),
            "signed_month": pd.Series([parse_month(row[1]) for row in rows], dtype="int64"),
            "tcv": pd.Series([parse_cents(row[2]) for row in rows], dtype="int64"),
            "currency": pd.Series([row[3] for row in rows], dtype=object),
        }
    )


def typed_changes(*rows: tuple[str, str, str, str | None]) -> pd.DataFrame:
    """(contract_id, effective month, kind, amount or None for a full termination)."""
    return pd.DataFrame(
        {
            "contract_id": pd.Series([row[0] for row in rows], dtype=object),
            "effective_month": pd.Series([parse_month(row[1]) for row in rows], dtype="int64"),
            "kind": pd.Series([row[2] for row in rows], dtype=object),
            "amount": pd.Series(
                [None if row[3] is None else parse_cents(row[3]) for row in rows], dtype="Int64"
            ),
        }
    )


def typed_recognition(*rows: tuple) -> pd.DataFrame:
    """(contract_id, period, amount) or (contract_id, period, amount, amount_reporting);
    with any four-element row the frame has an ``amount_reporting`` column."""
    frame = pd.DataFrame(
        {
            "line_id": pd.Series([f"L{at}" for at in range(len(rows))], dtype=object),
            "contract_id": pd.Series([row[0] for row in rows], dtype=object),
            "period": pd.Series([parse_month(row[1]) for row in rows], dtype="int64"),
            "amount": pd.Series([parse_cents(row[2]) for row in rows], dtype="int64"),
        }
    )
    if any(len(row) > 3 for row in rows):
        frame["amount_reporting"] = pd.Series(
            [parse_cents(row[3]) if len(row) > 3 and row[3] is not None else None for row in rows],
            dtype="Int64",
        )
    return frame


def typed_rates(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    """(currency, month, average rate, closing rate) as text, through the rates parser."""
    from backlog_pipeline.sources.rates import parse_rates

    raw = pd.DataFrame(rows, columns=["currency", "month", "average_rate", "closing_rate"])
    return parse_rates(raw, "test rates", "USD")


def local_rows(contracts, changes, recognition, first: str, last: str):
    """compute_backlog's contract rows with their currency, and its flow."""
    rows, flow = compute_backlog(
        contracts, changes, recognition, parse_month(first), parse_month(last)
    )
    return with_currency(rows, contracts), flow


def months(first: str, last: str) -> list[int]:
    return list(range(parse_month(first), parse_month(last) + 1))


def row_of(frame: pd.DataFrame, period: str, **keys: str) -> pd.Series:
    mask = frame["period"] == parse_month(period)
    for column, value in keys.items():
        mask &= frame[column].astype(object) == value
    (found,) = frame.index[mask]
    return frame.loc[found]


def amounts(row: pd.Series, *columns: str) -> dict[str, Decimal]:
    """Figures of a row in currency units (Decimal), as they are published."""
    return {column: cents_to_decimal(int(row[column])) for column in columns}


def decimals(**figures: str) -> dict[str, Decimal]:
    return {column: Decimal(value) for column, value in figures.items()}
