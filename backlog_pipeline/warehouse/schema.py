"""The warehouse tables, on any SQLAlchemy database (SQLite by default, PostgreSQL in CI).

Money is NUMERIC(18,2) (exact decimal text on SQLite, see :class:`TwoDecimals`) and months
are ``YYYY-MM`` text, as readers of the warehouse see them; the figures are the flow's (see
``accounting.rollforward``). Figures are in the reporting currency (``currency``) unless a
column or table says otherwise: the ``*_local`` figures of a contract row and
``backlog_flow_by_currency`` are in the contract's own currency. Exchange rates are
NUMERIC(20,10), exact (text on SQLite too, see :class:`TenDecimals`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from backlog_pipeline.accounting.fx_rates import rate_decimal, rate_units
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS, REPORTING_COLUMNS
from backlog_pipeline.money import two_decimals

LOCAL_COLUMNS = tuple(f"{column}_local" for column in FLOW_COLUMNS)
metadata = sa.MetaData()


class TwoDecimals(sa.types.TypeDecorator):
    """An exact figure with two decimals: NUMERIC(18,2), and on SQLite its canonical text.

    SQLite has no exact decimal: its NUMERIC keeps a double, which is 1–2 cents off from
    about 7×10¹³ on. There the figure is the text ``12218.75`` in a TEXT column, which
    SQLite stores as written. Readers through SQLAlchemy get the exact ``Decimal`` on any
    database; raw SQL gets that text on SQLite. A value that is not a whole number of cents
    or does not fit NUMERIC(18,2) is refused on every database, never rounded or wrapped.
    """

    impl = sa.Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(18, 2))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        exact = two_decimals(value)
        return format(exact, "f") if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        # SQLite text; a float only where a row predates the text (see migration 0002).
        return two_decimals(value if isinstance(value, str) else repr(value), rounding=True)


class TenDecimals(sa.types.TypeDecorator):
    """An exchange rate, exact: NUMERIC(20,10), and on SQLite its text (``1.0825000000``).

    Written from the ``Decimal`` of ``fx_rates.rate_decimal``; a rate with more than ten
    decimals or not below 10⁸ is refused, as the rates parser refuses it.
    """

    impl = sa.Numeric(20, 10)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(20, 10))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        exact = rate_decimal(rate_units(value))
        return format(exact, "f") if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


MONEY = TwoDecimals()
RATE = TenDecimals()


def _figure_columns(revaluation: bool = True) -> list[sa.Column]:
    """The flow figures and net change, as every table of figures holds them: in the
    reporting currency with the FX revaluation, or in one currency without."""
    return [
        *(
            sa.Column(column, MONEY, nullable=False)
            for column in (REPORTING_COLUMNS if revaluation else FLOW_COLUMNS)
        ),
        sa.Column("net_change", MONEY, nullable=False),
    ]


def _local_columns() -> list[sa.Column]:
    """A contract row's figures in its own currency (``currency``)."""
    return [sa.Column(column, MONEY, nullable=False) for column in LOCAL_COLUMNS]


backlog_flow_table = sa.Table(
    "backlog_flow",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
    sa.Column("net_change_pct", TwoDecimals(), nullable=True),
)

contract_backlog_table = sa.Table(
    "contract_backlog",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("contract_id", sa.String(255), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),  # the contract's currency
    *_figure_columns(),
    *_local_columns(),
)

source_quarantine_table = sa.Table(
    "source_quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("table", sa.String(64), nullable=False),
    sa.Column("row_number", sa.Integer, nullable=True),
    sa.Column("record_id", sa.String(255), nullable=True),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("value", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Index("ix_source_quarantine_table", "table"),
)

backlog_exceptions_table = sa.Table(
    "backlog_exceptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("check_name", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("asset", sa.String(128), nullable=False),
    sa.Column("period", sa.String(7), nullable=True),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("record_id", sa.String(255), nullable=True),
    sa.Column("contract_id", sa.String(255), nullable=True),
    sa.Column("amount", MONEY, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    # Set when a later evaluation of the check replaced the row (revision 0005); the rows
    # stay, so each run's evidence can be read back by its run_id.
    sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_backlog_exceptions_check_period", "check_name", "period"),
    sa.Index("ix_backlog_exceptions_check_run", "check_name", "run_id"),
)

publication_versions_table = sa.Table(
    "publication_versions",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("code_version", sa.String(128), nullable=False),
    sa.Column("source_marks", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("restates", sa.Integer, nullable=True),
    sa.Column("contract_rows", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
    sa.Column("net_change_pct", TwoDecimals(), nullable=True),
    # The RPO disclosure's digest (issue 14); null for a version published without it.
    sa.Column("disclosure_hash", sa.String(64), nullable=True),
)

contract_backlog_history_table = sa.Table(
    "contract_backlog_history",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("contract_id", sa.String(255), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
    *_local_columns(),
)

backlog_source_records_table = sa.Table(
    "backlog_source_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("contract_id", sa.String(255), nullable=False),
    sa.Column("figure", sa.String(16), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(255), nullable=False),
    sa.Column("amount", MONEY, nullable=True),
    sa.Index("ix_backlog_source_records_month", "period", "version", "contract_id"),
)

period_locks_table = sa.Table(
    "period_locks",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("locked_by", sa.String(255), nullable=False),
    sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

period_lock_log_table = sa.Table(
    "period_lock_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

backlog_flow_by_currency_table = sa.Table(
    "backlog_flow_by_currency",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    *_figure_columns(revaluation=False),
    sa.Column("net_change_pct", TwoDecimals(), nullable=True),
)

backlog_flow_constant_currency_table = sa.Table(
    "backlog_flow_constant_currency",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("constant_month", sa.String(7), nullable=False),
    sa.Column("basis", sa.String(64), nullable=False),
    *_figure_columns(),
    sa.Column("net_change_pct", TwoDecimals(), nullable=True),
)

publication_fx_rates_table = sa.Table(
    "publication_fx_rates",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("average_rate", RATE, nullable=False),
    sa.Column("closing_rate", RATE, nullable=False),
)

# The RPO disclosure's tables register themselves in ``metadata`` (issue 14).
from backlog_pipeline.warehouse import disclosure_schema  # noqa: E402, F401
