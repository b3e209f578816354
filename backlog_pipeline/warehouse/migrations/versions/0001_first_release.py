"""The first release's warehouse (0.1.0): the flow, contract rows, versions, locks, evidence.

Frozen as that release created it: later changes are later revisions, never edits here. A
warehouse the first release made (its tables, no ``alembic_version``) is stamped at this
revision and upgraded from it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(18, 2)
FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")


def _figures() -> list[sa.Column]:
    return [
        *(sa.Column(name, MONEY, nullable=False) for name in FIGURES),
        sa.Column("net_change", MONEY, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "backlog_flow",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        *_figures(),
        sa.Column("net_change_pct", sa.Numeric(18, 2), nullable=True),
    )
    op.create_table(
        "contract_backlog",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("contract_id", sa.String(255), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        *_figures(),
    )
    op.create_table(
        "source_quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("table", sa.String(64), nullable=False),
        sa.Column("row_number", sa.Integer, nullable=True),
        sa.Column("record_id", sa.String(255), nullable=True),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_source_quarantine_table", "source_quarantine", ["table"])
    op.create_table(
        "backlog_exceptions",
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
    )
    op.create_index(
        "ix_backlog_exceptions_check_period", "backlog_exceptions", ["check_name", "period"]
    )
    op.create_table(
        "publication_versions",
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
        *_figures(),
        sa.Column("net_change_pct", sa.Numeric(18, 2), nullable=True),
    )
    op.create_table(
        "contract_backlog_history",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("contract_id", sa.String(255), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        *_figures(),
    )
    op.create_table(
        "backlog_source_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("contract_id", sa.String(255), nullable=False),
        sa.Column("figure", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("amount", MONEY, nullable=True),
    )
    op.create_index(
        "ix_backlog_source_records_month",
        "backlog_source_records",
        ["period", "version", "contract_id"],
    )
    op.create_table(
        "period_locks",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("locked_by", sa.String(255), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "period_lock_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "period_lock_log", "period_locks", "backlog_source_records", "contract_backlog_history",
        "publication_versions", "backlog_exceptions", "source_quarantine", "contract_backlog",
        "backlog_flow",
    ):  # fmt: skip
        op.drop_table(table)
