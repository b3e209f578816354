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

from backlog_pipeline.accounting.rollforward import REPORTING_COLUMNS
from backlog_pipeline.config_checks import SettingsError
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.warehouse.engine import WarehouseUnavailable, open_warehouse, redacted
from backlog_pipeline.warehouse.locks import PublicationError, lock_month, unlock_month
from backlog_pipeline.warehouse.reads import trace, version_history

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
    """The warehouse; reads (and checks) the settings, so a bad one raises SettingsError."""
    from backlog_pipeline.config import WAREHOUSE_URL, settings

    url = os.environ.get(WAREHOUSE_URL, "").strip() or settings.default_warehouse_url
    engine = open_warehouse(url)
    print(f"warehouse: {redacted(url)}")
    return engine


def _show(frame: pd.DataFrame, empty: str) -> None:
    # No number parsing: money prints as the exact two-decimal figure it is stored as.
    print(
        _printable(frame).to_markdown(index=False, disable_numparse=True)
        if not frame.empty
        else empty
    )


def _printable(frame: pd.DataFrame) -> pd.DataFrame:
    """Blank for a missing value, not ``nan``; a whole number as one (``1``, not ``1.0``,
    which a nullable column such as ``restates`` comes back as)."""
    shown = frame.astype(object).where(frame.notna(), "")
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            present = frame[column].dropna()
            if (present == present.round()).all():
                shown[column] = [v if v == "" else str(int(v)) for v in shown[column]]
    return shown


def _versions(engine: sa.Engine, month: int | None) -> None:
    history = version_history(engine, month)
    _show(history.versions, "no published versions")
    print("\nlocked months:")
    _show(history.locks, "none")
    log = history.lock_log
    if month is not None and not log.empty:
        print("\nlock history:")
        _show(log[log["period"] == month_label(month)], "none")


def _trace(
    engine: sa.Engine, month: int, contract: str | None, figure: str | None, version: int | None
) -> int:
    label = month_label(month)
    traced = trace(engine, month, contract, figure, version)
    if traced is None:
        print(f"{label} has not been published")
        return 1
    flow = traced.flow
    if flow is None:
        print(f"{label} has no version {traced.version} (current: {traced.current})")
        return 1
    print(
        f"{label} version {traced.version} (current {traced.current}), run {flow['run_id']}, "
        f"published {flow['published_at']:%Y-%m-%d %H:%M} UTC, code {flow['code_version']}"
    )
    _show(pd.DataFrame([{column: flow[column] for column in REPORTING_COLUMNS}]), "")
    print("\ncontracts:")
    _show(traced.rows.drop(columns=["version"], errors="ignore"), "no contract rows")
    print("\nsource records:")
    _show(traced.records.drop(columns=["id"], errors="ignore"), "no source records")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        engine = _engine()
    except SettingsError as error:
        print(f"backlog-months: {error}", file=sys.stderr)
        return 2
    except WarehouseUnavailable as error:
        print(f"backlog-months: {error}", file=sys.stderr)
        return 1
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
