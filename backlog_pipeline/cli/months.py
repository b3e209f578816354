"""``backlog-months``: sign off, reopen, list and trace published months.

    backlog-months lock 2024-03 --by "Jane Roe (CFO)" --reason "Q1 close signed off"
    backlog-months unlock 2024-03 --by "Jane Roe" --reason "late invoice from ERP, restating"
    backlog-months versions [2024-03]
    backlog-months trace 2024-03 [--contract C-0042] [--figure converted] [--version 1]

It works on the warehouse the pipeline publishes to (``BACKLOG_WAREHOUSE_URL``, else the
SQLite file in ``BACKLOG_DATA_DIR``); the URL is shown with its password masked.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.config import WAREHOUSE_URL, SettingsError, load_settings
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.warehouse.schema import (
    backlog_source_records_table,
    contract_backlog_history_table,
    contract_backlog_table,
    create_warehouse_engine,
    period_lock_log_table,
    period_locks_table,
    publication_versions_table,
    redacted,
)
from backlog_pipeline.warehouse.versions import (
    PublicationError,
    current_versions,
    lock_month,
    unlock_month,
)

_FIGURES = ("new_bookings", "converted", "lost", "increases", "decreases")


def _month(text: str) -> int:
    try:
        return parse_month(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month in YYYY-MM form") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backlog-months", description="Lock, unlock, list and trace published months."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("lock", "sign a month off: no run may change it until it is unlocked"),
        ("unlock", "reopen a locked month so a run can restate it"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("month", type=_month)
        command.add_argument("--by", required=True, help="who does it (recorded)")
        command.add_argument("--reason", required=True, help="why (recorded)")
    versions = commands.add_parser("versions", help="every published version, with its run")
    versions.add_argument("month", type=_month, nargs="?")
    trace = commands.add_parser(
        "trace", help="a month's figures down to the contracts and source records behind them"
    )
    trace.add_argument("month", type=_month)
    trace.add_argument("--contract", help="only this contract")
    trace.add_argument("--figure", choices=_FIGURES, help="only the records behind this figure")
    trace.add_argument("--version", type=int, help="an earlier version (default: current)")
    return parser


def _engine() -> sa.Engine:
    settings = load_settings()
    url = os.environ.get(WAREHOUSE_URL, "").strip() or settings.default_warehouse_url
    engine = create_warehouse_engine(url)
    print(f"warehouse: {redacted(url)}")
    return engine


def _show(frame: pd.DataFrame, empty: str) -> None:
    # No number parsing: money prints as the exact two-decimal figure it is stored as.
    print(frame.to_markdown(index=False, disable_numparse=True) if not frame.empty else empty)


def _frame(connection: sa.Connection, query: sa.Select) -> pd.DataFrame:
    result = connection.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _versions(engine: sa.Engine, month: int | None) -> None:
    table = publication_versions_table
    query = sa.select(
        table.c.period,
        table.c.version,
        table.c.restates,
        table.c.closing,
        table.c.run_id,
        table.c.published_at,
        table.c.code_version,
        table.c.source_marks,
    ).order_by(table.c.period, table.c.version)
    if month is not None:
        query = query.where(table.c.period == month_label(month))
    with engine.connect() as connection:
        frame = _frame(connection, query)
        held = _frame(connection, sa.select(period_locks_table))
        log = pd.DataFrame(
            connection.execute(
                sa.select(period_lock_log_table).order_by(period_lock_log_table.c.id)
            )
            .mappings()
            .all()
        )
    _show(frame, "no published versions")
    print("\nlocked months:")
    _show(held, "none")
    if month is not None and not log.empty:
        print("\nlock history:")
        _show(log[log["period"] == month_label(month)], "none")


def _trace(
    engine: sa.Engine, month: int, contract: str | None, figure: str | None, version: int | None
) -> int:
    label = month_label(month)
    with engine.connect() as connection:
        current = current_versions(connection, [month]).get(month)
        if current is None:
            print(f"{label} has not been published")
            return 1
        chosen = version or current.version
        flow = (
            connection.execute(
                sa.select(publication_versions_table).where(
                    (publication_versions_table.c.period == label)
                    & (publication_versions_table.c.version == chosen)
                )
            )
            .mappings()
            .first()
        )
        if flow is None:
            print(f"{label} has no version {chosen} (current: {current.version})")
            return 1
        rows_table = (
            contract_backlog_table if chosen == current.version else contract_backlog_history_table
        )
        rows_query = sa.select(rows_table).where(rows_table.c.period == label)
        if rows_table is contract_backlog_history_table:
            rows_query = rows_query.where(rows_table.c.version == chosen)
        records_query = sa.select(backlog_source_records_table).where(
            (backlog_source_records_table.c.period == label)
            & (backlog_source_records_table.c.version == chosen)
        )
        if contract:
            rows_query = rows_query.where(rows_table.c.contract_id == contract)
            records_query = records_query.where(
                backlog_source_records_table.c.contract_id == contract
            )
        if figure:
            records_query = records_query.where(backlog_source_records_table.c.figure == figure)
        rows = _frame(connection, rows_query)
        records = _frame(connection, records_query)
    print(
        f"{label} version {chosen} (current {current.version}), run {flow['run_id']}, "
        f"published {flow['published_at']:%Y-%m-%d %H:%M} UTC, code {flow['code_version']}"
    )
    _show(pd.DataFrame([{column: flow[column] for column in FLOW_COLUMNS}]), "")
    print("\ncontracts:")
    _show(rows.drop(columns=["version"], errors="ignore"), "no contract rows")
    print("\nsource records:")
    _show(records.drop(columns=["id"], errors="ignore"), "no source records")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        engine = _engine()
    except SettingsError as error:
        print(f"backlog-months: {error}", file=sys.stderr)
        return 2
    try:
        if arguments.command == "lock":
            lock = lock_month(engine, arguments.month, arguments.by, arguments.reason)
            print(f"locked {lock.describe()}")
        elif arguments.command == "unlock":
            unlock_month(engine, arguments.month, arguments.by, arguments.reason)
            print(f"unlocked {month_label(arguments.month)}: {arguments.reason}")
        elif arguments.command == "versions":
            _versions(engine, arguments.month)
        else:
            return _trace(
                engine, arguments.month, arguments.contract, arguments.figure, arguments.version
            )
    except PublicationError as error:
        print(f"backlog-months: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
