"""NetSuite: recognition lines through SuiteQL over REST.

``POST /services/rest/query/v1/suiteql?limit=..&offset=..`` with ``Prefer: transient`` and
the query in the body; pages carry ``hasMore``. Offsets are only stable over a total
order, so the operator's query is wrapped and ordered by its ``line_id``, which must be
unique. Authentication is an OAuth 2.0 bearer token taken from the environment.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from backlog_pipeline.canonical import RECOGNITION_COLUMNS
from backlog_pipeline.connectors.http import ConnectorError, HttpClient, HttpPolicy, Log
from backlog_pipeline.connectors.incremental import Batch, latest

ID = "line_id"
MODIFIED = "last_modified"  # optional column of the query: ISO text, for incremental pulls
PAGE_SIZE = 1000  # SuiteQL's largest page
PATH = "/services/rest/query/v1/suiteql"


def system(base_url: str) -> str:
    """Which account a local copy came from: the base URL holds the account id (and
    ``-sb1`` for a sandbox)."""
    return f"NetSuite {base_url.rstrip('/')}"


def wrapped(query: str, since: str | None) -> str:
    """The operator's query, filtered on the mark and ordered by the unique line id.

    ``since`` is a mark this code wrote (``2024-01-10T12:00:00.000Z``); it is checked
    again before it goes into the text, since SuiteQL over REST binds no parameters.
    """
    text = f"SELECT * FROM ({query.strip().rstrip(';')}) source"
    if since:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z", since):
            raise ValueError(f"not a high-water mark: {since!r}")
        text += f" WHERE source.{MODIFIED} >= '{since[:19]}'"
    return f"{text} ORDER BY source.{ID}"


class NetSuiteClient:
    def __init__(self, base_url: str, token: str, policy: HttpPolicy, log: Log) -> None:
        self.url = f"{base_url.rstrip('/')}{PATH}"
        self.http = HttpClient("NetSuite", policy, log)
        self.http.add_secret(token)
        self.headers = {"Authorization": f"Bearer {token}", "Prefer": "transient",
                        "Content-Type": "application/json"}  # fmt: skip
        self.log = log

    def rows(self, suiteql: str) -> list[dict[str, Any]]:
        """Every row of the query, page after page until ``hasMore`` is false."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.http.json(
                "POST", self.url, headers=self.headers, json_body={"q": suiteql},
                params={"limit": str(PAGE_SIZE), "offset": str(offset)},
            )  # fmt: skip
            items = page.get("items")
            if not isinstance(items, list):
                raise ConnectorError("NetSuite", f"POST {self.url}", "a page without items")
            rows.extend(items)
            self.log.info(f"NetSuite: offset {offset}, {len(items)} lines")
            if page.get("hasMore") is not True:
                return rows
            offset += len(items)
            if not items:
                raise ConnectorError("NetSuite", f"POST {self.url}", "hasMore on an empty page")


def fetch(client: NetSuiteClient, query: str, since: str | None) -> Batch:
    """Recognition lines modified at or after ``since`` (all of them without), as text."""
    items = client.rows(wrapped(query, since))
    # SuiteQL returns column names in lower case, and each row's own "links".
    rows = [{key.lower(): value for key, value in item.items() if key != "links"} for item in items]
    columns = list(dict.fromkeys([*RECOGNITION_COLUMNS, *(k for row in rows for k in row)]))
    records = pd.DataFrame(rows, columns=columns, dtype=object)
    mark = latest(records[MODIFIED]) if MODIFIED in records else None
    return Batch(records, mark)


def recognition(records: pd.DataFrame) -> pd.DataFrame:
    return records[[column for column in RECOGNITION_COLUMNS]].reset_index(drop=True)


def signature(query: str) -> str:
    return json.dumps(["suiteql", query.strip()])
