"""One HTTP session per source: timeouts, bounded retries, and errors safe to show.

The retry loop is written here rather than left to ``urllib3.util.Retry`` because the
rules need what Retry cannot give: a bound on the total time slept across retries, a look
at the body before retrying (HubSpot's daily 429 must stop at once, its other 429s back
off), ``Retry-After`` on any retried status, and each retry logged through the caller's
logger. Secrets registered with :meth:`HttpClient.add_secret` are masked in every message.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from backlog_pipeline.faults import HTTP_RETRY_STATUSES, HTTP_TRANSIENT_ERRORS

# Which statuses and transport failures are worth another try: ``faults``, for every step.
RETRY_STATUSES = HTTP_RETRY_STATUSES
_TRANSIENT = HTTP_TRANSIENT_ERRORS
_BODY_START = 200
_MASK = "***"


class Log(Protocol):
    """What the connectors need of a logger: Python's and Dagster's both have it."""

    def info(self, msg: str) -> Any: ...
    def warning(self, msg: str) -> Any: ...


@dataclass(frozen=True)
class HttpPolicy:
    """Timeout and retry settings, the same for every call of a source."""

    timeout: float = 30.0  # seconds, for the connection and for each read
    max_attempts: int = 6
    backoff: float = 1.0  # the first wait; it doubles each retry, with jitter
    max_backoff: float = 60.0
    max_wait: float = 300.0  # seconds slept across the retries of one call, at most


class ConnectorError(Exception):
    """A source that cannot be read: names the source, the endpoint, the status and the body.

    The endpoint is the URL without its query string or user info, and known secrets are
    masked, so the message is safe for logs, the UI and the event log.
    """

    def __init__(
        self,
        source: str,
        endpoint: str,
        reason: str,
        status: int | None = None,
        body: str = "",
        transient: bool = False,
    ) -> None:
        self.source = source
        # True when a later attempt may succeed (the server was down or slow, a body was cut);
        # False when it cannot (refused, a daily quota, a shape the connector cannot read).
        self.transient = transient
        self.endpoint = endpoint
        self.status = status
        self.body = body
        status_text = f"; HTTP {status}" if status is not None else ""
        body_text = f"; body: {body[:_BODY_START]}" if body else ""
        super().__init__(f"{source}: {endpoint}: {reason}{status_text}{body_text}")


def endpoint_of(method: str, url: str) -> str:
    """``METHOD scheme://host[:port]/path``: no query string, no user or password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{method.upper()} {parts.scheme}://{host}{port}{parts.path}"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """A ``requests.Session`` for one source and the retry loop around every call.

    ``fatal`` looks at a failed response before any retry and returns the reason to stop
    at once (a daily quota, say), or None to follow the usual rules.
    """

    def __init__(
        self,
        source: str,
        policy: HttpPolicy,
        log: Log | None = None,
        fatal: Callable[[requests.Response], str | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.policy = policy
        self.log = log or logging.getLogger(__name__)
        self.fatal = fatal
        self.sleep = sleep
        self.session = requests.Session()
        self.requests_made = 0
        self._secrets: set[str] = set()

    def add_secret(self, value: str | None) -> None:
        if value:
            self._secrets.add(value)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, _MASK)
        return text

    def close(self) -> None:
        self.session.close()

    def _body_start(self, response: requests.Response) -> str:
        try:
            text = response.text
        except (requests.exceptions.RequestException, UnicodeDecodeError):
            return ""
        return self.scrub(" ".join(text[: _BODY_START * 2].split()))[:_BODY_START]

    def _error(
        self,
        endpoint: str,
        reason: str,
        response: requests.Response | None = None,
        transient: bool = False,
    ) -> ConnectorError:
        if response is None:
            return ConnectorError(self.source, endpoint, self.scrub(reason), transient=transient)
        return ConnectorError(
            self.source, endpoint, self.scrub(reason), response.status_code,
            self._body_start(response), transient,
        )  # fmt: skip

    def _describe(self, error: Exception) -> str:
        # requests puts the URL, query string included, into its messages: keep it out.
        text = re.sub(r"url: \S+", "url: <path>", str(error))
        return self.scrub(f"{type(error).__name__}: {text}")

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        data: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """The response of the first successful attempt, or a :class:`ConnectorError`.

        Connection errors, timeouts, cut bodies, 429 and 5xx are retried (POST too: every
        call made here reads), waiting ``Retry-After`` when the server says, else an
        exponential backoff with jitter, until the attempts or the total wait run out.
        """
        endpoint = endpoint_of(method, url)
        policy = self.policy
        waited = 0.0
        for attempt in range(1, policy.max_attempts + 1):
            response: requests.Response | None = None
            self.requests_made += 1
            try:
                response = self.session.request(
                    method, url, headers=headers, params=params, json=json_body, data=data,
                    timeout=policy.timeout,
                )  # fmt: skip
            except _TRANSIENT as error:
                problem = self._describe(error)
            else:
                if response.ok:
                    return response
                reason = self.fatal(response) if self.fatal else None
                if reason is not None:
                    raise self._error(endpoint, reason, response)
                if response.status_code not in RETRY_STATUSES:
                    raise self._error(endpoint, "request refused", response)
                problem = f"HTTP {response.status_code}"
            told = (
                retry_after_seconds(response.headers.get("Retry-After"))
                if response is not None
                else None
            )
            if told is not None:
                delay = told
            else:
                ceiling = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
                delay = random.uniform(ceiling / 2, ceiling)
            if attempt == policy.max_attempts or waited + delay > policy.max_wait:
                why = (
                    f"gave up after {attempt} attempt(s) and {waited:.1f}s of waiting"
                    + (f" (the server asked for {told:.0f}s more)" if told is not None else "")
                    + f"; last: {problem}"
                )
                raise self._error(endpoint, why, response, transient=True)
            self.log.warning(
                f"{self.source}: {endpoint} failed ({problem}); "
                f"retry {attempt} of {policy.max_attempts - 1} in {delay:.2f}s"
            )
            self.sleep(delay)
            waited += delay
        raise AssertionError("unreachable: the loop returns or raises")

    def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """The decoded JSON object of a call.

        A JSON number is a decimal, so it becomes an exact ``Decimal`` (an ``int`` when it
        has no fraction or exponent), never a float: ``1.23456789E7`` is 12345678.90 to the
        cent. JSON strings stay text, for the strict parsers' typed-in rules.
        """
        response = self.request(method, url, **kwargs)
        try:
            payload = json.loads(response.text, parse_float=Decimal)
        except ValueError:
            # A login or maintenance page answered with 200: another try gets the same page,
            # so it fails now, with the start of the page to say what it was.
            raise self._error(
                endpoint_of(method, url),
                "the response is not JSON (a login, proxy or maintenance page?)",
                response,
            ) from None
        if not isinstance(payload, dict):
            raise self._error(endpoint_of(method, url), "response is not a JSON object", response)
        return payload
