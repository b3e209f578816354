"""A CSV file as the text rows the canonical mapping reads, with their lines.

Each row carries the physical line it starts on (``@line``, the header being line 1), and
lines whose structure is broken come as rows of their own with ``@broken`` (the reason)
and ``@text`` (the line), so the canonical mapping quarantines them with their numbers.

A file whose every line is one record (no line break inside quotes, every quote where
RFC 4180 puts it: checked with numpy over the bytes) is read by pyarrow's CSV reader, after the
lines with another number of fields than the header are set aside: one line is one record,
so the lines are exact. Any other file goes through :mod:`csv_records`, record by record,
with its rules for broken quotes: several times slower than pandas, but never wrong about
where a record ends.
"""

from __future__ import annotations

import csv
import functools
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from backlog_pipeline.sources.canonical import SourceError
from backlog_pipeline.sources.csv_records import (
    TEXT_SHOWN,
    BrokenLine,
    column_names,
    read_records,
)
from backlog_pipeline.sources.quarantine import BROKEN, BROKEN_TEXT, LINE

_CHUNK = 1 << 20  # bytes looked at together: the masks below take a few times this
_QUOTE, _COMMA, _LF, _CR = (ord(c) for c in '",\n\r')


def _chunk_counts(chunk: np.ndarray) -> np.ndarray | None:
    """Fields on each line of ``chunk`` (whole lines), or None if a line is not a record of
    its own with every quote where RFC 4180 puts it (see :func:`_field_counts`)."""
    quote = chunk == _QUOTE
    inside = np.bitwise_xor.accumulate(quote.view(np.uint8)).view(bool) ^ quote  # before each
    after = np.concatenate([chunk[1:], [_LF]])
    if (inside & (chunk == _LF)).any() or ((chunk == _CR) & (inside | (after != _LF))).any():
        return None  # a line break inside quotes, or a lone carriage return
    before = np.concatenate([[_LF], chunk[:-1]])
    opening, closing = quote & ~inside, quote & inside
    if (opening & (before != _COMMA) & (before != _LF) & (before != _QUOTE)).any():
        return None  # a quote inside an unquoted field
    if (closing & (after != _COMMA) & (after != _LF) & (after != _CR) & (after != _QUOTE)).any():
        return None  # text after a closing quote
    starts = np.concatenate([[0], np.flatnonzero(chunk == _LF)[:-1] + 1])
    return np.add.reduceat((chunk == _COMMA) & ~inside, starts, dtype=np.int64) + 1


def _field_counts(data: bytes) -> np.ndarray | None:
    """Fields on each line, when each line is one record (no line break inside quotes, no
    misplaced quote); None otherwise. Counted with numpy, a few megabytes at a time: an
    even number of quotes before a byte puts it outside quotes, since ``""`` keeps parity."""
    if not data.endswith(b"\n"):
        data += b"\n"
    raw = np.frombuffer(data, dtype=np.uint8)
    if b'"' not in data and data.count(b"\r") == data.count(b"\r\n"):
        return _unquoted_counts(raw)
    counts, start = [], 0
    while start < len(raw):
        end = data.find(b"\n", min(start + _CHUNK, len(raw) - 1)) + 1
        part = _chunk_counts(raw[start:end])
        if part is None:
            return None
        counts.append(part)
        start = end
    return np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)


def _unquoted_counts(raw: np.ndarray) -> np.ndarray:
    """Fields on each line of a file without quotes (every line one record): its commas
    plus one, counted from their positions alone."""
    ends = np.flatnonzero(raw == _LF)
    starts = np.concatenate([[0], ends[:-1] + 1])
    commas = np.flatnonzero(raw == _COMMA)
    return np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1


def _plain(data: bytes, name: str) -> tuple[pd.DataFrame, list[BrokenLine]] | None:
    """A file whose every line is one record, read by pyarrow; None for any other file
    (a field with a line break, a misplaced quote, bytes that are not UTF-8)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.split(b"\n", 1)[0].strip(b"\r"):
        return None  # no header: the careful reader says what is wrong
    try:
        data.decode("utf-8")  # not kept: pyarrow decodes again, as it parses
    except UnicodeDecodeError:
        return None
    counts = _field_counts(data)
    if counts is None:
        return None
    header = column_names(next(csv.reader([data.split(b"\n", 1)[0].decode()])), name)
    numbers = np.arange(1, len(counts) + 1)
    broken: list[BrokenLine] = []
    wrong = np.flatnonzero(counts != len(header))
    if len(wrong):  # rare: lines with another number of fields, and blank lines
        lines = data.split(b"\n")
        blank = {int(i) for i in wrong if not lines[i].strip(b"\r")}
        broken = [
            BrokenLine(int(i) + 1, f"{counts[i]} field(s) where the header has {len(header)}",
                       lines[i].rstrip(b"\r").decode()[:TEXT_SHOWN])
            for i in wrong if int(i) not in blank
        ]  # fmt: skip
        gone = set(wrong.tolist())
        data = b"\n".join(line for i, line in enumerate(lines) if i not in gone)
        numbers = np.delete(numbers, wrong)
    table = _arrow_rows(data, header)
    lengths = functools.reduce(pc.add, (pc.binary_length(c) for c in table.columns))
    kept = pc.not_equal(lengths, 0)  # a row of empty fields is no record, as in csv_records
    frame = table.filter(kept).to_pandas()
    frame[LINE] = numbers[1 : len(table) + 1][kept.to_numpy(zero_copy_only=False)]
    return frame, broken


def _arrow_rows(data: bytes, header: list[str]) -> pa.Table:
    """The rows after the header, every field as text (no value taken for missing), read by
    pyarrow's multi-threaded parser: each line is one record, checked above."""
    return pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(column_names=header, skip_rows=1),
        parse_options=pa_csv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )


def read_rows(data: bytes, name: str) -> tuple[pd.DataFrame, list[BrokenLine]]:
    """The rows of one file as text with their ``@line``, and the lines set aside."""
    plain = _plain(data, name)
    if plain is not None:
        return plain
    records = read_records(data, name)
    frame = pd.DataFrame(records.rows, columns=records.header, dtype=object)
    frame[LINE] = pd.array(records.lines, dtype="int64")
    return frame, records.broken


def read_file(path: Path, describe: str) -> pd.DataFrame:
    """Every cell as text with the line it came from (``@line``); set-aside lines as rows
    with ``@broken`` and ``@text``. Parsing values and its errors belong to the canonical
    mapping."""
    name = f"{describe}: {path.name}"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"{name} cannot be read: {error.strerror or error}") from None
    frame, broken = read_rows(data, name)
    if not broken:
        return frame
    aside = pd.DataFrame(
        {
            LINE: [b.line for b in broken],
            BROKEN: [b.reason for b in broken],
            BROKEN_TEXT: [b.text for b in broken],
        }
    )
    together = pd.concat([frame, aside], ignore_index=True)
    return together.sort_values(LINE, kind="stable").reset_index(drop=True)
