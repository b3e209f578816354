"""The warehouse tables, on any SQLAlchemy database (SQLite by default, PostgreSQL in CI).

Money is NUMERIC(18,2) and months are ``YYYY-MM`` text, as readers of the warehouse see
them; the figures are the flow's (see ``accounting.rollforward``).
"""

from __future__ import annotations

import sqlalchemy as sa

from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS

MONEY = sa.Numeric(18, 2)
metadata = sa.MetaData()


def _figure_columns() -> list[sa.Column]:
    """The flow figures and net change, as every table of figures holds them."""
    return [
        *(sa.Column(column, MONEY, nullable=False) for column in FLOW_COLUMNS),
        sa.Column("net_change", MONEY, nullable=False),
    ]


backlog_flow_table = sa.Table(
    "backlog_flow",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
    sa.Column("net_change_pct", sa.Numeric(18, 2), nullable=True),
)

contract_backlog_table = sa.Table(
    "contract_backlog",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("contract_id", sa.String(255), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
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
    sa.Index("ix_backlog_exceptions_check_period", "check_name", "period"),
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
    sa.Column("net_change_pct", sa.Numeric(18, 2), nullable=True),
)

contract_backlog_history_table = sa.Table(
    "contract_backlog_history",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("contract_id", sa.String(255), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *_figure_columns(),
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
