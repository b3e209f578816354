"""The HTTP client against a real local server: retries, waits, timeouts and safe errors."""

import logging
import socket
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backlog_pipeline.sources.http import (
    ConnectorError,
    HttpClient,
    HttpPolicy,
    endpoint_of,
    retry_after_seconds,
)
from backlog_pipeline_tests.fake_api import Reply

TOKEN = "tok-http-SECRET-123"
FAST = HttpPolicy(timeout=2.0, max_attempts=4, backoff=0.01, max_backoff=0.05, max_wait=5.0)


def client(policy: HttpPolicy = FAST, **kwargs) -> tuple[HttpClient, list[float]]:
    slept: list[float] = []
    http = HttpClient("TestSource", policy, logging.getLogger("test"), sleep=slept.append, **kwargs)
    http.add_secret(TOKEN)
    return http, slept


def test_a_500_then_success_is_retried_for_post_and_logged(fake_api, caplog):
    fake_api.script("POST", "/q", Reply(500, {"error": "boom"}), Reply(200, {"rows": [1.50]}))
    http, slept = client()
    with caplog.at_level(logging.WARNING):
        payload = http.json("POST", f"{fake_api.url}/q?page=1", json_body={"q": "x"})
    # A JSON number becomes an exact Decimal: no float on the way.
    assert payload == {"rows": [Decimal("1.5")]} and type(payload["rows"][0]) is Decimal
    assert fake_api.paths() == ["POST /q", "POST /q"]
    assert [seen.json() for seen in fake_api.seen] == [{"q": "x"}, {"q": "x"}]
    assert len(slept) == 1 and 0.005 <= slept[0] <= 0.01  # first backoff: base/2 .. base
    assert "HTTP 500" in caplog.text and "retry 1 of 3" in caplog.text


def test_retry_after_in_seconds_is_waited_exactly(fake_api):
    fake_api.script(
        "GET", "/r", Reply(429, {"message": "slow down"}, {"Retry-After": "3"}), Reply(200, {})
    )
    http, slept = client()
    assert http.json("GET", f"{fake_api.url}/r") == {}
    assert slept == [3.0]


def test_429_without_retry_after_backs_off_exponentially(fake_api):
    fake_api.script("GET", "/r", Reply(429, {}), Reply(429, {}), Reply(429, {}), Reply(200, {}))
    http, slept = client()
    http.json("GET", f"{fake_api.url}/r")
    # base 0.01 doubling, capped at 0.05, each drawn from [ceiling/2, ceiling].
    assert len(slept) == 3
    for wait, ceiling in zip(slept, (0.01, 0.02, 0.04), strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_retry_after_as_an_http_date():
    now = datetime(2024, 1, 10, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Wed, 10 Jan 2024 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 10 Jan 2024 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("12", now) == 12.0


def test_a_wait_beyond_the_budget_gives_up_at_once_naming_source_endpoint_status(fake_api):
    fake_api.script(
        "GET", "/limited", Reply(503, {"detail": "maintenance"}, {"Retry-After": "600"})
    )
    http, slept = client()
    with pytest.raises(ConnectorError) as raised:
        http.json("GET", f"{fake_api.url}/limited?api_key=abc")
    message = str(raised.value)
    assert message.startswith(f"TestSource: GET {fake_api.url}/limited: gave up after 1 attempt")
    assert "the server asked for 600s more" in message
    assert 'HTTP 503; body: {"detail": "maintenance"}' in message
    assert "api_key" not in message and slept == []


def test_giving_up_masks_a_token_the_server_echoes(fake_api):
    echo = {"error": f"bad header Bearer {TOKEN}"}
    fake_api.script("GET", "/echo", *[Reply(502, echo)] * 4)
    http, slept = client()
    with pytest.raises(ConnectorError) as raised:
        http.json("GET", f"{fake_api.url}/echo", headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(fake_api.seen) == 4 and len(slept) == 3
    assert TOKEN not in str(raised.value) and "Bearer ***" in str(raised.value)
    assert raised.value.status == 502


def test_a_client_error_is_not_retried(fake_api):
    fake_api.script("GET", "/missing", Reply(404, {"message": "no such object"}))
    http, _ = client()
    with pytest.raises(ConnectorError, match=r"request refused; HTTP 404; body: .*no such object"):
        http.json("GET", f"{fake_api.url}/missing")
    assert len(fake_api.seen) == 1


def test_a_non_json_body_is_a_clear_error_with_its_start(fake_api):
    fake_api.script("GET", "/html", Reply(200, "<html><body>Service Unavailable</body></html>"))
    http, _ = client()
    with pytest.raises(
        ConnectorError, match="maintenance page\\?\\); HTTP 200; body: <html><body>Serv"
    ):
        http.json("GET", f"{fake_api.url}/html")
    assert len(fake_api.seen) == 1


def test_a_truncated_body_is_retried(fake_api):
    fake_api.script("GET", "/cut", Reply(200, {"rows": [1, 2, 3]}, truncate=True), Reply(200, {}))
    http, slept = client()
    assert http.json("GET", f"{fake_api.url}/cut") == {}
    assert len(fake_api.seen) == 2 and len(slept) == 1


def test_a_slow_response_hits_the_timeout_then_is_retried(fake_api):
    fake_api.script("GET", "/slow", Reply(200, {"late": True}, delay=0.5), Reply(200, {"ok": 1}))
    http, slept = client(HttpPolicy(timeout=0.2, max_attempts=2, backoff=0.01))
    started = time.monotonic()
    assert http.json("GET", f"{fake_api.url}/slow") == {"ok": 1}
    assert time.monotonic() - started < 0.45  # did not wait for the slow reply
    assert len(fake_api.seen) == 2 and len(slept) == 1


def test_timeouts_until_the_attempts_run_out(fake_api):
    fake_api.script("GET", "/slow", *[Reply(200, {}, delay=0.4)] * 2)
    http, _ = client(HttpPolicy(timeout=0.2, max_attempts=2, backoff=0.01))
    with pytest.raises(ConnectorError, match=r"gave up after 2 attempt\(s\).*ReadTimeout"):
        http.json("GET", f"{fake_api.url}/slow")


def test_a_refused_connection_is_retried_then_reported_without_the_query():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http, slept = client(HttpPolicy(timeout=0.5, max_attempts=3, backoff=0.01))
    with pytest.raises(ConnectorError) as raised:
        http.json("GET", f"http://127.0.0.1:{port}/x?q=SELECT+secret")
    assert len(slept) == 2
    assert "ConnectionError" in str(raised.value) and "SELECT" not in str(raised.value)


def test_an_endpoint_never_shows_user_password_or_query():
    url = "https://user:pw@example.com:8443/services/data?q=x"
    assert endpoint_of("get", url) == "GET https://example.com:8443/services/data"


def test_a_page_that_is_not_json_fails_at_once_naming_the_endpoint_and_the_page(fake_api):
    login = "<html><head><title>Login | Salesforce</title></head><body>Please log in</body></html>"
    fake_api.script("GET", "/services/data", Reply(200, login), Reply(200, {"ok": 1}))
    http, slept = client()
    with pytest.raises(ConnectorError) as raised:
        http.json("GET", f"{fake_api.url}/services/data?q=secret")
    message = str(raised.value)
    assert message.startswith(f"TestSource: GET {fake_api.url}/services/data: ")
    assert "not JSON" in message and "<html><head><title>Login | Salesforce" in message
    assert not raised.value.transient  # a retry would get the same page
    assert len(fake_api.seen) == 1 and slept == []
