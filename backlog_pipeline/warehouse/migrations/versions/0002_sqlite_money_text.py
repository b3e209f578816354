"""SQLite money as exact decimal text (issue 12): every NUMERIC(18,2) column becomes TEXT
holding the canonical two-decimal figure ('12218.75'); PostgreSQL is unchanged.

SQLite's NUMERIC keeps a double, which holds every cent exactly only below about 7×10¹³
(2⁴⁶) currency units. Each stored double is rounded to the nearest cent (half up) and
written as text: exact for every figure the first release could store exactly; a figure
it already stored a cent or two off (above that size) stays as it was stored.

SQLite cannot change a column's type in place, so each table is rebuilt: its indexes are
dropped, it is renamed, created again with TEXT money, its rows copied over (converted in
batches, in Python, so no digit goes through SQLite's 15-digit text conversion), the old
table dropped and the indexes created again. Frozen: it uses nothing of the code that
moves on.

Revision ID: 0002
Revises: 0001
"""

from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")
MONEY = {
    "backlog_flow": (*FIGURES, "net_change", "net_change_pct"),
    "contract_backlog": (*FIGURES, "net_change"),
    "backlog_exceptions": ("amount",),
    "publication_versions": (*FIGURES, "net_change", "net_change_pct"),
    "contract_backlog_history": (*FIGURES, "net_change"),
    "backlog_source_records": ("amount",),
}
INDEXES = {
    "backlog_exceptions": {"ix_backlog_exceptions_check_period": ["check_name", "period"]},
    "backlog_source_records": {
        "ix_backlog_source_records_month": ["period", "version", "contract_id"]
    },
}
CENT = Decimal("0.01")
BATCH = 100_000


def canonical_text(value: object) -> str | None:
    """A stored figure (a double, an integer, or text) as canonical two-decimal text."""
    if value is None:
        return None
    text = repr(value) if isinstance(value, float) else str(value)
    rounded = Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP)
    return format(rounded + 0 if rounded.is_zero() else rounded, "f")


def _rebuilt(name: str, source: sa.Table, text_money: bool) -> sa.Table:
    """``name`` as ``source`` is, with its money columns TEXT (or NUMERIC(18,2) again)."""
    money = sa.Text() if text_money else sa.Numeric(18, 2)
    columns = [
        sa.Column(
            column.name,
            money if column.name in MONEY[name] else column.type,
            primary_key=column.primary_key,
            nullable=column.nullable,
            autoincrement=column.autoincrement if column.primary_key else False,
        )
        for column in source.columns
    ]
    return sa.Table(name, sa.MetaData(), *columns)


def _copy(bind: sa.Connection, source: sa.Table, target: sa.Table, money: tuple[str, ...]) -> None:
    """Every row of ``source`` into ``target``, money converted; other values through their
    types (dates stay dates). Money is read as stored, not through NUMERIC's conversion."""
    selected = [
        sa.type_coerce(column, sa.types.NullType()).label(column.name)
        if column.name in money
        else column
        for column in source.columns
    ]
    text_money = isinstance(target.c[money[0]].type, sa.Text)
    rows = bind.execution_options(yield_per=BATCH).execute(sa.select(*selected))
    for batch in rows.partitions():
        records = [dict(row._mapping) for row in batch]
        for record in records:
            for column in money:
                text = canonical_text(record[column])
                record[column] = text if text_money or text is None else Decimal(text)
        bind.execute(target.insert(), records)


def _convert(text_money: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL (and any other database) has an exact NUMERIC(18,2)
    for name, money in MONEY.items():
        for index in INDEXES.get(name, {}):
            op.drop_index(index, table_name=name)
        old = f"_0002_old_{name}"
        op.rename_table(name, old)
        source = sa.Table(old, sa.MetaData(), autoload_with=bind)
        target = _rebuilt(name, source, text_money)
        target.create(bind)
        _copy(bind, source, target, money)
        op.drop_table(old)
        for index, columns in INDEXES.get(name, {}).items():
            op.create_index(index, name, columns)


def upgrade() -> None:
    _convert(text_money=True)


def downgrade() -> None:
    _convert(text_money=False)
