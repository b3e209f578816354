"""The settings of the connector chosen (Salesforce, HubSpot, NetSuite), checked together.

Only the chosen connector's variables are checked, so variables left over for another
system never stop the code location. Secrets are not read here, only whether they are set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from backlog_pipeline.config_checks import (
    PREFIX,
    SettingsError,
    is_select,
    mapping_of,
    require_keys,
    url,
    values,
)
from backlog_pipeline.sources import hubspot, salesforce
from backlog_pipeline.sources.canonical import CONTRACT_REQUIRED

_SALESFORCE_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SALESFORCE_PATH = rf"{_SALESFORCE_NAME}(\.{_SALESFORCE_NAME})*"
SALESFORCE_FIELDS = f"{PREFIX}SALESFORCE_FIELDS"
# Secrets: only whether they are set is read; their values go through dg.EnvVar.
SALESFORCE_ACCESS_TOKEN = f"{PREFIX}SALESFORCE_ACCESS_TOKEN"
SALESFORCE_REFRESH_TOKEN = f"{PREFIX}SALESFORCE_REFRESH_TOKEN"
SALESFORCE_CLIENT_ID = f"{PREFIX}SALESFORCE_CLIENT_ID"
SALESFORCE_CLIENT_SECRET = f"{PREFIX}SALESFORCE_CLIENT_SECRET"
HUBSPOT_TOKEN = f"{PREFIX}HUBSPOT_TOKEN"
NETSUITE_TOKEN = f"{PREFIX}NETSUITE_TOKEN"
SALESFORCE_CANCELLED_VALUES = f"{PREFIX}SALESFORCE_CANCELLED_VALUES"


class Settings(Protocol):
    """The connector variables as ``config.Settings`` holds them, raw and unchecked."""

    salesforce_instance_url: str
    salesforce_api_version: str
    salesforce_token_url: str
    salesforce_object: str
    salesforce_fields: str
    salesforce_signed_values: str
    salesforce_cancelled_values: str
    salesforce_access_token_is_set: bool
    salesforce_refresh_token_is_set: bool
    salesforce_client_id_is_set: bool
    hubspot_base_url: str
    hubspot_properties: str
    hubspot_won_stages: str
    hubspot_token_is_set: bool
    netsuite_base_url: str
    netsuite_query: str
    netsuite_token_is_set: bool


@dataclass(frozen=True)
class SalesforceSettings:
    instance_url: str
    api_version: str
    token_url: str | None  # None: the instance's /services/oauth2/token
    query: salesforce.SalesforceQuery


@dataclass(frozen=True)
class HubSpotSettings:
    base_url: str
    query: hubspot.HubSpotQuery


@dataclass(frozen=True)
class NetSuiteSettings:
    base_url: str
    query: str


def check_not_mixed(crm_kind: str, crm_dir: Path | None, erp_kind: str, erp_url_set: bool) -> None:
    """A real system on one side and the embedded demo on the other is refused."""
    if (crm_kind != "csv" and erp_kind == "sql" and not erp_url_set) or (
        erp_kind != "sql" and crm_kind == "csv" and crm_dir is None
    ):
        missing = f"{PREFIX}ERP_URL" if erp_kind == "sql" else f"{PREFIX}CRM_DIR"
        raise SettingsError(
            f"{PREFIX}CRM_KIND={crm_kind} with {PREFIX}ERP_KIND={erp_kind} would mix a real "
            f"system with the embedded demo: set {missing} too"
        )
    if crm_kind == "csv" and erp_kind == "sql" and (crm_dir is None) == erp_url_set:
        given, missing = (
            (f"{PREFIX}ERP_URL", f"{PREFIX}CRM_DIR")
            if erp_url_set
            else (f"{PREFIX}CRM_DIR", f"{PREFIX}ERP_URL")
        )
        raise SettingsError(
            f"{given} is set but {missing} is not: the close would read your data beside the "
            f"embedded demo's (and take the demo's months). Set {missing} too, or unset {given} "
            "for the demo"
        )


def _salesforce_query(settings: Settings) -> salesforce.SalesforceQuery:
    object_name = settings.salesforce_object.strip()
    if not re.fullmatch(_SALESFORCE_NAME, object_name):
        raise SettingsError(f"{PREFIX}SALESFORCE_OBJECT={object_name!r} is not an object name")
    defaults = salesforce.DEFAULT_FIELDS.get(object_name, {"contract_id": "Id"})
    fields = mapping_of(
        SALESFORCE_FIELDS,
        settings.salesforce_fields,
        defaults,
        salesforce.FIELD_KEYS,
        _SALESFORCE_PATH,
    )
    require_keys(f"{SALESFORCE_FIELDS} (object {object_name})", fields, CONTRACT_REQUIRED)
    cancelled = values(settings.salesforce_cancelled_values, ())
    if cancelled and not (fields.get("status") and fields.get("cancellation_date")):
        raise SettingsError(
            f"{SALESFORCE_CANCELLED_VALUES} is set: {SALESFORCE_FIELDS} must map status and "
            "cancellation_date (the field holding the date the cancellation takes effect)"
        )
    signed = values(
        settings.salesforce_signed_values, salesforce.DEFAULT_SIGNED.get(object_name, ())
    )
    return salesforce.SalesforceQuery(object_name, fields, signed, cancelled)


def salesforce_settings(settings: Settings) -> SalesforceSettings:
    query = _salesforce_query(settings)
    version = settings.salesforce_api_version.strip()
    version = version if version.startswith("v") else f"v{version}"
    if not re.fullmatch(r"v\d{2,3}\.\d", version):
        raise SettingsError(f"{PREFIX}SALESFORCE_API_VERSION={version!r} must look like v62.0")
    if not settings.salesforce_access_token_is_set and not (
        settings.salesforce_refresh_token_is_set and settings.salesforce_client_id_is_set
    ):
        raise SettingsError(
            f"Salesforce needs {SALESFORCE_ACCESS_TOKEN}, or {SALESFORCE_REFRESH_TOKEN} and "
            f"{SALESFORCE_CLIENT_ID} (and {SALESFORCE_CLIENT_SECRET} if the app has one)"
        )
    token_url = settings.salesforce_token_url.strip()
    return SalesforceSettings(
        instance_url=url(
            f"{PREFIX}SALESFORCE_INSTANCE_URL", settings.salesforce_instance_url.strip()
        ),
        api_version=version,
        token_url=url(f"{PREFIX}SALESFORCE_TOKEN_URL", token_url) if token_url else None,
        query=query,
    )


def hubspot_settings(settings: Settings) -> HubSpotSettings:
    name = f"{PREFIX}HUBSPOT_PROPERTIES"
    properties = mapping_of(
        name,
        settings.hubspot_properties,
        hubspot.DEFAULT_PROPERTIES,
        hubspot.PROPERTY_KEYS,
        rf"[A-Za-z0-9_]+|{hubspot.COMPANY}",
    )
    require_keys(name, properties, CONTRACT_REQUIRED)
    if not settings.hubspot_token_is_set:
        raise SettingsError(f"HubSpot needs {HUBSPOT_TOKEN} (a private app access token)")
    return HubSpotSettings(
        base_url=url(f"{PREFIX}HUBSPOT_BASE_URL", settings.hubspot_base_url.strip()),
        query=hubspot.HubSpotQuery(
            properties=properties,
            won_stages=values(settings.hubspot_won_stages, hubspot.WON_STAGES),
        ),
    )


def netsuite_settings(settings: Settings) -> NetSuiteSettings:
    query = settings.netsuite_query.strip()
    if not is_select(query):
        raise SettingsError(
            f"{PREFIX}NETSUITE_QUERY must be a SuiteQL SELECT returning line_id, contract_id, "
            "period, amount (and optionally last_modified)"
        )
    if not settings.netsuite_token_is_set:
        raise SettingsError(f"NetSuite needs {NETSUITE_TOKEN} (an OAuth 2.0 access token)")
    return NetSuiteSettings(
        base_url=url(f"{PREFIX}NETSUITE_BASE_URL", settings.netsuite_base_url.strip()),
        query=query,
    )
