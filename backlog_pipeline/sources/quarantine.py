"""The rows a source's mapping refuses: each with its source, record, field, value, reason
and where it is in the source (a file's line, a query's row; for an API record, its page).

Raw frames may carry columns besides SPEC's, named with "@" so no source column clashes;
they say where a row came from, or that a file reader could not read a line as a record.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

QUARANTINE_COLUMNS = ("source", "table", "row_number", "record_id", "field", "value", "reason")
# Columns a raw frame may carry besides SPEC's, named with "@" so no source column clashes.
LINE = "@line"  # the physical line of a file the row starts on: the quarantine's row_number
BROKEN = "@broken"  # why a line could not be read as a record at all: it is set aside whole
BROKEN_TEXT = "@text"  # that line's text, shown as the quarantined value
# Where an API record was fetched ("page 3 of the pull at ..."): API sources have no line
# numbers, so a quarantined record is named by its id and this, and row_number is null.
PAGE = "@page"
# A raw frame's ``attrs[MISSING_REASONS]``: canonical column -> why a source leaves it empty,
# added to "<column> is missing" (a HubSpot deal without a company, a record's empty field).
MISSING_REASONS = "missing_reasons"


@dataclass(frozen=True)
class ParsedTable:
    """Typed rows ready for the accounting, and the rows set aside with their reasons."""

    rows: pd.DataFrame
    quarantine: pd.DataFrame


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in QUARANTINE_COLUMNS})


def _row_numbers(raw: pd.DataFrame) -> pd.Series:
    """Where each row is in its source: the file line it starts on (``@line``) where the
    source says; none for an API record (``@page``); else the position in a query's result,
    counted as lines under a header."""
    numbers = pd.Series(range(2, len(raw) + 2), index=raw.index, dtype="Int64")
    if len(raw) and pd.api.types.is_integer_dtype(raw.index.dtype):
        numbers = pd.Series(raw.index.to_numpy() + 2, index=raw.index, dtype="Int64")
    if PAGE in raw:
        numbers = numbers.where(raw[PAGE].isna())
    if LINE in raw:
        numbers = raw[LINE].astype("Int64").where(raw[LINE].notna(), numbers)
    return numbers


class Quarantine:
    """Collects refused rows, the first reason per row, keyed by the frame's index.

    Lines a file reader could not read as records (``@broken``) are refused first, whole.
    """

    def __init__(self, raw: pd.DataFrame, source: str, table: str, ids: pd.Series) -> None:
        self.raw = raw
        self.source = source
        self.table = table
        self.ids = ids
        self.refused = pd.Series(False, index=raw.index)
        self.parts: list[pd.DataFrame] = []
        self._row_numbers: pd.Series | None = None  # found at the first refusal, if any
        if BROKEN in raw and raw[BROKEN].notna().any():
            self.add("line", raw[BROKEN], raw[BROKEN_TEXT])

    def add(self, field: str, reasons: pd.Series, shown: pd.Series | None = None) -> None:
        """Refuse the rows with a reason; ``shown`` is the value quarantined (the field's)."""
        bad = reasons.notna() & ~self.refused
        if not bad.any():
            return
        labels = reasons.index[bad]
        record_ids = self.ids[labels] if self.ids is not None else pd.Series(pd.NA, index=labels)
        if shown is None:
            shown = self.raw[field] if field in self.raw else pd.Series(pd.NA, index=self.raw.index)
        values = shown[labels]
        if self._row_numbers is None:
            self._row_numbers = _row_numbers(self.raw)
        numbers = self._row_numbers[labels]
        reasons = reasons[labels].astype(object)
        if PAGE in self.raw:
            page = self.raw[PAGE][labels]
            reasons = reasons.where(page.isna(), reasons + " (" + page.astype(str) + ")")
        self.parts.append(
            pd.DataFrame(
                {
                    "source": self.source,
                    "table": self.table,
                    # The file's line, or a query result's row; null for an API record.
                    "row_number": numbers.astype(object).where(numbers.notna(), None),
                    "record_id": record_ids.astype(object).where(record_ids.notna(), None),
                    "field": field,
                    "value": values.map(lambda v: None if pd.isna(v) else str(v)).astype(object),
                    "reason": reasons,
                },
                index=labels,
            )
        )
        self.refused |= bad

    def missing(self, field: str, values: pd.Series) -> None:
        why = self.raw.attrs.get(MISSING_REASONS, {}).get(field)
        self.refuse(field, values.isna(), f"{field} is missing" + (f": {why}" if why else ""))

    def refuse(self, field: str, mask: pd.Series, reason: str | pd.Series) -> None:
        """Refuse the rows under ``mask`` for ``reason`` (one text, or one per row)."""
        if not mask.any():  # the common case: no column of reasons built for nothing
            return
        self.add(field, pd.Series(reason, index=mask.index).where(mask))

    def result(self, rows: pd.DataFrame) -> ParsedTable:
        """The rows kept and the refused ones; each refused row carries its ``amount`` in
        cents where it could be read (NA where not), so a close can say how much it left out.
        """
        if self.parts:
            quarantine = pd.concat(self.parts).sort_index()
            money = next((column for column in ("tcv", "amount") if column in rows), None)
            if money is not None:
                quarantine["amount"] = rows[money].astype("Int64").reindex(quarantine.index)
            quarantine = quarantine.reset_index(drop=True)
        else:
            quarantine = empty_quarantine()
        if not self.parts:  # nothing refused: the rows as they are, not a copy of millions
            return ParsedTable(rows.set_axis(pd.RangeIndex(len(rows)), copy=False), quarantine)
        return ParsedTable(rows[~self.refused].reset_index(drop=True), quarantine)
