"""Contracts in any currency (issue 15): the FX revaluation line, contract rows' currency and
local figures, each currency's flow, the constant-currency view and the rates each version
used.

A warehouse published before had every contract in the reporting currency, so its months
get an FX revaluation of 0.00, local figures equal to their reporting figures, a flow in
their one currency equal to the flow, a constant-currency flow equal to the flow (dated
January of the month's year: with one currency every month's rates give the same figures)
and no rates. Their content digests do not change, so the next close does not restate them.

Money is NUMERIC(18,2) and rates NUMERIC(20,10), as exact text on SQLite (its NUMERIC is a
double; see revision 0002). Frozen as written: later changes are later revisions, never
edits here.

Revision ID: 0003_currencies
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_currencies"
down_revision = "0002"
branch_labels = None
depends_on = None

FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")
LOCAL = tuple(f"{name}_local" for name in FIGURES)
CONTRACT_TABLES = ("contract_backlog", "contract_backlog_history")


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _money() -> sa.types.TypeEngine:
    return sa.Text() if _on_sqlite() else sa.Numeric(18, 2)


def _rate() -> sa.types.TypeEngine:
    return sa.Text() if _on_sqlite() else sa.Numeric(20, 10)


def _figures(with_revaluation: bool) -> list[sa.Column]:
    names = (*FIGURES[:-1], "fx_revaluation", "closing") if with_revaluation else FIGURES
    return [
        *(sa.Column(name, _money(), nullable=False) for name in names),
        sa.Column("net_change", _money(), nullable=False),
    ]


def _add_revaluation_and_local_figures() -> None:
    """Every existing row: fx_revaluation 0.00, local figures = its reporting figures."""
    for table in ("backlog_flow", "publication_versions", *CONTRACT_TABLES):
        op.add_column(
            table, sa.Column("fx_revaluation", _money(), nullable=False, server_default="0.00")
        )
    for table in CONTRACT_TABLES:
        for name in LOCAL:
            op.add_column(table, sa.Column(name, _money(), nullable=False, server_default="0.00"))
        op.execute(f"UPDATE {table} SET " + ", ".join(f"{n}_local = {n}" for n in FIGURES))
    # The defaults only filled the rows there were: new rows always carry their figures.
    for table in ("backlog_flow", "publication_versions", *CONTRACT_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("fx_revaluation", server_default=None)
            if table in CONTRACT_TABLES:
                for name in LOCAL:
                    batch.alter_column(name, server_default=None)


def _create_currency_tables() -> None:
    op.create_table(
        "backlog_flow_by_currency",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        *_figures(with_revaluation=False),
        sa.Column("net_change_pct", _money(), nullable=True),
    )
    op.create_table(
        "backlog_flow_constant_currency",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("constant_month", sa.String(7), nullable=False),
        sa.Column("basis", sa.String(64), nullable=False),
        *_figures(with_revaluation=True),
        sa.Column("net_change_pct", _money(), nullable=True),
    )
    op.create_table(
        "publication_fx_rates",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("average_rate", _rate(), nullable=False),
        sa.Column("closing_rate", _rate(), nullable=False),
    )


def _fill_currency_flows() -> None:
    """The published months' flow as their one currency's flow and as the constant view."""
    figures = ", ".join((*FIGURES, "net_change", "net_change_pct"))
    op.execute(
        f"INSERT INTO backlog_flow_by_currency (period, currency, {figures}) "
        f"SELECT period, currency, {figures} FROM backlog_flow"
    )
    january = "substr(period, 1, 4) || '-01'"
    op.execute(
        "INSERT INTO backlog_flow_constant_currency "
        f"(period, currency, constant_month, basis, fx_revaluation, {figures}) "
        f"SELECT period, currency, {january}, "
        f"'constant currency at ' || {january} || ' rates (non-GAAP)', fx_revaluation, "
        f"{figures} FROM backlog_flow"
    )


def upgrade() -> None:
    _add_revaluation_and_local_figures()
    _create_currency_tables()
    _fill_currency_flows()


def downgrade() -> None:
    for table in ("publication_fx_rates", "backlog_flow_constant_currency",
                  "backlog_flow_by_currency"):  # fmt: skip
        op.drop_table(table)
    for table in ("backlog_flow", "publication_versions", *CONTRACT_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("fx_revaluation")
            if table in CONTRACT_TABLES:
                for name in LOCAL:
                    batch.drop_column(name)
