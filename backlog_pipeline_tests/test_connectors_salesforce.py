"""Salesforce against a local server replaying the REST query API's documented shapes."""

import json
import logging
import re
from decimal import Decimal

import pandas as pd
import pytest

from backlog_pipeline.sources import salesforce
from backlog_pipeline.sources.canonical import parse_contract_changes, parse_contracts
from backlog_pipeline.sources.http import ConnectorError, HttpPolicy
from backlog_pipeline.sources.local_copy import LocalCopy
from backlog_pipeline_tests.fake_api import Reply
from backlog_pipeline_tests.support import NEXT_PATH, QUERY_PATH, opportunity, page

OLD_TOKEN, NEW_TOKEN, REFRESH = "00Dold!SECRET", "00Dnew!SECRET", "5Aep-refresh-SECRET"
POLICY = HttpPolicy(timeout=2.0, max_attempts=3, backoff=0.01, max_wait=1.0)
LOG = logging.getLogger("test.salesforce")


def make_client(api, access_token: str | None = OLD_TOKEN) -> salesforce.SalesforceClient:
    return salesforce.SalesforceClient(
        api.url,
        "v62.0",
        POLICY,
        LOG,
        access_token,
        f"{api.url}/services/oauth2/token",
        "client-id",
        "client-SECRET",
        REFRESH,
    )


def test_pages_follow_next_records_url_until_done_and_map_won_opportunities(fake_api):
    fake_api.script(
        "GET",
        QUERY_PATH,
        Reply(
            body=page(
                [opportunity("006A", 12000.5), opportunity("006B", None, won=False)], NEXT_PATH
            )
        ),
    )
    fake_api.script("GET", NEXT_PATH, Reply(body=page([opportunity("006C", 1e16)])))
    query = salesforce.SalesforceQuery()
    batch = salesforce.fetch(make_client(fake_api), query, None)

    first = fake_api.seen[0]
    assert first.query["q"] == (
        "SELECT Id, AccountId, Account.Name, CloseDate, Amount, CurrencyIsoCode, SystemModstamp, "
        "IsWon FROM Opportunity"
    )
    assert first.headers["Authorization"] == f"Bearer {OLD_TOKEN}"
    assert fake_api.paths() == [f"GET {QUERY_PATH}", f"GET {NEXT_PATH}"]
    assert batch.high_water_mark == "2024-02-01T09:30:00.000Z"

    contracts = salesforce.contracts(batch.records, query)
    assert contracts["contract_id"].tolist() == ["006A", "006C"]  # 006B is not won
    assert contracts["customer_name"].tolist() == ["Acme 006A", "Acme 006C"]
    # JSON numbers as exact decimals (the fake API writes 1e16 as 1e+16).
    assert contracts["tcv"].tolist() == [Decimal("12000.5"), Decimal("1e+16")]
    parsed = parse_contracts(contracts, "Salesforce", "USD")
    assert parsed.rows["tcv"].tolist() == [1_200_050]
    assert parsed.quarantine[["record_id", "field"]].values.tolist() == [["006C", "tcv"]]
    assert salesforce.changes(batch.records, query).empty


def test_an_expired_session_is_refreshed_once_and_the_call_retried(fake_api):
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    fake_api.script(
        "GET", QUERY_PATH, Reply(401, expired), Reply(body=page([opportunity("006A", 10)]))
    )
    fake_api.script(
        "POST",
        "/services/oauth2/token",
        Reply(
            body={"access_token": NEW_TOKEN, "instance_url": fake_api.url, "token_type": "Bearer"}
        ),
    )
    client = make_client(fake_api)
    batch = salesforce.fetch(client, salesforce.SalesforceQuery(), None)
    assert batch.records["Id"].tolist() == ["006A"]
    assert fake_api.paths() == [
        f"GET {QUERY_PATH}",
        "POST /services/oauth2/token",
        f"GET {QUERY_PATH}",
    ]
    assert fake_api.seen[1].form() == {
        "grant_type": "refresh_token",
        "client_id": "client-id",
        "refresh_token": REFRESH,
        "client_secret": "client-SECRET",
    }
    assert fake_api.seen[2].headers["Authorization"] == f"Bearer {NEW_TOKEN}"
    assert client.http.scrub(f"x {NEW_TOKEN} {REFRESH}") == "x *** ***"


def test_a_second_401_after_the_refresh_stops(fake_api):
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    fake_api.script("GET", QUERY_PATH, Reply(401, expired), Reply(401, expired))
    fake_api.script("POST", "/services/oauth2/token", Reply(body={"access_token": NEW_TOKEN}))
    with pytest.raises(ConnectorError, match="HTTP 401") as raised:
        salesforce.fetch(make_client(fake_api), salesforce.SalesforceQuery(), None)
    assert len(fake_api.seen) == 3
    assert NEW_TOKEN not in str(raised.value)


def test_the_daily_request_limit_stops_at_once(fake_api):
    limit = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    fake_api.script("GET", QUERY_PATH, Reply(403, limit), Reply(body=page([])))
    with pytest.raises(ConnectorError) as raised:
        salesforce.fetch(make_client(fake_api), salesforce.SalesforceQuery(), None)
    assert len(fake_api.seen) == 1
    message = str(raised.value)
    assert f"Salesforce: GET {fake_api.url}{QUERY_PATH}: the org's daily API request" in message
    assert "HTTP 403" in message and "REQUEST_LIMIT_EXCEEDED" in message


def test_incremental_pulls_ask_from_the_mark_and_merge_by_id(fake_api, tmp_path):
    query = salesforce.SalesforceQuery()
    copy = LocalCopy(tmp_path / "sf.pkl", salesforce.ID, query.signature())
    client = make_client(fake_api)

    def fetch(since):
        return salesforce.fetch(client, query, since)

    fake_api.script(
        "GET", QUERY_PATH, Reply(body=page([opportunity("006A", 100), opportunity("006B", 200)]))
    )
    first = copy.pull(fetch, full_refresh=False, log=LOG)
    assert (first.fetched, first.total, first.since) == (2, 2, None)

    changed = opportunity("006B", 250, SystemModstamp="2024-03-05T10:00:00.000+0000")
    added = opportunity("006C", 300, SystemModstamp="2024-03-04T08:00:00.000+0000")
    fake_api.script("GET", QUERY_PATH, Reply(body=page([changed, added])))
    second = copy.pull(fetch, full_refresh=False, log=LOG)
    assert (
        fake_api.seen[-1]
        .query["q"]
        .endswith("FROM Opportunity WHERE SystemModstamp >= 2024-02-01T09:30:00Z")
    )
    assert (second.fetched, second.total) == (2, 3)
    assert second.high_water_mark == "2024-03-05T10:00:00.000Z"
    merged = second.records.set_index("Id")["Amount"].to_dict()
    assert merged == {"006A": 100, "006B": 250, "006C": 300}

    fake_api.script("GET", QUERY_PATH, Reply(body=page([opportunity("006Z", 1)])))
    full = copy.pull(fetch, full_refresh=True, log=LOG)
    assert "WHERE" not in fake_api.seen[-1].query["q"]
    assert full.records["Id"].tolist() == ["006Z"] and full.since is None


def test_a_pull_failing_half_way_commits_nothing(fake_api, tmp_path):
    query = salesforce.SalesforceQuery()
    copy = LocalCopy(tmp_path / "sf.pkl", salesforce.ID, query.signature())
    client = make_client(fake_api)
    fake_api.script("GET", QUERY_PATH, Reply(body=page([opportunity("006A", 100)])))
    copy.pull(lambda since: salesforce.fetch(client, query, since), False, LOG)
    before = (tmp_path / "sf.pkl").read_bytes()

    fake_api.script("GET", QUERY_PATH, Reply(body=page([opportunity("006B", 5)], NEXT_PATH)))
    fake_api.script("GET", NEXT_PATH, Reply(400, [{"errorCode": "INVALID_QUERY_LOCATOR"}]))
    with pytest.raises(ConnectorError, match="INVALID_QUERY_LOCATOR"):
        copy.pull(lambda since: salesforce.fetch(client, query, since), False, LOG)
    assert (tmp_path / "sf.pkl").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sf.pkl"]  # no temporary file left


def test_terminated_contracts_stay_bookings_and_become_cancellations(fake_api):
    def contract(record_id: str, status: str, terminated: str | None) -> dict:
        return {
            "attributes": {"type": "Contract"},
            "Id": record_id,
            "AccountId": "001X",
            "Account": None,
            "CustomerSignedDate": "2024-01-05",
            "StartDate": "2024-02-01",
            "EndDate": "2025-01-31",
            "TCV__c": "24000.00",
            "CurrencyIsoCode": "USD",
            "SystemModstamp": "2024-06-01T00:00:00Z",
            "StatusCode": status,
            "Terminated_On__c": terminated,
        }

    fake_api.script(
        "GET",
        QUERY_PATH,
        Reply(
            body=page(
                [
                    contract("800A", "Activated", None),
                    contract("800B", "Terminated", "2024-05-15"),
                    contract("800C", "Draft", None),
                ]
            )
        ),
    )
    fields = {
        **salesforce.DEFAULT_FIELDS["Contract"],
        "tcv": "TCV__c",
        "cancellation_date": "Terminated_On__c",
    }
    query = salesforce.SalesforceQuery(
        "Contract", fields, salesforce.DEFAULT_SIGNED["Contract"], ("Terminated",)
    )
    batch = salesforce.fetch(make_client(fake_api), query, None)
    assert (
        "StatusCode" in fake_api.seen[0].query["q"]
        and "FROM Contract" in fake_api.seen[0].query["q"]
    )
    contracts = parse_contracts(salesforce.contracts(batch.records, query), "sf", "USD")
    assert contracts.rows["contract_id"].tolist() == ["800A", "800B"]  # Draft is not signed
    assert contracts.rows["customer_name"].isna().all()
    changes = parse_contract_changes(salesforce.changes(batch.records, query), "sf")
    assert changes.quarantine.empty
    row = changes.rows.iloc[0]
    assert (row["change_id"], row["contract_id"], row["kind"]) == (
        "800B-cancellation",
        "800B",
        "cancellation",
    )
    assert row["effective_date"] == pd.Timestamp("2024-05-15") and pd.isna(row["amount"])


def test_json_numbers_in_scientific_notation_are_exact_decimals_and_text_stays_strict(fake_api):
    # Salesforce writes amounts of 10,000,000 and more as 1.23456789E7 (a JSON number).
    records = ",".join(
        json.dumps(opportunity(record_id, 0)).replace('"Amount": 0', f'"Amount": {amount}')
        for record_id, amount in (
            ("006A", "1.234567891E7"),  # 12,345,678.91: a whole number of cents
            ("006B", "1.2345678912E7"),  # 12,345,678.912: a tenth of a cent
            ("006C", '"1.2e3"'),  # a JSON string: typed-in text keeps the strict rules
            ("006D", "1E+30"),  # far beyond NUMERIC(18,2)
            ("006E", "2500"),  # a JSON integer
        )
    )
    fake_api.script("GET", QUERY_PATH, Reply(body=f'{{"done": true, "records": [{records}]}}'))
    query = salesforce.SalesforceQuery()
    batch = salesforce.fetch(make_client(fake_api), query, None)
    parsed = parse_contracts(salesforce.contracts(batch.records, query), "Salesforce", "USD")

    assert parsed.rows.set_index("contract_id")["tcv"].to_dict() == {
        "006A": 1_234_567_891,  # 12345678.91 × 100
        "006E": 250_000,
    }
    reasons = (
        parsed.quarantine.set_index("record_id")["reason"]
        .str.replace(r" \((?:page|range|offset) [^()]* of the pull at [^)]*\)$", "", regex=True)
        .to_dict()
    )
    assert reasons == {
        "006B": "amount '12345678.912' has more than two decimals",
        "006C": "amount '1.2e3' is not in plain decimal notation",
        "006D": "amount Decimal('1E+30') does not fit NUMERIC(18,2)",
    }


def test_a_refused_session_without_refresh_credentials_reports_the_401_and_the_fix(fake_api):
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    fake_api.script("GET", QUERY_PATH, Reply(401, expired))
    client = salesforce.SalesforceClient(fake_api.url, "v62.0", POLICY, LOG, OLD_TOKEN)
    with pytest.raises(ConnectorError) as raised:
        salesforce.fetch(client, salesforce.SalesforceQuery(), None)
    message = str(raised.value)
    # The call that was refused, its status and body; not the token endpoint never called.
    assert message.startswith(f"Salesforce: GET {fake_api.url}{QUERY_PATH}: ")
    assert "HTTP 401" in message and "INVALID_SESSION_ID" in message
    assert "oauth2/token" not in message
    assert "BACKLOG_SALESFORCE_REFRESH_TOKEN and BACKLOG_SALESFORCE_CLIENT_ID" in message
    assert "BACKLOG_SALESFORCE_ACCESS_TOKEN" in message
    assert not raised.value.transient and OLD_TOKEN not in message
    assert fake_api.paths() == [f"GET {QUERY_PATH}"]


def test_a_record_without_an_account_says_which_field_was_empty(fake_api):
    fake_api.script("GET", QUERY_PATH, Reply(body=page([opportunity("006A", 5, AccountId=None)])))
    query = salesforce.SalesforceQuery()
    batch = salesforce.fetch(make_client(fake_api), query, None)
    parsed = parse_contracts(salesforce.contracts(batch.records, query), "Salesforce", "USD")
    assert parsed.quarantine["reason"].str.replace(
        r" \((?:page|range|offset) [^()]* of the pull at [^)]*\)$", "", regex=True
    ).tolist() == ["customer_id is missing: AccountId is empty"]


def test_a_quarantined_record_is_named_by_its_id_and_page_not_a_row_number(fake_api):
    fake_api.script("GET", QUERY_PATH, Reply(body=page([opportunity("006A", 1)], NEXT_PATH)))
    fake_api.script("GET", NEXT_PATH, Reply(body=page([opportunity("006B", "12.345")])))
    query = salesforce.SalesforceQuery()
    batch = salesforce.fetch(make_client(fake_api), query, None)
    parsed = parse_contracts(salesforce.contracts(batch.records, query), "Salesforce", "USD")
    row = parsed.quarantine.iloc[0]
    assert (row["record_id"], row["row_number"]) == ("006B", None)
    assert re.fullmatch(
        r"amount '12\.345' has more than two decimals \(page 2 of the pull at "
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\)",
        row["reason"],
    )
