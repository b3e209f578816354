"""Versioned publication: a month's figures change only as a new, recorded version.

The current figures live in ``backlog_flow`` and ``contract_backlog`` (what readers query);
every version of a month is a row of ``publication_versions`` with the run that made it,
the code version and the source high-water marks; the contract rows a restatement replaced
move to ``contract_backlog_history``; the source records behind each version's figures are in
``backlog_source_records``, and the exchange rates they used in ``publication_fx_rates``
(the currency tables are ``fx_publication``'s). A locked month (``period_locks``) is never
overwritten.

Plain SQLAlchemy, no Dagster: the same functions serve the pipeline and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.currency_close import CurrencyFigures
from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.bulk import insert_rows
from backlog_pipeline.warehouse.bulk_stage import StagedLoads
from backlog_pipeline.warehouse.disclosure_publication import (
    DisclosureFrames,
    add_missing_disclosure,
    disclosure_digests,
    disclosure_moved,
    replace_disclosure,
    stage_disclosure,
)
from backlog_pipeline.warehouse.fingerprints import month_fingerprints
from backlog_pipeline.warehouse.fx_publication import (
    replace_currency_tables,
)
from backlog_pipeline.warehouse.locks import PeriodLockedError, locks, refuse_skipped_lock
from backlog_pipeline.warehouse.month_rows import records_by_month, stage_months
from backlog_pipeline.warehouse.reads import CurrentVersion, current_versions
from backlog_pipeline.warehouse.records import flow_records
from backlog_pipeline.warehouse.schema import (
    backlog_flow_table,
    backlog_source_records_table,
    contract_backlog_history_table,
    contract_backlog_table,
    publication_versions_table,
)


@dataclass(frozen=True)
class RunStamp:
    """Who made a version: the run, the code and what was read from the sources."""

    run_id: str
    code_version: str
    source_marks: dict[str, Any]
    published_at: datetime


@dataclass(frozen=True)
class MonthOutcome:
    month: int
    version: int
    status: str  # "first" | "restated" | "unchanged"
    restates: int | None = None


def _supersede(connection: sa.Connection, label: str, version: int) -> None:
    """Move a month's current contract rows to the history under the version they were."""
    current = contract_backlog_table
    columns = [column.name for column in current.columns]
    connection.execute(
        contract_backlog_history_table.insert().from_select(
            [*columns, "version"],
            sa.select(*current.c, sa.literal(version, sa.Integer)).where(current.c.period == label),
        )
    )


def _changed_months(
    connection: sa.Connection,
    months: Sequence[int],
    fingerprints: dict[int, str],
    disclosure: dict[int, str],
) -> tuple[dict[int, CurrentVersion], list[int]]:
    """The months' current versions and the months whose content differs from them: the
    flow and contract rows, or a disclosure published before (``disclosure``: its digests).

    Refuses (nothing written) if a changed month is locked.
    """
    current = current_versions(connection, months)

    def differs(month: int) -> bool:
        published = current[month]
        moved = disclosure_moved(published.disclosure_hash, disclosure.get(month))
        return published.content_hash != fingerprints[month] or moved

    changed = [m for m in months if m not in current or differs(m)]
    held = locks(connection, [m for m in changed if m in current])
    if held:
        listed = "; ".join(lock.describe() for lock in held.values())
        raise PeriodLockedError(
            f"Refusing to publish: the recomputed figures differ from the published ones "
            f"for locked month(s) {listed}. Nothing was written. Unlock with "
            f"`backlog-months unlock YYYY-MM --by NAME --reason TEXT` to restate them."
        )
    return current, changed


def _replace_months(
    connection: sa.Connection,
    current: dict[int, CurrentVersion],
    versions: dict[int, int],
    flow_rows: list[dict[str, object]],
    loads: StagedLoads,
    row_counts: dict[int, int],
) -> dict[int, int]:
    """The ``versions``' months replaced: their current flow and contract rows (the old rows
    kept in the history), then the new ones with their source records; rows per month."""
    changed = list(versions)
    for month in changed:
        if month in current:
            _supersede(connection, month_label(month), current[month].version)
    labels = [month_label(m) for m in changed]
    for table in (backlog_flow_table, contract_backlog_table):
        connection.execute(table.delete().where(table.c.period.in_(labels)))
    insert_rows(connection, backlog_flow_table, flow_rows)
    loads.insert_parts(connection, contract_backlog_table, {label: {} for label in labels})
    loads.insert_parts(
        connection,
        backlog_source_records_table,
        {label: {"version": versions[m]} for m, label in zip(changed, labels, strict=True)},
    )
    return {month: row_counts[month] for month in changed}


def _version_rows(
    flow_rows: list[dict[str, object]],
    months: list[int],
    current: dict[int, CurrentVersion],
    versions: dict[int, int],
    counts: dict[int, int],
    fingerprints: dict[int, str],
    stamp: RunStamp,
    disclosure: dict[int, str],
) -> list[dict[str, object]]:
    marks = json.dumps(stamp.source_marks, sort_keys=True, default=str)
    return [
        {
            **record,
            "version": versions[month],
            "run_id": stamp.run_id,
            "published_at": stamp.published_at,
            "code_version": stamp.code_version,
            "source_marks": marks,
            "content_hash": fingerprints[month],
            "restates": current[month].version if month in current else None,
            "contract_rows": counts[month],
            "disclosure_hash": disclosure.get(month),
        }
        for month, record in zip(months, flow_rows, strict=True)
    ]


def publish_versions(
    engine: sa.Engine,
    months: Sequence[int],
    flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    source_records: pd.DataFrame | Callable[[int], pd.DataFrame],
    currency: str,
    stamp: RunStamp,
    figures: CurrencyFigures | None = None,
    disclosure: DisclosureFrames | None = None,
) -> list[MonthOutcome]:
    """Publish the months whose figures changed as new versions, in one transaction.

    Unchanged months are left exactly as they are (no new version, nothing rewritten). If
    any changed month is locked, nothing at all is written. Two runs racing to publish the
    same month collide on the version key; the loser's transaction is rolled back whole.
    ``source_records`` is a frame of every month's records, or gives one month's when called.
    ``figures`` (each currency's flow, the constant-currency view, the rates used) are
    published with the months' versions; without them those tables are left alone. So is
    ``disclosure`` (the RPO disclosure's tables, see ``disclosure_publication``): an
    unchanged month published without it gets it added to its version (status
    ``disclosure added``).
    """
    fingerprints = month_fingerprints(flow, contract_rows, currency, figures)
    records_of = records_by_month(source_records, list(months))
    tables = disclosure.published(list(months)) if disclosure is not None else {}
    digests = disclosure_digests(tables, list(months)) if tables else {}
    with StagedLoads(engine) as loads:
        with engine.connect() as connection:  # the months most likely changed: staged ahead
            ahead = _changed_months(connection, months, fingerprints, digests)[1]
            if ahead:  # a refusal comes before any work; the transaction asks again
                _refuse_skipped_lock(connection, months, flow)
        positions = stage_months(loads, ahead, contract_rows, records_of, currency)
        stage_disclosure(loads, tables, ahead)
        with engine.connect() as connection, loads.attached(connection), connection.begin():
            current, changed = _changed_months(connection, months, fingerprints, digests)
            kept = [m for m in months if m not in changed]
            added = add_missing_disclosure(
                connection, {m: current[m] for m in kept}, tables, digests, stamp.run_id,
                stamp.published_at,
            )  # fmt: skip
            if changed:
                # Months that changed since the look ahead are inserted in the transaction.
                positions |= stage_months(
                    loads, [m for m in changed if m not in positions], contract_rows,
                    records_of, currency,
                )  # fmt: skip
                versions = _publish_changed(
                    connection, months, flow, current, changed, loads, positions, currency,
                    fingerprints, stamp, figures, tables, digests,
                )  # fmt: skip
    unchanged = [MonthOutcome(m, current[m].version, added.get(m, "unchanged")) for m in kept]
    return sorted(
        unchanged
        + [
            MonthOutcome(
                m,
                versions[m],
                "restated" if m in current else "first",
                current[m].version if m in current else None,
            )
            for m in changed
        ],
        key=lambda outcome: outcome.month,
    )


def _refuse_skipped_lock(
    connection: sa.Connection, months: Sequence[int], flow: pd.DataFrame
) -> None:
    first = flow.loc[flow["period"] == months[0], "opening"]
    if len(first):
        refuse_skipped_lock(connection, months[0], int(first.iloc[0]))


def _publish_changed(
    connection: sa.Connection,
    months: Sequence[int],
    flow: pd.DataFrame,
    current: dict[int, CurrentVersion],
    changed: list[int],
    loads: StagedLoads,
    positions: dict[int, np.ndarray],
    currency: str,
    fingerprints: dict[int, str],
    stamp: RunStamp,
    figures: CurrencyFigures | None,
    tables: dict[str, pd.DataFrame],
    digests: dict[int, str],
) -> dict[int, int]:
    """Inside the transaction: the changed months replaced; their new version numbers."""
    _refuse_skipped_lock(connection, months, flow)
    versions = {m: current[m].version + 1 if m in current else 1 for m in changed}
    new_flow = flow[flow["period"].isin(set(changed))]
    flow_rows = flow_records(new_flow, currency)
    counts = _replace_months(
        connection,
        current,
        versions,
        flow_rows,
        loads,
        {month: len(at) for month, at in positions.items()},
    )
    replace_currency_tables(connection, versions, figures, currency)
    if tables:
        replace_disclosure(connection, versions, tables, loads)
    published = new_flow["period"].astype(int).tolist()
    insert_rows(
        connection,
        publication_versions_table,
        _version_rows(
            flow_rows, published, current, versions, counts, fingerprints, stamp, digests
        ),
    )
    return versions
