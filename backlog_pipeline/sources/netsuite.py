"""NetSuite: recognition lines through SuiteQL over REST.

``POST /services/rest/query/v1/suiteql?limit=..&offset=..`` with ``Prefer: transient`` and
the query in the body; pages carry ``hasMore``. Offsets are only stable over a total
order, so the operator's query is wrapped and ordered by its ``line_id``. Authentication is
an OAuth 2.0 bearer token taken from the environment.

One SuiteQL query returns at most 100,000 results (NetSuite's docs), so a source of more
lines is read in key ranges: when a query has given all it may, the next one starts at the
last line id it returned (``line_id >= key``), and the copies of that id already read are
dropped, since the new range returns them all again. Any number of lines completes, and a
line id repeated across a range boundary still reaches the duplicate check whole.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from backlog_pipeline.sources.canonical import RECOGNITION_COLUMNS
from backlog_pipeline.sources.http import ConnectorError, HttpClient, HttpPolicy, Log
from backlog_pipeline.sources.local_copy import Batch, latest, pull_time
from backlog_pipeline.sources.quarantine import PAGE

ID = "line_id"
MODIFIED = "last_modified"  # optional column of the query: ISO text, for incremental pulls
PAGE_SIZE = 1000  # SuiteQL's largest page
MAX_ROWS = 100_000  # SuiteQL's most results per query
PATH = "/services/rest/query/v1/suiteql"


def system(base_url: str) -> str:
    """Which account a local copy came from: the base URL holds the account id (and
    ``-sb1`` for a sandbox)."""
    return f"NetSuite {base_url.rstrip('/')}"


def literal(value: object) -> str:
    """``value`` as a SuiteQL string literal: quotes doubled, as SQL writes them.

    SuiteQL over REST binds no parameters, so a line id (any text the source holds) can
    reach the query only this way; a NUL, which no literal can hold, is refused.
    """
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"line id {text!r} cannot be a SuiteQL literal (it holds a NUL)")
    return "'" + text.replace("'", "''") + "'"


def wrapped(query: str, since: str | None, start: object = None) -> str:
    """The operator's query, filtered on the mark, from line id ``start`` on, ordered by
    line id.

    ``since`` is a mark this code wrote (``2024-01-10T12:00:00.000Z``); it is checked
    again before it goes into the text, since SuiteQL over REST binds no parameters.
    Lines without an id are kept in every range: Oracle sorts them last, so they are read
    once, at the end of the last range.
    """
    text = f"SELECT * FROM ({query.strip().rstrip(';')}) source"
    conditions = []
    if since:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z", since):
            raise ValueError(f"not a high-water mark: {since!r}")
        conditions.append(f"source.{MODIFIED} >= '{since[:19]}'")
    if start is not None:
        conditions.append(f"(source.{ID} >= {literal(start)} OR source.{ID} IS NULL)")
    if conditions:
        text += " WHERE " + " AND ".join(conditions)
    return f"{text} ORDER BY source.{ID}"


def _key(item: dict[str, Any]) -> object:
    return next((value for key, value in item.items() if key.lower() == ID), None)


class NetSuiteClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        policy: HttpPolicy,
        log: Log,
        page_size: int = PAGE_SIZE,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}{PATH}"
        self.http = HttpClient("NetSuite", policy, log)
        self.http.add_secret(token)
        self.headers = {"Authorization": f"Bearer {token}", "Prefer": "transient",
                        "Content-Type": "application/json"}  # fmt: skip
        self.log = log
        self.page_size = page_size
        # The most rows one query is asked for: whole pages within the service's cap.
        self.window = max(1, max_rows // page_size) * page_size

    def _error(self, reason: str) -> ConnectorError:
        return ConnectorError("NetSuite", f"POST {self.url}", reason)

    def _range(self, suiteql: str, where: str) -> tuple[list[dict[str, Any]], bool]:
        """The rows of one query, page after page within the cap, and whether more remain.

        A range that filled the window may have more, whatever ``hasMore`` says: at its cap
        the service may call the last page the last.
        """
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.http.json(
                "POST", self.url, headers=self.headers, json_body={"q": suiteql},
                params={"limit": str(self.page_size), "offset": str(offset)},
            )  # fmt: skip
            items = page.get("items")
            if not isinstance(items, list):
                raise self._error("a page without items")
            for item in items:  # where the line was returned, to name it if quarantined
                item[PAGE] = f"{where}offset {offset}"
            rows.extend(items)
            self.log.info(f"NetSuite: offset {offset}, {len(items)} lines")
            offset += len(items)
            if offset >= self.window:
                return rows, True
            if page.get("hasMore") is not True:
                return rows, False
            if not items:
                raise self._error("hasMore on an empty page")

    def rows(self, query: str, since: str | None) -> list[dict[str, Any]]:
        """Every row of the query, range after range of line ids until one is not full."""
        rows: list[dict[str, Any]] = []
        start: object = None
        while True:
            where = "" if start is None else f"range from {start!r}, "
            found, more = self._range(wrapped(query, since, start), where)
            if not more:
                return rows + found
            last = _key(found[-1])
            if last is None:
                raise self._error(
                    f"more lines without a line_id than one query returns ({self.window}): "
                    "give every line an id"
                )
            # The next range starts at ``last`` and returns all its copies again.
            kept = [row for row in found if _key(row) != last]
            if not kept:
                raise self._error(
                    f"{self.window} lines or more share line_id {last!r}: line_id must be unique"
                )
            rows.extend(kept)
            start = last
            self.log.info(f"NetSuite: {len(rows)} lines so far; next range from {last!r}")


def fetch(client: NetSuiteClient, query: str, since: str | None) -> Batch:
    """Recognition lines modified at or after ``since`` (all of them without), as text."""
    pulled = pull_time()
    items = client.rows(query, since)
    for item in items:
        item[PAGE] = f"{item[PAGE]}, of the pull at {pulled}"
    # SuiteQL returns column names in lower case, and each row's own "links".
    rows = [{key.lower(): value for key, value in item.items() if key != "links"} for item in items]
    columns = list(dict.fromkeys([*RECOGNITION_COLUMNS, *(k for row in rows for k in row)]))
    records = pd.DataFrame(rows, columns=columns, dtype=object)
    mark = latest(records[MODIFIED]) if MODIFIED in records else None
    return Batch(records, mark)


def recognition(records: pd.DataFrame) -> pd.DataFrame:
    kept = [*RECOGNITION_COLUMNS, *([PAGE] if PAGE in records else [])]
    return records[kept].reset_index(drop=True)


def signature(query: str) -> str:
    return json.dumps(["suiteql", query.strip()])
