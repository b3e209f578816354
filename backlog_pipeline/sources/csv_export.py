"""A CRM export folder: ``contracts.csv`` and ``contract_changes.csv`` in the canonical shape.

Every cell is read as text with its line (``csv_file``): parsing and its errors belong to
the canonical mapping, which names each refused row, and each broken line, by its line.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backlog_pipeline.sources.canonical import CHANGE_COLUMNS, SourceError
from backlog_pipeline.sources.csv_file import read_file
from backlog_pipeline.sources.local_copy import latest


def describe(directory: str | Path) -> str:
    return f"CRM export {directory}"


def read_table(directory: str | Path, table: str) -> pd.DataFrame:
    """``<directory>/<table>.csv`` as text columns with their ``@line``; broken lines set
    aside as rows with ``@broken`` and ``@text`` (see ``csv_file``)."""
    path = Path(directory) / f"{table}.csv"
    if not path.is_file():
        raise SourceError(f"{describe(directory)}: {path.name} not found in {directory}")
    return read_file(path, describe(directory))


def high_water_mark(raw: pd.DataFrame) -> str | None:
    """The latest ``updated_at`` of an exported table, if it has the column."""
    return latest(raw["updated_at"]) if "updated_at" in raw else None


def with_exported_changes(changes: pd.DataFrame, directory: str | None) -> pd.DataFrame:
    """Changes derived from a CRM, and those of an export folder when one is set."""
    if not directory:
        return changes
    exported = read_table(directory, "contract_changes")
    # The export's rows keep their lines (``@...`` columns), so quarantined ones name their
    # line in the file; the CRM's own rows are numbered after them.
    first = int(exported.index.max()) + 1 if len(exported) else 0
    derived = changes.set_axis(range(first, first + len(changes)))
    kept = [*CHANGE_COLUMNS, *(c for c in exported.columns if str(c).startswith("@"))]
    return pd.concat([exported.reindex(columns=kept), derived])
