"""The RPO disclosure's tables (issue 14), published beside the flow in its transaction.

Each table holds the current version of each month (its ``version`` column names it, as in
``publication_versions``); a restatement moves the replaced rows to the table's
``_history`` twin, which has the same columns. Money is NUMERIC(18,2) in the reporting
currency (exact text on SQLite, ``schema.TwoDecimals``); shares in percent have two
decimals, ratios four (``FourDecimals``). A ratio that cannot be computed is null and its
``*_reason`` column says why.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from backlog_pipeline.warehouse.schema import MONEY, TwoDecimals, metadata


class FourDecimals(sa.types.TypeDecorator):
    """A ratio with four decimals: NUMERIC(24,4), and its exact text on SQLite. Twenty
    integer digits hold any ratio of two figures the money columns can hold (up to
    9,999,999,999,999,999.99 over 0.01), even annualized (times 12)."""

    impl = sa.Numeric(24, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(24, 4))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(str(value))
        if exact != exact.quantize(Decimal("0.0001")):
            raise ValueError(f"{value} has more than four decimals")
        exact = exact.quantize(Decimal("0.0001"))
        return format(exact, "f") if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.0001"))


RATIO = FourDecimals()
PERCENT = TwoDecimals()  # written from hundredths of a percent, like money from cents
PARTS = ("within_12_months", "after_12_months", "undated", "over_recognized")
SLICE_FIGURES = (
    "opening", "new_bookings", "converted", "lost", "increases", "decreases", "fx_revaluation",
    "closing",
)  # fmt: skip


def _key(name: str, kind: sa.types.TypeEngine) -> sa.Column:
    return sa.Column(name, kind, primary_key=True)


def _money(*names: str, nullable: bool = False) -> list[sa.Column]:
    return [sa.Column(name, MONEY, nullable=nullable) for name in names]


def _columns() -> dict[str, tuple[list[sa.Column], list[sa.Column]]]:
    """Table name -> (key columns after ``period``, other columns), made afresh per table."""
    return {
        "rpo_disclosure": (
            [],
            [
                sa.Column("currency", sa.String(3), nullable=False),
                *_money("closing", "excluded", "disclosed", *PARTS),
                sa.Column("short_contract_expedient", sa.Boolean, nullable=False),
                sa.Column("duration_from", sa.String(8), nullable=False),
                sa.Column("plan_used", sa.Boolean, nullable=False),
            ],
        ),
        "rpo_contract_timing": (
            [_key("contract_id", sa.String(255))],
            [
                sa.Column("closing", MONEY, nullable=False),
                sa.Column("excluded", sa.Boolean, nullable=False),
                *_money(*PARTS),
                sa.Column("basis", sa.String(16), nullable=False),
            ],
        ),
        "rpo_timing_waterfall": (
            [_key("line", sa.String(16))],
            [
                sa.Column("position", sa.Integer, nullable=False),
                sa.Column("due_month", sa.String(7), nullable=True),
                sa.Column("label", sa.String(32), nullable=False),
                sa.Column("amount", MONEY, nullable=False),
            ],
        ),
        "rpo_exclusion_register": (
            [_key("contract_id", sa.String(255))],
            [
                sa.Column("amount", MONEY, nullable=False),
                sa.Column("reason", sa.Text, nullable=False),
            ],
        ),
        "backlog_slices": (
            [_key("dimension", sa.String(16)), _key("slice", sa.String(255))],
            _money(*SLICE_FIGURES),
        ),
        "backlog_ratios": (
            [],
            [
                sa.Column("cancellation_share_pct", PERCENT, nullable=True),
                sa.Column("cancellation_share_reason", sa.Text, nullable=True),
                sa.Column("book_to_bill", RATIO, nullable=True),
                sa.Column("book_to_bill_reason", sa.Text, nullable=True),
                sa.Column("months_of_revenue", RATIO, nullable=True),
                sa.Column("months_of_revenue_months_used", sa.Integer, nullable=False),
                sa.Column("months_of_revenue_reason", sa.Text, nullable=True),
                sa.Column("budget_next_12_months", MONEY, nullable=True),
                sa.Column("coverage", RATIO, nullable=True),
                sa.Column("current_coverage", RATIO, nullable=True),
                sa.Column("visible_year", sa.Boolean, nullable=True),
                sa.Column("coverage_reason", sa.Text, nullable=True),
                sa.Column("customers", sa.Integer, nullable=False),
                sa.Column("largest_customer_id", sa.String(255), nullable=True),
                sa.Column("largest_customer_share_pct", PERCENT, nullable=True),
                sa.Column("top_10_share_pct", PERCENT, nullable=True),
                sa.Column("concentration_reason", sa.Text, nullable=True),
            ],
        ),
        "backlog_aging": (
            [_key("signing_year", sa.Integer)],
            [sa.Column("label", sa.String(8), nullable=False), *_money("closing")],
        ),
    }


# The current tables, in the order they are written, and their history twins.
DISCLOSURE_TABLES = tuple(_columns())


def _table(name: str, history: bool) -> sa.Table:
    keys, others = _columns()[name]
    version = sa.Column("version", sa.Integer, nullable=False, primary_key=history)
    return sa.Table(
        f"{name}_history" if history else name,
        metadata,
        sa.Column("period", sa.String(7), primary_key=True),
        *keys,
        version,
        *others,
    )


current_tables = {name: _table(name, history=False) for name in DISCLOSURE_TABLES}
history_tables = {name: _table(name, history=True) for name in DISCLOSURE_TABLES}
