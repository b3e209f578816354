"""Evidence: the records behind each check's results, and the source rows set aside.

``backlog_exceptions`` holds what every check evaluation found, under its run: a later
evaluation marks the check's earlier rows in its scope ``superseded_at`` (they stay, so the
query shown with a run's result keeps returning that run's records); the current evidence is
the rows without it. ``source_quarantine`` holds the rows of each source that could not be
read (each pull replaces its table's rows).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.periods import month_label, month_labels
from backlog_pipeline.sources.quarantine import QUARANTINE_COLUMNS
from backlog_pipeline.warehouse.bulk import insert_rows
from backlog_pipeline.warehouse.schema import backlog_exceptions_table, source_quarantine_table


def replace_quarantine(
    engine: sa.Engine, table: str, quarantine: pd.DataFrame, run_id: str
) -> None:
    """The rows set aside by the latest pull of ``table`` replace the earlier ones."""
    rows = quarantine[list(QUARANTINE_COLUMNS)].assign(run_id=run_id)
    with engine.begin() as connection:
        connection.execute(
            source_quarantine_table.delete().where(source_quarantine_table.c.table == table)
        )
        insert_rows(connection, source_quarantine_table, rows)


def replace_exceptions(
    engine: sa.Engine,
    check_name: str,
    severity: str,
    asset: str,
    exceptions: pd.DataFrame,
    run_id: str,
    scope: tuple[int | None, int],
) -> None:
    """The findings of one check evaluation supersede that check's earlier ones in its scope.

    ``scope`` is (first, last) month; first None means every month up to last. Undated
    findings are always in scope. What the check no longer finds is no longer current, and
    stays readable under the run that found it.
    """
    first, last = scope
    table = backlog_exceptions_table
    in_scope = table.c.period.is_(None) | (table.c.period <= month_label(last))
    if first is not None:
        in_scope = table.c.period.is_(None) | (
            (table.c.period >= month_label(first)) & (table.c.period <= month_label(last))
        )
    period = exceptions["period"]
    labels = pd.Series(month_labels(period.fillna(0)), index=exceptions.index)
    rows = pd.DataFrame(
        {
            "check_name": check_name,
            "severity": severity,
            "asset": asset,
            "period": labels.where(period.notna(), None),
            "source": exceptions["source"],
            "record_id": _text_or_none(exceptions["record_id"]),
            "contract_id": _text_or_none(exceptions["contract_id"]),
            "amount": exceptions["amount"],
            "reason": exceptions["reason"],
            "run_id": run_id,
            "detected_at": datetime.now(UTC),
        },
        index=exceptions.index,
    )
    now = datetime.now(UTC)
    current = (table.c.check_name == check_name) & in_scope & table.c.superseded_at.is_(None)
    with engine.begin() as connection:
        connection.execute(table.update().where(current).values(superseded_at=now))
        insert_rows(connection, table, rows.assign(detected_at=now))


def _text_or_none(values: pd.Series) -> pd.Series:
    text = pd.Series(None, index=values.index, dtype=object)
    present = values.notna()
    text[present] = values[present].map(str)
    return text


def flagged_periods(engine: sa.Engine, check_name: str) -> list[str]:
    """The months (``YYYY-MM``) ``check_name`` has records for, as its latest runs left them."""
    table = backlog_exceptions_table
    query = (
        sa.select(table.c.period)
        .where((table.c.check_name == check_name) & table.c.superseded_at.is_(None))
        .distinct()
    )
    with engine.connect() as connection:
        return sorted(connection.execute(query).scalars().all())


def quarantined_record_ids(engine: sa.Engine, table_name: str) -> set[str]:
    """The ids of the records of a source table that the latest pull set aside."""
    table = source_quarantine_table
    query = sa.select(table.c.record_id).where(
        (table.c.table == table_name) & table.c.record_id.is_not(None)
    )
    with engine.connect() as connection:
        return set(connection.execute(query).scalars())


def evidence_query(check_name: str, run_id: str) -> str:
    """The query that lists one evaluation's records, for an operator to copy: it returns
    them for good (rows are superseded, never deleted)."""
    return (
        f"SELECT * FROM {backlog_exceptions_table.name} "
        f"WHERE check_name = '{check_name}' AND run_id = '{run_id}'"
    )


def quarantine_query(table_name: str, run_id: str) -> str:
    """The query that lists the rows one run set aside from a source table."""
    return (
        f"SELECT * FROM {source_quarantine_table.name} WHERE \"table\" = '{table_name}' "
        f"AND run_id = '{run_id}'"
    )
