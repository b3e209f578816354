"""Evidence per run (issue 17): the records a check evaluation found stay in
``backlog_exceptions`` after the check runs again, so the query shown with a run's result
returns that run's records for good. A later evaluation marks the rows it replaces
``superseded_at`` instead of deleting them; the current evidence is the rows without it.

Rows written before this revision are each the latest of their check: they stay current.
Frozen as written: later changes are later revisions, never edits here.

Revision ID: 0005_evidence_runs
Revises: 0003_currencies
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_evidence_runs"
down_revision = "0004_rpo_disclosure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "backlog_exceptions",
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_backlog_exceptions_check_run", "backlog_exceptions", ["check_name", "run_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_backlog_exceptions_check_run", table_name="backlog_exceptions")
    with op.batch_alter_table("backlog_exceptions") as batch:
        batch.drop_column("superseded_at")
