"""A CRM export folder: ``contracts.csv`` and ``contract_changes.csv`` in the canonical shape.

Every cell is read as text: parsing and its errors belong to the canonical mapping, which
names each refused row by its line in the file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backlog_pipeline.sources.canonical import CHANGE_COLUMNS, SourceError
from backlog_pipeline.sources.local_copy import latest


def describe(directory: str | Path) -> str:
    return f"CRM export {directory}"


def read_table(directory: str | Path, table: str) -> pd.DataFrame:
    """``<directory>/<table>.csv`` as text columns, blank lines dropped by label."""
    path = Path(directory) / f"{table}.csv"
    if not path.is_file():
        raise SourceError(f"{describe(directory)}: {path.name} not found in {directory}")
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SourceError(f"{describe(directory)}: {path.name} cannot be read: {error}") from None
    # Blank lines are dropped by label, so row numbers still match the file's lines.
    return frame[(frame != "").any(axis=1)]


def high_water_mark(raw: pd.DataFrame) -> str | None:
    """The latest ``updated_at`` of an exported table, if it has the column."""
    return latest(raw["updated_at"]) if "updated_at" in raw else None


def with_exported_changes(changes: pd.DataFrame, directory: str | None) -> pd.DataFrame:
    """Changes derived from a CRM, and those of an export folder when one is set."""
    if not directory:
        return changes
    exported = read_table(directory, "contract_changes")
    # The export's rows keep their labels, so quarantined ones name their line in the file;
    # the CRM's own rows are numbered after them.
    first = int(exported.index.max()) + 1 if len(exported) else 0
    derived = changes.set_axis(range(first, first + len(changes)))
    return pd.concat([exported.reindex(columns=list(CHANGE_COLUMNS)), derived])
