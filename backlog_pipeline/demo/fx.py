"""The demo's exchange rates: a seeded monthly walk per currency, written as an ERP table.

Rates have four decimals, as a treasury feed gives them, and are written as text, so
SQLite (which has no decimal type) keeps them exact. Each month's closing rate moves from
the previous one by up to ±2.5%; the average rate lies between the two closings, so a
month whose currency strengthens shows a gain on the backlog held, and one that weakens
a loss.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa

from backlog_pipeline.periods import month_label

# USD for one unit of the currency at the start of the walk.
_START = {"EUR": Decimal("1.0850"), "GBP": Decimal("1.2650")}
_PLACES = Decimal("0.0001")


def draw_rates(
    seed: int, currencies: Sequence[str], first_month: int, last_month: int
) -> list[dict[str, str]]:
    """One row per currency and month (``currency, month, average_rate, closing_rate``)."""
    rng = random.Random(seed + 2)
    rows = []
    for currency in currencies:
        closing = _START[currency]
        for month in range(first_month, last_month + 1):
            previous = closing
            closing = (previous * Decimal(str(1 + rng.uniform(-0.025, 0.025)))).quantize(_PLACES)
            weight = Decimal(str(rng.uniform(0.3, 0.7)))
            average = (previous + (closing - previous) * weight).quantize(_PLACES)
            rows.append(
                {
                    "currency": currency,
                    "month": month_label(month),
                    "average_rate": str(average),
                    "closing_rate": str(closing),
                }
            )
    return rows


def write_rates(url: str, table: str, rows: list[dict[str, str]]) -> None:
    """The rates as a table of the database at ``url`` (replaced if it is there)."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    rates = sa.Table(
        table,
        metadata,
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("average_rate", sa.String, nullable=False),
        sa.Column("closing_rate", sa.String, nullable=False),
    )
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(rates.insert(), rows)
    engine.dispose()
