"""The RPO disclosure (issue 14): its tables, their history twins, and the digest of each
version's disclosure in ``publication_versions``.

Months published before have no disclosure: their ``disclosure_hash`` is null, and the
next close adds their disclosure to their current version without a new one (allowed on
a locked month too, and logged), since their flow does not change.

Money is NUMERIC(18,2), ratios NUMERIC(24,4), as exact text on SQLite (see revision 0002).
Frozen as written: later changes are later revisions, never edits here.

Revision ID: 0004_rpo_disclosure
Revises: 0003_currencies
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_rpo_disclosure"
down_revision = "0003_currencies"
branch_labels = None
depends_on = None

PARTS = ("within_12_months", "after_12_months", "undated", "over_recognized")
SLICE_FIGURES = (
    "opening", "new_bookings", "converted", "lost", "increases", "decreases", "fx_revaluation",
    "closing",
)  # fmt: skip


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _money(*names: str, nullable: bool = False) -> list[sa.Column]:
    kind = sa.Text() if _on_sqlite() else sa.Numeric(18, 2)
    return [sa.Column(name, kind, nullable=nullable) for name in names]


def _ratio(name: str) -> sa.Column:
    return sa.Column(name, sa.Text() if _on_sqlite() else sa.Numeric(24, 4), nullable=True)


def _text(name: str) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=True)


def _tables() -> dict[str, tuple[list[sa.Column], list[sa.Column]]]:
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
            [sa.Column("contract_id", sa.String(255), primary_key=True)],
            [
                *_money("closing"),
                sa.Column("excluded", sa.Boolean, nullable=False),
                *_money(*PARTS),
                sa.Column("basis", sa.String(16), nullable=False),
            ],
        ),
        "rpo_timing_waterfall": (
            [sa.Column("line", sa.String(16), primary_key=True)],
            [
                sa.Column("position", sa.Integer, nullable=False),
                sa.Column("due_month", sa.String(7), nullable=True),
                sa.Column("label", sa.String(32), nullable=False),
                *_money("amount"),
            ],
        ),
        "rpo_exclusion_register": (
            [sa.Column("contract_id", sa.String(255), primary_key=True)],
            [*_money("amount"), sa.Column("reason", sa.Text, nullable=False)],
        ),
        "backlog_slices": (
            [
                sa.Column("dimension", sa.String(16), primary_key=True),
                sa.Column("slice", sa.String(255), primary_key=True),
            ],
            _money(*SLICE_FIGURES),
        ),
        "backlog_ratios": (
            [],
            [
                *_money("cancellation_share_pct", nullable=True),
                _text("cancellation_share_reason"),
                _ratio("book_to_bill"),
                _text("book_to_bill_reason"),
                _ratio("months_of_revenue"),
                sa.Column("months_of_revenue_months_used", sa.Integer, nullable=False),
                _text("months_of_revenue_reason"),
                *_money("budget_next_12_months", nullable=True),
                _ratio("coverage"),
                _ratio("current_coverage"),
                sa.Column("visible_year", sa.Boolean, nullable=True),
                _text("coverage_reason"),
                sa.Column("customers", sa.Integer, nullable=False),
                sa.Column("largest_customer_id", sa.String(255), nullable=True),
                *_money("largest_customer_share_pct", "top_10_share_pct", nullable=True),
                _text("concentration_reason"),
            ],
        ),
        "backlog_aging": (
            [sa.Column("signing_year", sa.Integer, primary_key=True)],
            [sa.Column("label", sa.String(8), nullable=False), *_money("closing")],
        ),
    }


def upgrade() -> None:
    op.add_column("publication_versions", sa.Column("disclosure_hash", sa.String(64)))
    for name in _tables():
        for history in (False, True):
            keys, others = _tables()[name]
            op.create_table(
                f"{name}_history" if history else name,
                sa.Column("period", sa.String(7), primary_key=True),
                *keys,
                sa.Column("version", sa.Integer, nullable=False, primary_key=history),
                *others,
            )


def downgrade() -> None:
    for name in reversed(list(_tables())):
        op.drop_table(f"{name}_history")
        op.drop_table(name)
    with op.batch_alter_table("publication_versions") as batch:
        batch.drop_column("disclosure_hash")
