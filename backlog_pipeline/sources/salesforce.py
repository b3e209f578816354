"""Salesforce: contracts from won Opportunities (or Contract records) through SOQL over REST.

``GET /services/data/vNN.N/query?q=...`` returns a page of records and, while ``done`` is
false, a ``nextRecordsUrl`` (a server-side cursor, so no record is skipped or repeated).
An expired session (401 ``INVALID_SESSION_ID``) is refreshed once through the OAuth
refresh-token flow and the call retried; the daily API limit (403
``REQUEST_LIMIT_EXCEEDED``) stops the pull at once, since waiting would not help today.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import requests

from backlog_pipeline.sources.canonical import CHANGE_COLUMNS, CONTRACT_COLUMNS
from backlog_pipeline.sources.http import ConnectorError, HttpClient, HttpPolicy, Log
from backlog_pipeline.sources.local_copy import Batch, latest, pull_time
from backlog_pipeline.sources.quarantine import MISSING_REASONS, PAGE

ID = "Id"
API_VERSION = "v62.0"  # the REST API version read, unless set
DEFAULT_OBJECT = "Opportunity"
# Mapping keys besides SPEC's contract columns: what says the record is signed or
# cancelled, and when and by how much a cancellation takes effect.
EXTRA_KEYS = ("status", "cancellation_date", "cancellation_amount")
FIELD_KEYS = (*CONTRACT_COLUMNS, *EXTRA_KEYS)
DEFAULT_FIELDS: dict[str, dict[str, str]] = {
    "Opportunity": {
        "contract_id": "Id", "customer_id": "AccountId", "customer_name": "Account.Name",
        "signed_date": "CloseDate", "tcv": "Amount", "currency": "CurrencyIsoCode",
        "updated_at": "SystemModstamp", "status": "IsWon",
    },
    # Contract has no standard amount: tcv must be mapped to the org's own field.
    "Contract": {
        "contract_id": "Id", "customer_id": "AccountId", "customer_name": "Account.Name",
        "signed_date": "CustomerSignedDate", "start_date": "StartDate", "end_date": "EndDate",
        "currency": "CurrencyIsoCode", "updated_at": "SystemModstamp", "status": "StatusCode",
    },
}  # fmt: skip
DEFAULT_SIGNED = {"Opportunity": ("true",), "Contract": ("Activated", "Expired", "Terminated")}


@dataclass(frozen=True)
class SalesforceQuery:
    """Which object is read, which field holds each canonical column, which states count."""

    object_name: str = DEFAULT_OBJECT
    fields: Mapping[str, str] = field(default_factory=lambda: DEFAULT_FIELDS[DEFAULT_OBJECT])
    signed_values: tuple[str, ...] = DEFAULT_SIGNED[DEFAULT_OBJECT]
    cancelled_values: tuple[str, ...] = ()

    @property
    def modified_field(self) -> str:
        return self.fields.get("updated_at", "SystemModstamp")

    def selected(self) -> list[str]:
        return list(dict.fromkeys([ID, *self.fields.values(), self.modified_field]))

    def soql(self, since: str | None) -> str:
        """The SOQL text; field and object names are checked identifiers (settings)."""
        text = f"SELECT {', '.join(self.selected())} FROM {self.object_name}"
        if since:
            # SOQL datetime literals take whole seconds: flooring only fetches more.
            text += f" WHERE {self.modified_field} >= {since[:19]}Z"
        return text

    def signature(self) -> str:
        return json.dumps([self.object_name, self.selected()])


def system(instance_url: str) -> str:
    """Which org a local copy came from: each org, sandboxes included, has its own instance
    URL (My Domain), so the URL tells them apart without a call."""
    return f"Salesforce {instance_url.rstrip('/')}"


def _daily_limit(response: requests.Response) -> str | None:
    if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text:
        return (
            "the org's daily API request limit is used up (REQUEST_LIMIT_EXCEEDED); "
            "stopped without retrying, run again once the 24-hour window allows"
        )
    return None


class SalesforceClient:
    """REST calls with a bearer token, refreshed once per call when the session expired."""

    def __init__(
        self,
        instance_url: str,
        api_version: str,
        policy: HttpPolicy,
        log: Log,
        access_token: str | None = None,
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
    ) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.api_version = api_version
        self.token_url = token_url or f"{self.instance_url}/services/oauth2/token"
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.http = HttpClient("Salesforce", policy, log, fatal=_daily_limit)
        self.log = log
        for secret in (access_token, client_secret, refresh_token):
            self.http.add_secret(secret)
        self.access_token = access_token

    def refresh(self) -> None:
        if not self.can_refresh():
            raise ConnectorError(
                "Salesforce", f"POST {self.token_url}",
                "the session expired and no refresh token and client id are set",
            )  # fmt: skip
        form = {"grant_type": "refresh_token", "client_id": self.client_id,
                "refresh_token": self.refresh_token}  # fmt: skip
        if self.client_secret:
            form["client_secret"] = self.client_secret
        token = self.http.json("POST", self.token_url, data=form).get("access_token")
        if not isinstance(token, str) or not token:
            raise ConnectorError("Salesforce", f"POST {self.token_url}", "no access_token")
        self.http.add_secret(token)
        self.access_token = token
        self.log.info("Salesforce: access token refreshed")

    def can_refresh(self) -> bool:
        return bool(self.refresh_token and self.client_id)

    def get(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        if self.access_token is None:
            self.refresh()
        try:
            return self._get(url, params)
        except ConnectorError as error:
            if error.status != 401 or "INVALID_SESSION_ID" not in error.body:
                raise
            if not self.can_refresh():
                # The call that was refused, and how to mend it: not the token endpoint
                # that was never called.
                raise ConnectorError(
                    "Salesforce", error.endpoint,
                    "the session was refused (INVALID_SESSION_ID) and cannot be refreshed: set "
                    "BACKLOG_SALESFORCE_REFRESH_TOKEN and BACKLOG_SALESFORCE_CLIENT_ID (and "
                    "BACKLOG_SALESFORCE_CLIENT_SECRET if the app has one), or a fresh "
                    "BACKLOG_SALESFORCE_ACCESS_TOKEN",
                    error.status, error.body,
                ) from None  # fmt: skip
        self.refresh()
        return self._get(url, params)

    def _get(self, url: str, params: Mapping[str, str] | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json"}
        return self.http.json("GET", url, headers=headers, params=params)

    def query(self, soql: str) -> Iterator[list[dict[str, Any]]]:
        """Each page of records, following ``nextRecordsUrl`` until ``done``."""
        page = self.get(f"{self.instance_url}/services/data/{self.api_version}/query", {"q": soql})
        number = 1
        while True:
            records = page.get("records")
            if not isinstance(records, list):
                raise ConnectorError("Salesforce", "query", "a page without records")
            self.log.info(f"Salesforce: page {number}, {len(records)} records")
            yield records
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) is True or not next_url:
                return
            page = self.get(f"{self.instance_url}{next_url}")
            number += 1


def _value(record: Mapping[str, Any], path: str) -> str | Decimal | int | None:
    """A field as text, or as the exact number the JSON sent; ``Account.Name`` walks into
    the related record.

    Numbers are kept as numbers so the amount parser can tell Salesforce's own
    ``1.23456789E7`` (a JSON number, exact) from typed-in text, which keeps the strict rules.
    """
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return value
    return str(value)


def fetch(client: SalesforceClient, query: SalesforceQuery, since: str | None) -> Batch:
    """The records modified at or after ``since`` (all of them without), as text columns,
    each with the page it came on (``@page``), to name it if it is quarantined."""
    columns, pulled = query.selected(), pull_time()
    rows = [
        [*(_value(record, path) for path in columns), f"page {number} of the pull at {pulled}"]
        for number, page in enumerate(client.query(query.soql(since)), start=1)
        for record in page
    ]
    records = pd.DataFrame(rows, columns=[*columns, PAGE], dtype=object)
    return Batch(records, latest(records[query.modified_field]))


def contracts(records: pd.DataFrame, query: SalesforceQuery) -> pd.DataFrame:
    """Canonical contract columns of the signed records (a cancelled one stays a booking)."""
    signed = records[_status(records, query).isin(query.signed_values)]
    frame = pd.DataFrame(
        {
            **{
                column: signed[query.fields[column]]
                for column in CONTRACT_COLUMNS
                if query.fields.get(column)
            },
            PAGE: _page(signed),
        }
    ).reset_index(drop=True)
    frame.attrs[MISSING_REASONS] = _empty_fields(query, CONTRACT_COLUMNS)
    return frame


def _empty_fields(query: SalesforceQuery, columns: tuple[str, ...]) -> dict[str, str]:
    """Which Salesforce field left each canonical column empty, for the quarantine."""
    return {
        column: f"{query.fields[column]} is empty" for column in columns if query.fields.get(column)
    }


def changes(records: pd.DataFrame, query: SalesforceQuery) -> pd.DataFrame:
    """A cancellation per record in a cancelled state; none when no state is set as such."""
    cancelled = records[_status(records, query).isin(query.cancelled_values)]
    fields = query.fields

    def column(key: str) -> pd.Series:
        return cancelled[fields[key]] if fields.get(key) else pd.Series(None, index=cancelled.index)

    frame = pd.DataFrame(
        {
            "change_id": cancelled[ID] + "-cancellation",
            "contract_id": column("contract_id"),
            "effective_date": column("cancellation_date"),
            "kind": "cancellation",
            "amount": column("cancellation_amount"),
        },
        columns=list(CHANGE_COLUMNS),
    )
    frame[PAGE] = _page(cancelled)
    frame = frame.reset_index(drop=True)
    frame.attrs[MISSING_REASONS] = _empty_fields(query, ("contract_id",))
    return frame


def _page(records: pd.DataFrame) -> pd.Series:
    """Where each record was fetched; unknown for records of a copy made before it was kept."""
    return records[PAGE] if PAGE in records else pd.Series(None, index=records.index, dtype=object)


def _status(records: pd.DataFrame, query: SalesforceQuery) -> pd.Series:
    status_field = query.fields.get("status")
    if not status_field:
        return pd.Series(query.signed_values[0] if query.signed_values else "", index=records.index)
    return records[status_field]
