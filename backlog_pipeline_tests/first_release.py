"""A warehouse as the first release (0.1.0, commit ff490f1) wrote it, for upgrade tests.

``fixtures/first_release_<dialect>.sql`` is that release's DDL, compiled from its own table
definitions; ``fixtures/first_release_rows.json`` holds every row of a warehouse it wrote
(three months closed, January locked, March restated by a late ERP line, an orphan change
flagged). Both were made by running that release's ``backlog-close`` and
``backlog-months lock``, not by this code, so an upgrade is tested against what users have.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa

FIXTURES = Path(__file__).with_name("fixtures")


def first_release_rows() -> dict[str, list[dict[str, object]]]:
    return json.loads((FIXTURES / "first_release_rows.json").read_text())


def write_first_release_warehouse(url: str) -> None:
    """Create the first release's tables at ``url`` and fill them with its rows."""
    engine = sa.create_engine(url)
    ddl = (FIXTURES / f"first_release_{engine.dialect.name}.sql").read_text()
    with engine.begin() as connection:
        for statement in filter(str.strip, ddl.split(";")):
            connection.exec_driver_sql(statement)
        metadata = sa.MetaData()
        metadata.reflect(connection)
        for name, rows in first_release_rows().items():
            table = metadata.tables[name]
            if rows:
                connection.execute(table.insert(), [_typed(table, row) for row in rows])
        if engine.dialect.name == "postgresql":  # the serial sequences follow the rows
            for name in ("backlog_exceptions", "backlog_source_records", "period_lock_log"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {name}))"
                )
    engine.dispose()


def _typed(table: sa.Table, row: dict[str, object]) -> dict[str, object]:
    """ISO text back to datetimes: SQLite's DateTime type takes only datetime objects."""
    typed = dict(row)
    for column in table.columns:
        value = typed.get(column.name)
        if isinstance(column.type, sa.DateTime) and isinstance(value, str):
            typed[column.name] = dt.datetime.fromisoformat(value)
    return typed
