"""A small HTTP server on 127.0.0.1 that replays scripted API responses and records requests.

Each test scripts the replies per method and path, in order; a request nobody scripted gets
a 599 so the test fails loudly. Replies can be slow (to hit the client's timeout) or cut
short (a Content-Length longer than the body, then the connection closed). A path can also be
served by a function of the request (:meth:`FakeApi.serve`), such as :class:`SuiteQlStandIn`.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict/list: JSON; str: sent as it is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: bool = False


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


class FakeApi:
    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.servers: dict[tuple[str, str], Callable[[Seen], Reply]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command, parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    dict(self.headers.items()), body,
                )  # fmt: skip
                with api._lock:
                    api.seen.append(seen)
                    queue = api.replies.get((self.command, parts.path))
                    server = api.servers.get((self.command, parts.path))
                    if queue:
                        reply = queue.popleft()
                    elif server is not None:
                        reply = server(seen)
                    else:
                        reply = Reply(599, "unscripted request")
                time.sleep(reply.delay)
                payload = (
                    reply.body.encode()
                    if isinstance(reply.body, str)
                    else json.dumps(reply.body).encode()
                )
                self.send_response(reply.status)
                content_type = "text/html" if isinstance(reply.body, str) else "application/json"
                self.send_header("Content-Type", content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header(
                    "Content-Length", str(len(payload) + (50 if reply.truncate else 0))
                )
                if reply.truncate:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that was the point

            do_GET = _handle
            do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, method: str, path: str, *replies: Reply) -> None:
        self.replies[(method, path)].extend(replies)

    def serve(self, method: str, path: str, server: Callable[[Seen], Reply]) -> None:
        """Every request to ``method path`` not scripted is answered by ``server``."""
        self.servers[(method, path)] = server

    def paths(self) -> list[str]:
        return [f"{seen.method} {seen.path}" for seen in self.seen]

    def start(self) -> FakeApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SuiteQlStandIn:
    """NetSuite's SuiteQL over REST with its result cap, answered from SQLite.

    The query text runs as sent (SuiteQL over REST binds no parameters, so whatever the
    client quotes is what runs), over a table ``x`` of ``lines``. Like Oracle, empty values
    sort last. The service returns at most ``cap`` results per query: a page that would pass
    it is refused with a 400, and the last page within it says ``hasMore: false`` even when
    rows remain, the worst case for a client that trusts ``hasMore``.
    """

    def __init__(self, lines: list[dict], cap: int, max_page: int = 1000) -> None:
        self.lines = lines
        self.cap = cap
        self.max_page = max_page
        self.queries: list[str] = []

    def __call__(self, seen: Seen) -> Reply:
        query = str(seen.json()["q"])  # type: ignore[index]
        limit, offset = int(seen.query["limit"]), int(seen.query["offset"])
        if offset == 0:
            self.queries.append(query)
        if limit > self.max_page or offset + limit > self.cap:
            refused = {"detail": "Invalid search query.", "o:errorCode": "INVALID_PARAMETER"}
            return Reply(400, {"o:errorDetails": [refused]})
        oracle = re.sub(r"ORDER BY (\S+)$", r"ORDER BY \1 NULLS LAST", query)
        with sqlite3.connect(":memory:") as connection:
            columns = list(self.lines[0])
            connection.execute(f"CREATE TABLE x ({', '.join(columns)})")
            connection.executemany(
                f"INSERT INTO x VALUES ({', '.join('?' for _ in columns)})",
                [tuple(line[c] for c in columns) for line in self.lines],
            )
            cursor = connection.execute(f"{oracle} LIMIT {limit} OFFSET {offset}")
            names = [d[0] for d in cursor.description]
            items = [{"links": [], **dict(zip(names, row, strict=True))} for row in cursor]
            total = connection.execute(f"SELECT COUNT(*) FROM ({query})").fetchone()[0]
        has_more = offset + len(items) < min(total, self.cap)
        return Reply(body={"links": [], "count": len(items), "hasMore": has_more,
                           "items": items, "offset": offset, "totalResults": total})  # fmt: skip
