"""HubSpot against a local server replaying the CRM v3 deals API's documented shapes."""

import logging

import pytest

from backlog_pipeline.sources import hubspot
from backlog_pipeline.sources.canonical import parse_contracts
from backlog_pipeline.sources.http import ConnectorError, HttpPolicy
from backlog_pipeline.sources.local_copy import LocalCopy
from backlog_pipeline_tests.fake_api import Reply

TOKEN = "pat-na1-SECRET-hubspot"
DEALS = "/crm/v3/objects/deals"
SEARCH = "/crm/v3/objects/deals/search"
ASSOCIATIONS = "/crm/v4/associations/deals/companies/batch/read"
POLICY = HttpPolicy(timeout=2.0, max_attempts=3, backoff=0.01, max_wait=1.0)
LOG = logging.getLogger("test.hubspot")


def deal(deal_id: str, closedate: str, amount: str, stage: str = "closedwon", company=None) -> dict:
    found = {
        "id": deal_id,
        "properties": {
            "hs_object_id": deal_id,
            "closedate": closedate,
            "amount": amount,
            "deal_currency_code": "USD",
            "dealstage": stage,
            "hs_lastmodifieddate": "2024-03-01T10:00:00.000Z",
        },
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-03-01T10:00:00.000Z",
        "archived": False,
    }
    if company:
        found["associations"] = {
            "companies": {"results": [{"id": company, "type": "deal_to_company"}]}
        }
    return found


def client(api) -> hubspot.HubSpotClient:
    return hubspot.HubSpotClient(api.url, TOKEN, POLICY, LOG)


def test_list_pages_follow_the_after_cursor_and_values_are_parsed_strictly(fake_api):
    first = [
        deal("101", "2024-01-10T00:00:00Z", "12000.50", company="9001"),
        deal("102", "1706745600000", "2400", company="9002"),  # epoch ms: 2024-02-01
        deal("103", "2024-02-03", "99", stage="appointmentscheduled", company="9003"),
    ]
    last = [
        deal("104", "17O6745600000", "100", company="9004"),  # a letter O: refused
        deal("105", "2024-03-31", "1,200.00", company="9005"),  # thousands separator: refused
        deal("106", "2024-03-31", "500"),  # no company: customer_id missing
    ]
    fake_api.script(
        "GET",
        DEALS,
        Reply(body={"results": first, "paging": {"next": {"after": "NTI1Cg%3D%3D", "link": "x"}}}),
        Reply(body={"results": last}),
    )
    query = hubspot.HubSpotQuery()
    batch = hubspot.fetch(client(fake_api), query, None)

    assert fake_api.paths() == [f"GET {DEALS}", f"GET {DEALS}"]
    assert "after" not in fake_api.seen[0].query
    assert fake_api.seen[1].query["after"] == "NTI1Cg%3D%3D"
    assert fake_api.seen[0].query["associations"] == "companies"
    assert fake_api.seen[0].query["properties"] == (
        "hs_object_id,closedate,amount,deal_currency_code,hs_lastmodifieddate,dealstage"
    )
    assert fake_api.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"

    parsed = parse_contracts(hubspot.contracts(batch.records, query), "HubSpot", "USD")
    assert parsed.rows["contract_id"].tolist() == ["101", "102"]  # 103 is not won
    assert parsed.rows["customer_id"].tolist() == ["9001", "9002"]
    assert [str(d.date()) for d in parsed.rows["signed_date"]] == ["2024-01-10", "2024-02-01"]
    assert parsed.rows["tcv"].tolist() == [1_200_050, 240_000]
    refused = parsed.quarantine.set_index("record_id")
    refused["reason"] = refused["reason"].str.replace(
        r" \((?:page|range|offset) [^()]* of the pull at [^)]*\)$", "", regex=True
    )  # where it was fetched: tested below
    assert refused["field"].to_dict() == {"104": "signed_date", "105": "tcv", "106": "customer_id"}
    assert refused.loc["104", "value"] == "17O6745600000"
    assert refused.loc["106", "reason"] == (
        "customer_id is missing: the deal has no associated company (@company)"
    )


def test_a_daily_429_stops_and_a_secondly_one_backs_off(fake_api):
    secondly = {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "SECONDLY",
    }
    daily = {**secondly, "message": "You have reached your daily limit.", "policyName": "DAILY"}
    fake_api.script(
        "GET", DEALS, Reply(429, secondly), Reply(429, daily), Reply(body={"results": []})
    )
    with pytest.raises(ConnectorError) as raised:
        hubspot.fetch(client(fake_api), hubspot.HubSpotQuery(), None)
    assert len(fake_api.seen) == 2  # the secondly limit retried once, the daily one stopped
    assert "daily API limit is used up (policyName DAILY)" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_an_incremental_pull_searches_from_the_mark_and_reads_companies(fake_api, tmp_path):
    query = hubspot.HubSpotQuery()
    copy = LocalCopy(tmp_path / "hs.pkl", hubspot.ID, query.signature())
    api = client(fake_api)

    def fetch(since):
        return hubspot.fetch(api, query, since)

    fake_api.script(
        "GET",
        DEALS,
        Reply(
            body={
                "results": [
                    deal("101", "2024-01-10", "100", company="9001"),
                    deal("102", "2024-01-11", "200", company="9002"),
                ]
            }
        ),
    )
    copy.pull(fetch, False, LOG)

    moved = deal("102", "2024-01-11", "250")
    moved["properties"]["hs_lastmodifieddate"] = "2024-04-02T08:00:00.000Z"
    fake_api.script("POST", SEARCH, Reply(body={"total": 1, "results": [moved]}))
    fake_api.script(
        "POST",
        ASSOCIATIONS,
        Reply(
            body={
                "status": "COMPLETE",
                "results": [
                    {"from": {"id": "102"}, "to": [{"toObjectId": 9777, "associationTypes": []}]},
                ],
            }
        ),
    )
    pull = copy.pull(fetch, False, LOG)

    search = fake_api.seen[1].json()
    # 2024-03-01T10:00:00Z, the first pull's mark, in epoch milliseconds.
    assert search["filterGroups"] == [
        {
            "filters": [
                {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1709287200000"}
            ]
        }
    ]
    assert search["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert fake_api.seen[2].json() == {"inputs": [{"id": "102"}]}
    assert (pull.fetched, pull.total, pull.high_water_mark) == (1, 2, "2024-04-02T08:00:00.000Z")
    contracts = hubspot.contracts(pull.records, query).set_index("contract_id")
    assert contracts.loc["102", ["tcv", "customer_id"]].tolist() == ["250", "9777"]
    assert contracts.loc["101", "tcv"] == "100"


def test_search_starts_again_from_the_latest_time_at_its_result_cap(fake_api, monkeypatch):
    monkeypatch.setattr(hubspot, "SEARCH_CAP", 150)  # the real cap is 10,000
    early = deal("201", "2024-01-10", "1")
    late = deal("202", "2024-01-10", "2")
    late["properties"]["hs_lastmodifieddate"] = "2024-05-01T00:00:00.000Z"
    fake_api.script(
        "POST",
        SEARCH,
        Reply(body={"results": [early, late], "paging": {"next": {"after": "100"}}}),
        Reply(body={"results": [late]}),
    )
    fake_api.script("POST", ASSOCIATIONS, Reply(body={"results": []}))
    batch = hubspot.fetch(client(fake_api), hubspot.HubSpotQuery(), "2024-03-01T10:00:00.000Z")
    second = fake_api.seen[1].json()
    assert "after" not in second
    assert second["filterGroups"][0]["filters"][0]["value"] == "1714521600000"  # 2024-05-01
    assert batch.records["id"].tolist() == ["201", "202", "202"]  # the merge keeps one 202


def test_close_dates_are_booked_in_the_close_time_zone(fake_api):
    # 23:30 in New York on 31 January 2024 is 04:30 UTC on 1 February: 1706761800000 ms.
    late = deal("301", "1706761800000", "100", company="9301")
    late_iso = deal("302", "2024-02-01T04:30:00.000Z", "100", company="9302")
    # A date property is stored as midnight UTC of its day (HubSpot's docs): still 1 February.
    date_only = deal("303", "1706745600000", "100", company="9303")
    fake_api.script("GET", DEALS, Reply(body={"results": [late, late_iso, date_only]}))
    query = hubspot.HubSpotQuery()
    contracts = hubspot.contracts(hubspot.fetch(client(fake_api), query, None).records, query)
    parsed = parse_contracts(contracts, "HubSpot", "USD", timezone="America/New_York")
    signed = parsed.rows.set_index("contract_id")["signed_date"].dt.strftime("%Y-%m-%d")
    assert signed.to_dict() == {"301": "2024-01-31", "302": "2024-01-31", "303": "2024-02-01"}
    in_utc = parse_contracts(contracts, "HubSpot", "USD", timezone="UTC").rows
    assert in_utc["signed_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-01"] * 3


def test_a_portal_that_cannot_be_read_ties_the_copy_to_the_base_url_and_says_so(fake_api, caplog):
    fake_api.script(
        "GET",
        hubspot.ACCOUNT_DETAILS,
        Reply(403, {"status": "error", "category": "MISSING_SCOPES"}),
    )
    with caplog.at_level(logging.WARNING):
        assert hubspot.system(client(fake_api)) == f"HubSpot {fake_api.url}"
    assert "portal id cannot be read" in caplog.text and "HTTP 403" in caplog.text
    fake_api.script(
        "GET", hubspot.ACCOUNT_DETAILS, Reply(401, {"category": "INVALID_AUTHENTICATION"})
    )
    with pytest.raises(ConnectorError, match="HTTP 401"):
        hubspot.system(client(fake_api))


def test_a_quarantined_deal_is_named_by_its_id_and_page(fake_api):
    fake_api.script(
        "GET",
        DEALS,
        Reply(body={"results": [deal("1", "2024-01-10", "5", company="9")],
                    "paging": {"next": {"after": "A1"}}}),
        Reply(body={"results": [deal("2", "2024-01-10", "x", company="9")]}),
    )  # fmt: skip
    query = hubspot.HubSpotQuery()
    contracts = hubspot.contracts(hubspot.fetch(client(fake_api), query, None).records, query)
    row = parse_contracts(contracts, "HubSpot", "USD").quarantine.iloc[0]
    assert (row["record_id"], row["row_number"]) == ("2", None)
    assert row["reason"].startswith("amount 'x' is not a decimal number (page 2 of the pull at ")
