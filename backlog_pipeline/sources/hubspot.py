"""HubSpot: contracts from won deals through the CRM v3 objects API.

A full pull lists every deal (``GET /crm/v3/objects/deals``, ``paging.next.after`` cursors,
companies associated inline). An incremental pull searches the deals modified since the
mark (``POST /crm/v3/objects/deals/search``, sorted by modification time) and reads their
companies with the v4 associations batch call, since search returns no associations.
Every property value arrives as a string; dates may be ISO text or epoch milliseconds, and
date-times are placed in months in the close's time zone (see :func:`_date_text`).
A 429 whose ``policyName`` is ``DAILY`` stops the pull; other 429s back off and retry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import requests

from backlog_pipeline.sources.canonical import CONTRACT_COLUMNS
from backlog_pipeline.sources.http import ConnectorError, HttpClient, HttpPolicy, Log
from backlog_pipeline.sources.local_copy import Batch, iso_utc, latest, pull_time
from backlog_pipeline.sources.quarantine import MISSING_REASONS, PAGE

ID = "id"
BASE_URL = "https://api.hubapi.com"
WON_STAGES = ("closedwon",)  # the deal stages that are bookings, unless set
COMPANY = "@company"  # not a property: the deal's first associated company
PROPERTY_KEYS = (*CONTRACT_COLUMNS, "stage")
DEFAULT_PROPERTIES = {
    "contract_id": "hs_object_id", "customer_id": COMPANY, "signed_date": "closedate",
    "tcv": "amount", "currency": "deal_currency_code", "updated_at": "hs_lastmodifieddate",
    "stage": "dealstage",
}  # fmt: skip
PAGE_SIZE = 100
SEARCH_CAP = 10_000  # the search endpoint refuses to page past this many results
_DATES = ("signed_date", "start_date", "end_date")


@dataclass(frozen=True)
class HubSpotQuery:
    """Which deal property holds each canonical column, and which stages are bookings."""

    properties: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PROPERTIES))
    won_stages: tuple[str, ...] = WON_STAGES

    @property
    def modified_property(self) -> str:
        return self.properties.get("updated_at") or "hs_lastmodifieddate"

    def requested(self) -> list[str]:
        names = [*self.properties.values(), self.modified_property]
        return list(dict.fromkeys(name for name in names if name and name != COMPANY))

    def columns(self) -> list[str]:
        return list(dict.fromkeys([ID, *self.requested(), COMPANY]))

    def signature(self) -> str:
        return json.dumps(self.columns())


def _daily_limit(response: requests.Response) -> str | None:
    if response.status_code != 429:
        return None
    try:
        policy = json.loads(response.text).get("policyName")
    except (ValueError, AttributeError):
        return None
    if policy == "DAILY":
        return (
            "the portal's daily API limit is used up (policyName DAILY); stopped without retrying"
        )
    return None


class HubSpotClient:
    def __init__(self, base_url: str, token: str, policy: HttpPolicy, log: Log) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = HttpClient("HubSpot", policy, log, fatal=_daily_limit)
        self.http.add_secret(token)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.log = log

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.http.json(method, f"{self.base_url}{path}", headers=self.headers, **kwargs)

    def list_deals(self, query: HubSpotQuery) -> Iterator[list[dict[str, Any]]]:
        params = {"limit": str(PAGE_SIZE), "archived": "false",
                  "properties": ",".join(query.requested())}  # fmt: skip
        if COMPANY in query.properties.values():
            params["associations"] = "companies"
        after: str | None = None
        while True:
            page = self.call(
                "GET",
                "/crm/v3/objects/deals",
                params={**params, **({"after": after} if after else {})},
            )
            yield _results(page)
            after = _next_after(page)
            if after is None:
                return

    def search_deals(self, query: HubSpotQuery, since: str) -> Iterator[list[dict[str, Any]]]:
        """Deals modified at or after ``since``, oldest first.

        Search pages only through its first 10,000 results; past that, the search starts
        again from the latest modification time seen (the merge by id drops the overlap).
        """
        floor = _epoch_ms(since)
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": [{"propertyName": query.modified_property,
                                               "operator": "GTE", "value": floor}]}],
                "sorts": [{"propertyName": query.modified_property, "direction": "ASCENDING"}],
                "properties": query.requested(),
                "limit": PAGE_SIZE,
            }  # fmt: skip
            if after:
                body["after"] = after
            page = self.call("POST", "/crm/v3/objects/deals/search", json_body=body)
            results = _results(page)
            yield results
            after = _next_after(page)
            if after is None:
                return
            if after.isdigit() and int(after) + PAGE_SIZE > SEARCH_CAP:
                marks = [r.get("properties", {}).get(query.modified_property) for r in results]
                newest = latest(pd.Series(marks, dtype=object))
                if newest is None or _epoch_ms(newest) == floor:
                    raise ConnectorError(
                        "HubSpot", "POST /crm/v3/objects/deals/search",
                        f"more than {SEARCH_CAP} deals share one modification time",
                    )  # fmt: skip
                floor, after = _epoch_ms(newest), None

    def companies(self, deal_ids: list[str]) -> dict[str, str]:
        """The first associated company of each deal (v4 associations, 1,000 per call)."""
        found: dict[str, str] = {}
        for start in range(0, len(deal_ids), 1000):
            inputs = [{"id": deal_id} for deal_id in deal_ids[start : start + 1000]]
            page = self.call(
                "POST", "/crm/v4/associations/deals/companies/batch/read",
                json_body={"inputs": inputs},
            )  # fmt: skip
            for result in _results(page):
                targets = result.get("to") or []
                if targets:
                    found[str(result["from"]["id"])] = str(targets[0]["toObjectId"])
        return found


ACCOUNT_DETAILS = "/account-info/v3/details"


def system(client: HubSpotClient) -> str:
    """Which portal a local copy came from: every portal shares ``api.hubapi.com``, so the
    token's portal id is asked for (one call; the token itself is never part of it).

    Without the permission to read it, the copy is tied to the base URL only, and the log
    says so.
    """
    try:
        portal = client.call("GET", ACCOUNT_DETAILS).get("portalId")
        why = "the answer has no portalId"
    except ConnectorError as error:
        if error.status not in (403, 404):
            raise
        portal, why = None, f"HTTP {error.status}"
    if portal is None or portal == "":
        client.log.warning(
            f"HubSpot: the token's portal id cannot be read ({ACCOUNT_DETAILS}: {why}); the "
            f"local copy is tied to {client.base_url} only"
        )
        return f"HubSpot {client.base_url}"
    return f"HubSpot {client.base_url} portal {portal}"


def _results(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    results = page.get("results")
    if not isinstance(results, list):
        raise ConnectorError("HubSpot", "deals", "a page without results")
    return results


def _next_after(page: Mapping[str, Any]) -> str | None:
    after = ((page.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def _epoch_ms(mark: str) -> str:
    return str(int(pd.Timestamp(mark).timestamp() * 1000))


def _row(deal: Mapping[str, Any], query: HubSpotQuery, company: str | None) -> dict[str, Any]:
    properties = deal.get("properties") or {}
    row: dict[str, Any] = {ID: deal.get(ID), COMPANY: company}
    for name in query.requested():
        row[name] = properties.get(name)
    return row


def _inline_company(deal: Mapping[str, Any]) -> str | None:
    linked = ((deal.get("associations") or {}).get("companies") or {}).get("results") or []
    return str(linked[0]["id"]) if linked else None


def fetch(client: HubSpotClient, query: HubSpotQuery, since: str | None) -> Batch:
    """Deals modified at or after ``since`` (all of them without), as text columns."""
    rows: list[dict[str, Any]] = []
    pages = client.search_deals(query, since) if since else client.list_deals(query)
    pulled = pull_time()
    for number, deals in enumerate(pages, start=1):
        client.log.info(f"HubSpot: page {number}, {len(deals)} deals")
        where = f"page {number} of the pull at {pulled}"
        rows.extend({**_row(deal, query, _inline_company(deal)), PAGE: where} for deal in deals)
    if since and COMPANY in query.properties.values() and rows:
        linked = client.companies([str(row[ID]) for row in rows])
        for row in rows:
            row[COMPANY] = linked.get(str(row[ID]))
    records = pd.DataFrame(rows, columns=[*query.columns(), PAGE], dtype=object)
    return Batch(records, latest(records[query.modified_property]))


def _date_text(values: pd.Series) -> pd.Series:
    """HubSpot dates and date-times as text the date parser reads in the close's time zone.

    Epoch milliseconds (digits only) become an instant in UTC (``...T04:30:00.000Z``),
    which the parser places on its day in the close's zone. HubSpot stores a *date*
    property as midnight UTC of its day (its docs), so a value at exactly 00:00 UTC, as
    milliseconds or ISO text, is that calendar date: read as an instant it would fall on
    the day before west of Greenwich. Anything else, ``1.7e12`` or ``17O4...``, stays as
    it came, for the strict date parser to refuse with the value in the quarantine.
    """
    text = values.astype("string").str.strip()
    epoch = text.str.fullmatch(r"\d{1,15}").fillna(False).astype(bool)
    result = values.astype(object).copy()
    if epoch.any():
        when = pd.to_datetime(text[epoch].astype("int64"), unit="ms", utc=True, errors="coerce")
        when = when[when.notna()]
        midnight = when == when.dt.normalize()
        result[when.index[midnight]] = when[midnight].dt.strftime("%Y-%m-%d")
        instants = when[~midnight]
        result[instants.index] = instants.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    utc_midnight = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)")
    utc_midnight = utc_midnight.fillna(False).astype(bool)
    result[utc_midnight] = text[utc_midnight].str[:10].astype(object)
    return result


def contracts(records: pd.DataFrame, query: HubSpotQuery) -> pd.DataFrame:
    """Canonical contract columns of the deals in a won stage."""
    stage = query.properties.get("stage")
    won = records[records[stage].isin(query.won_stages)] if stage else records
    frame = pd.DataFrame(
        {
            **{
                column: won[query.properties[column]]
                for column in CONTRACT_COLUMNS
                if query.properties.get(column)
            },
            PAGE: won[PAGE] if PAGE in won else None,
        }
    )
    for column in _DATES:
        if column in frame:
            frame[column] = _date_text(frame[column])
    if "updated_at" in frame:
        frame["updated_at"] = iso_utc(frame["updated_at"]).astype(object)
    frame = frame.reset_index(drop=True)
    frame.attrs[MISSING_REASONS] = {
        column: "the deal has no associated company (@company)"
        if name == COMPANY
        else f"the deal's property {name} is empty"
        for column, name in query.properties.items()
        if column in CONTRACT_COLUMNS and name
    }
    return frame
