"""A CSV file's records read one by one, so that a broken line never moves a value to
another record.

Python's ``csv`` module reads the records (RFC 4180: a field that begins with ``"`` runs to
the matching ``"``, and ``""`` inside it is one quote; ``strict`` mode refuses text after a
closing quote). This module numbers each record by its first physical line (the header is
line 1, as an editor shows it) and decides what a record whose structure is broken becomes:

1. A record on one line is a row when it parsed cleanly, has the header's number of fields
   and no quote inside an unquoted field (RFC 4180: a field holding quotes is quoted whole);
   otherwise that line is set aside with the reason.
2. A record whose quote never closes (the file ends inside the quoted field) has an
   unbalanced quote for certain: its first line is set aside, and reading goes on from the
   next line.
3. A record over several lines (a quoted field with line breaks, lines L to M) may be a
   stray quote on line L. It is taken as one when line L, that quote read as a plain
   character, has the header's number of fields (a whole row with a typo), and lines
   L+1..M read as whole rows by rule 1, ending exactly at M: line L is set aside
   ("unbalanced quote") and lines L+1..M are rows. A real multi-line field fails this: its
   first line is a fragment, and read alone its last line holds the closing quote inside
   an unquoted field (``...notes",2024-01-01``).
4. Otherwise a whole record over several lines is a row (a legitimate multi-line field),
   unless one of its lines after the first, read alone, has the header's number of fields
   or more: another record's line inside a quoted field is how two records merge, so the
   run goes to rule 5 instead.
5. Otherwise nothing tells where the records between L and M end: every line from L to M
   is set aside, each with its number, and reading goes on after M. Nothing is guessed.

Lines that are not valid UTF-8 are set aside too (the bytes shown as U+FFFD). Values are
never moved between records: a row's fields all come from its own line(s). Set-aside lines
become rows of the raw frame with ``@broken`` (the reason) and ``@text`` (the line), so the
canonical mapping quarantines them with their line numbers like any other refused row.

Why not ``pandas.read_csv`` or ``pyarrow.csv``: both merge lines after a stray quote without
a word, and neither gives a record's physical line once a field holds line breaks
(pyarrow's ``invalid_row_handler`` sees only rows with a wrong field count). A file without
any quote needs none of this: :mod:`csv_file` reads it with pandas.

Limit: two or more quote errors can together form a well-formed multi-line record whose
continuation lines are not rows of their own; no reading of the structure alone tells it
from a real one. One quote added or removed anywhere never moves a value (tested on a
thousand exports).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from backlog_pipeline.sources.canonical import SourceError

TEXT_SHOWN = 1_000  # characters of a set-aside line kept in the quarantine
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes kept by surrogateescape
# RFC 4180: every field either quoted whole (quotes inside doubled) or holding no quote.
_FIELD = r'(?:"(?:[^"]|"")*"|[^",\r\n]*)'
_WELL_QUOTED = re.compile(rf"{_FIELD}(?:,{_FIELD})*(?:\r\n|\r|\n)?")


@dataclass(frozen=True)
class BrokenLine:
    line: int  # physical line in the file, header on line 1
    reason: str
    text: str


@dataclass
class _Record:
    first: int  # 0-based line index
    last: int
    fields: list[str] | None  # None: csv refused it
    error: str | None = None


@dataclass
class CsvTable:
    """The header, each row's fields and first line, and the lines set aside."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    broken: list[BrokenLine] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, bool]:
    """The text, and whether some bytes were not UTF-8 (kept as lone surrogates)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="surrogateescape"), True


class _Reader:
    """The file's physical lines and the reading rules above."""

    def __init__(self, text: str, undecodable: bool) -> None:
        # Split exactly where csv ends a line (\n, \r\n, \r), so indices are physical lines.
        self.lines = io.StringIO(text, newline="").readlines()
        self.bad_bytes = (
            {i for i, line in enumerate(self.lines) if _UNDECODABLE.search(line)}
            if undecodable
            else set()
        )
        if self.bad_bytes:
            for i in self.bad_bytes:
                self.lines[i] = _UNDECODABLE.sub("\ufffd", self.lines[i])

    def records(self, start: int, stop: int) -> Iterator[_Record]:
        """Records starting at line ``start``, reading no line at or after ``stop``."""
        lines = self.lines
        reader = csv.reader((lines[i] for i in range(start, stop)), strict=True)
        consumed = 0
        while True:
            try:
                fields, error = next(reader), None
            except StopIteration:
                return
            except csv.Error as problem:
                fields, error = None, str(problem)
            first, consumed = start + consumed, reader.line_num
            yield _Record(first, start + consumed - 1, fields, error)

    def text(self, index: int) -> str:
        return self.lines[index].rstrip("\r\n")[:TEXT_SHOWN]

    def clean(self, record: _Record, width: int) -> str | None:
        """Why the record is not a whole row (None: it is one)."""
        if self.bad_bytes:
            bad = [i + 1 for i in range(record.first, record.last + 1) if i in self.bad_bytes]
            if bad:
                return f"line {bad[0]} is not valid UTF-8 (shown as \ufffd)"
        if record.fields is None:
            return f"not readable as CSV: {record.error}"
        if len(record.fields) != width:
            return f"{len(record.fields)} field(s) where the header has {width}"
        lines = self.lines[record.first : record.last + 1]
        if any('"' in line for line in lines) and not _WELL_QUOTED.fullmatch("".join(lines)):
            return "a quote inside an unquoted field (a field holding quotes must be quoted)"
        return None

    def row_like(self, index: int, width: int) -> bool:
        """Whether line ``index`` read alone has the header's number of fields or more."""
        return len(next(csv.reader([self.lines[index]]), [])) >= width

    def complete_if_literal(self, index: int, width: int) -> bool:
        """Whether line ``index``, its last quote taken as a plain character, has the
        header's number of fields: what a whole row with one stray quote looks like."""
        fields = next(csv.reader([self.lines[index]]), [])
        return bool(fields) and len(fields) + fields[-1].rstrip("\r\n").count(",") == width


def _blank(fields: list[str] | None) -> bool:
    return fields is not None and not any(fields)


def _header(reader: _Reader, name: str) -> tuple[list[str], int]:
    """The column names and the index of the first line after them."""
    record = next(reader.records(0, len(reader.lines)), None)
    if record is None or _blank(record.fields):
        raise SourceError(f"{name} is empty: its first line must name the columns")
    problem = reader.clean(record, len(record.fields or []))
    if problem is not None:
        raise SourceError(f"{name}, line 1 (the header): {problem}")
    return column_names(record.fields or [], name), record.last + 1


def column_names(fields: list[str], name: str) -> list[str]:
    """The header's fields as column names: an empty one named by its position, none twice."""
    header = [text or f"Unnamed: {i}" for i, text in enumerate(fields)]
    repeated = sorted({n for n in header if header.count(n) > 1})
    if repeated:
        raise SourceError(f"{name}, line 1 (the header): column(s) {', '.join(repeated)} repeated")
    return header


def read_records(data: bytes, name: str) -> CsvTable:
    """The rows of one CSV file, each with its first line, and the lines set aside."""
    reader = _Reader(*decode(data))
    header, start = _header(reader, name)
    table = CsvTable(header)
    width, end = len(header), len(reader.lines)
    while start < end:
        start = _read_from(reader, table, start, end, width)
    return table


def _read_from(reader: _Reader, table: CsvTable, start: int, end: int, width: int) -> int:
    """Rows from line ``start`` until a record needs the rules of several lines; returns
    where reading goes on."""
    for record in reader.records(start, end):
        if record.first == record.last:
            if _blank(record.fields):
                continue
            problem = reader.clean(record, width)
            if problem is None:
                table.rows.append(record.fields)  # type: ignore[arg-type]
                table.lines.append(record.first + 1)
            else:
                table.broken.append(
                    BrokenLine(record.first + 1, problem, reader.text(record.first))
                )
            continue
        return _several_lines(reader, table, record, width)
    return end


def _several_lines(reader: _Reader, table: CsvTable, record: _Record, width: int) -> int:
    """Rules 2 to 5 for a record over lines ``first..last``; returns the next line to read."""
    first, last = record.first, record.last
    if record.error is not None and "unexpected end of data" in record.error:
        reason = "unbalanced quote: the quoted field it opens never closes (the file ends in it)"
        table.broken.append(BrokenLine(first + 1, reason, reader.text(first)))
        return first + 1
    again = list(reader.records(first + 1, last + 1))
    if (
        reader.complete_if_literal(first, width)
        and again
        and again[-1].last == last
        and all(_blank(r.fields) or reader.clean(r, width) is None for r in again)
    ):
        reason = (
            f"unbalanced quote: the quoted field it opens would run over lines {first + 2} to "
            f"{last + 1}, which read as rows of their own"
        )
        table.broken.append(BrokenLine(first + 1, reason, reader.text(first)))
        for row in again:
            if not _blank(row.fields):
                table.rows.append(row.fields)  # type: ignore[arg-type]
                table.lines.append(row.first + 1)
        return last + 1
    problem = reader.clean(record, width)
    if problem is None:
        row_like = [i + 1 for i in range(first + 1, last + 1) if reader.row_like(i, width)]
        if not row_like:
            table.rows.append(record.fields)  # type: ignore[arg-type]
            table.lines.append(first + 1)
            return last + 1
        problem = f"line {row_like[0]}, inside the quoted field, reads as a row of its own"
    reason = (
        f"cannot tell where records end between lines {first + 1} and {last + 1} "
        f"(a quoted field runs over them; {problem}): check the quotes"
    )
    for index in range(first, last + 1):
        table.broken.append(BrokenLine(index + 1, reason, reader.text(index)))
    return last + 1
