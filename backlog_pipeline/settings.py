"""Every setting, read from the environment in one place and checked before anything runs.

Values that can hold credentials (the database URLs, tokens and client secrets) are not
kept here, only whether they are set: the Dagster layer reads them with ``EnvVar`` so they
never appear in the UI, the logs or the event log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backlog_pipeline.canonical import CONTRACT_REQUIRED, RECOGNITION_COLUMNS
from backlog_pipeline.connectors import hubspot, salesforce
from backlog_pipeline.connectors.http import HttpPolicy
from backlog_pipeline.connectors.sql import MODIFIED
from backlog_pipeline.demo.generate import DEMO_FIRST_MONTH, DEMO_LAST_MONTH
from backlog_pipeline.periods import parse_month

DATA_DIR = "BACKLOG_DATA_DIR"
CRM_DIR = "BACKLOG_CRM_DIR"
ERP_URL = "BACKLOG_ERP_URL"
ERP_TABLE = "BACKLOG_ERP_TABLE"
WAREHOUSE_URL = "BACKLOG_WAREHOUSE_URL"
OUTPUT_DIR = "BACKLOG_OUTPUT_DIR"
START_MONTH = "BACKLOG_START_MONTH"
END_MONTH = "BACKLOG_END_MONTH"
REPORTING_CURRENCY = "BACKLOG_REPORTING_CURRENCY"
CLOSE_DAY = "BACKLOG_CLOSE_DAY_OF_MONTH"
CLOSE_HOUR = "BACKLOG_CLOSE_HOUR"
CLOSE_TIMEZONE = "BACKLOG_CLOSE_TIMEZONE"
CRM_KIND = "BACKLOG_CRM_KIND"
ERP_KIND = "BACKLOG_ERP_KIND"
ERP_QUERY = "BACKLOG_ERP_QUERY"
ERP_COLUMNS = "BACKLOG_ERP_COLUMNS"
FULL_REFRESH = "BACKLOG_FULL_REFRESH"
MAX_QUARANTINE_SHARE = "BACKLOG_MAX_QUARANTINE_SHARE"
HTTP_TIMEOUT = "BACKLOG_HTTP_TIMEOUT"
HTTP_MAX_ATTEMPTS = "BACKLOG_HTTP_MAX_ATTEMPTS"
HTTP_BACKOFF = "BACKLOG_HTTP_BACKOFF"
HTTP_MAX_WAIT = "BACKLOG_HTTP_MAX_WAIT"
STEP_RETRIES = "BACKLOG_STEP_RETRIES"
STEP_RETRY_DELAY = "BACKLOG_STEP_RETRY_DELAY"
RUN_RETRIES = "BACKLOG_RUN_RETRIES"
LATE_DATA_INTERVAL = "BACKLOG_LATE_DATA_INTERVAL"
EXECUTOR = "BACKLOG_EXECUTOR"
CELERY_BROKER = "BACKLOG_CELERY_BROKER"  # may hold a password: read only through dg.EnvVar
EXECUTORS = ("multiprocess", "in_process", "celery")
SALESFORCE_URL = "BACKLOG_SALESFORCE_INSTANCE_URL"
SALESFORCE_API_VERSION = "BACKLOG_SALESFORCE_API_VERSION"
SALESFORCE_TOKEN_URL = "BACKLOG_SALESFORCE_TOKEN_URL"
SALESFORCE_OBJECT = "BACKLOG_SALESFORCE_OBJECT"
SALESFORCE_FIELDS = "BACKLOG_SALESFORCE_FIELDS"
SALESFORCE_SIGNED_VALUES = "BACKLOG_SALESFORCE_SIGNED_VALUES"
SALESFORCE_CANCELLED_VALUES = "BACKLOG_SALESFORCE_CANCELLED_VALUES"
HUBSPOT_URL = "BACKLOG_HUBSPOT_BASE_URL"
HUBSPOT_PROPERTIES = "BACKLOG_HUBSPOT_PROPERTIES"
HUBSPOT_WON_STAGES = "BACKLOG_HUBSPOT_WON_STAGES"
NETSUITE_URL = "BACKLOG_NETSUITE_BASE_URL"
NETSUITE_QUERY = "BACKLOG_NETSUITE_QUERY"
# Secrets: only whether they are set is read here; their values go through dg.EnvVar.
SALESFORCE_ACCESS_TOKEN = "BACKLOG_SALESFORCE_ACCESS_TOKEN"
SALESFORCE_REFRESH_TOKEN = "BACKLOG_SALESFORCE_REFRESH_TOKEN"
SALESFORCE_CLIENT_ID = "BACKLOG_SALESFORCE_CLIENT_ID"
SALESFORCE_CLIENT_SECRET = "BACKLOG_SALESFORCE_CLIENT_SECRET"
HUBSPOT_TOKEN = "BACKLOG_HUBSPOT_TOKEN"
NETSUITE_TOKEN = "BACKLOG_NETSUITE_TOKEN"
SECRETS = (
    SALESFORCE_ACCESS_TOKEN, SALESFORCE_REFRESH_TOKEN, SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET, HUBSPOT_TOKEN, NETSUITE_TOKEN,
)  # fmt: skip
CRM_KINDS = ("csv", "salesforce", "hubspot")
ERP_KINDS = ("sql", "netsuite")
_SALESFORCE_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SALESFORCE_PATH = rf"{_SALESFORCE_NAME}(\.{_SALESFORCE_NAME})*"


class SettingsError(ValueError):
    """A setting with a value the pipeline cannot use; the message names the variable."""


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


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    crm_dir: Path | None  # None: the embedded demo export
    erp_url_is_set: bool  # False: the embedded demo ERP
    erp_table: str
    warehouse_url_is_set: bool  # False: SQLite in the data folder
    output_dir: Path
    start_month: str
    end_month: str | None  # None: up to the last complete month
    reporting_currency: str
    close_day_of_month: int
    close_hour: int
    close_timezone: str
    crm_kind: str = "csv"
    erp_kind: str = "sql"
    erp_query: str | None = None  # instead of erp_table
    erp_columns: dict[str, str] = field(default_factory=dict)  # canonical -> ERP column
    full_refresh: bool = False
    max_quarantine_share: float = 0.05
    http: HttpPolicy = field(default_factory=HttpPolicy)
    salesforce: SalesforceSettings | None = None
    hubspot: HubSpotSettings | None = None
    netsuite: NetSuiteSettings | None = None
    secrets_set: frozenset[str] = frozenset()  # names of the secret variables that are set
    step_retries: int = 2  # retries of a source or publish step after a transient failure
    step_retry_delay: float = 30.0  # seconds before the first; doubles, with jitter
    run_retries: int = 1  # whole-run retries after a crashed run worker (needs run_retries on)
    late_data_interval: int = 3600  # seconds between late-data sensor evaluations
    executor: str = "multiprocess"  # how a launched run executes its steps
    celery_broker_is_set: bool = False  # False: RabbitMQ as guest on localhost

    @property
    def uses_demo(self) -> bool:
        return _uses_demo(self.crm_kind, self.crm_dir, self.erp_kind, self.erp_url_is_set)

    @property
    def sources_dir(self) -> Path:
        """Where the connectors keep their local copies between runs."""
        return self.data_dir / "sources"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    @property
    def default_warehouse_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'warehouse.sqlite'}"


def _month(environ: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = environ.get(name, "").strip() or default
    if value is None:
        return None
    try:
        parse_month(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a month in YYYY-MM form") from None
    return value[:7]


def _integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not re.fullmatch(r"\d+", text) or not low <= int(text) <= high:
        raise SettingsError(f"{name}={text!r} must be a whole number from {low} to {high}")
    return int(text)


def _identifier(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, "").strip() or default
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?", value):
        raise SettingsError(f"{name}={value!r} must be a table name, optionally schema.table")
    return value


def _uses_demo(crm_kind: str, crm_dir: Path | None, erp_kind: str, erp_url_is_set: bool) -> bool:
    return crm_kind == "csv" and crm_dir is None and erp_kind == "sql" and not erp_url_is_set


def _number(
    environ: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise SettingsError(f"{name}={text!r} must be a number from {low:g} to {high:g}")
    return value


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = environ.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise SettingsError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    text = environ.get(name, "").strip().lower()
    if text not in ("", "0", "1", "false", "true", "no", "yes"):
        raise SettingsError(f"{name}={text!r} must be true or false")
    return text in ("1", "true", "yes")


def _url(environ: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = environ.get(name, "").strip() or default
    if not value:
        raise SettingsError(f"{name} must be set for this source")
    if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s?#]*)?", value):
        raise SettingsError(f"{name}={value!r} must be an http(s) URL without query or user")
    return value.rstrip("/")


def _values(environ: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    text = environ.get(name)
    if text is None or not text.strip():
        return default
    return tuple(value.strip() for value in text.split(",") if value.strip())


def _mapping(
    environ: Mapping[str, str],
    name: str,
    defaults: Mapping[str, str],
    keys: tuple[str, ...],
    pattern: str,
) -> dict[str, str]:
    """``key=name,key=name`` over the defaults; ``key=`` removes a default."""
    mapping = dict(defaults)
    for item in filter(None, (part.strip() for part in environ.get(name, "").split(","))):
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals or key not in keys:
            raise SettingsError(
                f"{name}: {item!r} must be key=name with key one of {', '.join(keys)}"
            )
        if value and not re.fullmatch(pattern, value):
            raise SettingsError(f"{name}: {value!r} is not a field name")
        if value:
            mapping[key] = value
        else:
            mapping.pop(key, None)
    return mapping


def _require_keys(name: str, mapping: Mapping[str, str], required: tuple[str, ...]) -> None:
    missing = [key for key in required if not mapping.get(key)]
    if missing:
        raise SettingsError(f"{name} must map {', '.join(missing)}")


def _salesforce(environ: Mapping[str, str], secrets: frozenset[str]) -> SalesforceSettings:
    object_name = environ.get(SALESFORCE_OBJECT, "").strip() or "Opportunity"
    if not re.fullmatch(_SALESFORCE_NAME, object_name):
        raise SettingsError(f"{SALESFORCE_OBJECT}={object_name!r} is not an object name")
    defaults = salesforce.DEFAULT_FIELDS.get(object_name, {"contract_id": "Id"})
    fields = _mapping(environ, SALESFORCE_FIELDS, defaults, salesforce.FIELD_KEYS, _SALESFORCE_PATH)
    _require_keys(f"{SALESFORCE_FIELDS} (object {object_name})", fields, CONTRACT_REQUIRED)
    cancelled = _values(environ, SALESFORCE_CANCELLED_VALUES, ())
    if cancelled and not (fields.get("status") and fields.get("cancellation_date")):
        raise SettingsError(
            f"{SALESFORCE_CANCELLED_VALUES} is set: {SALESFORCE_FIELDS} must map status and "
            "cancellation_date (the field holding the date the cancellation takes effect)"
        )
    version = environ.get(SALESFORCE_API_VERSION, "").strip() or "v62.0"
    version = version if version.startswith("v") else f"v{version}"
    if not re.fullmatch(r"v\d{2,3}\.\d", version):
        raise SettingsError(f"{SALESFORCE_API_VERSION}={version!r} must look like v62.0")
    if (
        SALESFORCE_ACCESS_TOKEN not in secrets
        and not {SALESFORCE_REFRESH_TOKEN, SALESFORCE_CLIENT_ID} <= secrets
    ):
        raise SettingsError(
            f"Salesforce needs {SALESFORCE_ACCESS_TOKEN}, or {SALESFORCE_REFRESH_TOKEN} and "
            f"{SALESFORCE_CLIENT_ID} (and {SALESFORCE_CLIENT_SECRET} if the app has one)"
        )
    token_url = environ.get(SALESFORCE_TOKEN_URL, "").strip()
    return SalesforceSettings(
        instance_url=_url(environ, SALESFORCE_URL),
        api_version=version,
        token_url=_url(environ, SALESFORCE_TOKEN_URL) if token_url else None,
        query=salesforce.SalesforceQuery(
            object_name=object_name,
            fields=fields,
            signed_values=_values(
                environ, SALESFORCE_SIGNED_VALUES, salesforce.DEFAULT_SIGNED.get(object_name, ())
            ),
            cancelled_values=cancelled,
        ),
    )


def _hubspot(environ: Mapping[str, str], secrets: frozenset[str]) -> HubSpotSettings:
    properties = _mapping(
        environ, HUBSPOT_PROPERTIES, hubspot.DEFAULT_PROPERTIES, hubspot.PROPERTY_KEYS,
        rf"[A-Za-z0-9_]+|{hubspot.COMPANY}",
    )  # fmt: skip
    _require_keys(HUBSPOT_PROPERTIES, properties, CONTRACT_REQUIRED)
    if HUBSPOT_TOKEN not in secrets:
        raise SettingsError(f"HubSpot needs {HUBSPOT_TOKEN} (a private app access token)")
    return HubSpotSettings(
        base_url=_url(environ, HUBSPOT_URL, "https://api.hubapi.com"),
        query=hubspot.HubSpotQuery(
            properties=properties,
            won_stages=_values(environ, HUBSPOT_WON_STAGES, ("closedwon",)),
        ),
    )


def _netsuite(environ: Mapping[str, str], secrets: frozenset[str]) -> NetSuiteSettings:
    query = environ.get(NETSUITE_QUERY, "").strip()
    if not re.match(r"(?is)^\s*(select|with)\b", query):
        raise SettingsError(
            f"{NETSUITE_QUERY} must be a SuiteQL SELECT returning line_id, contract_id, period, "
            "amount (and optionally last_modified)"
        )
    if NETSUITE_TOKEN not in secrets:
        raise SettingsError(f"NetSuite needs {NETSUITE_TOKEN} (an OAuth 2.0 access token)")
    return NetSuiteSettings(base_url=_url(environ, NETSUITE_URL), query=query)


def _folder(name: str, text: str, default: Path) -> Path:
    """A folder the pipeline writes into: not a file, and not a filesystem root."""
    path = Path(text).resolve() if text else default.resolve()
    if path == Path(path.anchor):
        raise SettingsError(f"{name}={text!r} is a filesystem root; give a folder of its own")
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name}={text!r} is a file, not a folder")
    return path


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    data_dir = _folder(DATA_DIR, environ.get(DATA_DIR, "").strip(), Path("backlog_data"))
    crm_text = environ.get(CRM_DIR, "").strip()
    crm_dir = Path(crm_text).resolve() if crm_text else None
    if crm_dir is not None and not crm_dir.is_dir():
        raise SettingsError(f"{CRM_DIR}={crm_text!r} is not a folder")
    erp_url_is_set = bool(environ.get(ERP_URL, "").strip())
    crm_kind = _choice(environ, CRM_KIND, CRM_KINDS)
    erp_kind = _choice(environ, ERP_KIND, ERP_KINDS)
    uses_demo = _uses_demo(crm_kind, crm_dir, erp_kind, erp_url_is_set)
    if (crm_kind != "csv" and erp_kind == "sql" and not erp_url_is_set) or (
        erp_kind != "sql" and crm_kind == "csv" and crm_dir is None
    ):
        raise SettingsError(
            f"{CRM_KIND}={crm_kind} with {ERP_KIND}={erp_kind} would mix a real system with the "
            f"embedded demo: set {ERP_URL if erp_kind == 'sql' else CRM_DIR} too"
        )
    secrets = frozenset(name for name in SECRETS if environ.get(name, "").strip())
    erp_query = environ.get(ERP_QUERY, "").strip() or None
    if erp_query is not None and not re.match(r"(?is)^\s*(select|with)\b", erp_query):
        raise SettingsError(f"{ERP_QUERY} must be a SELECT (or WITH ... SELECT) query")
    # Upper-cased, as a contract's currency is: "usd" in both places means USD.
    currency_text = environ.get(REPORTING_CURRENCY, "").strip()
    currency = currency_text.upper() or "USD"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise SettingsError(
            f"{REPORTING_CURRENCY}={currency_text!r} is not an ISO 4217 code like USD"
        )
    timezone = environ.get(CLOSE_TIMEZONE, "").strip() or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{CLOSE_TIMEZONE}={timezone!r} is not an IANA time zone") from None
    start_month = _month(environ, START_MONTH, DEMO_FIRST_MONTH)
    end_month = _month(environ, END_MONTH, DEMO_LAST_MONTH if uses_demo else None)
    if end_month is not None and parse_month(end_month) < parse_month(start_month):
        raise SettingsError(f"{END_MONTH}={end_month} is before {START_MONTH}={start_month}")
    output_text = environ.get(OUTPUT_DIR, "").strip()
    return Settings(
        data_dir=data_dir,
        crm_dir=crm_dir,
        erp_url_is_set=erp_url_is_set,
        erp_table=_identifier(environ, ERP_TABLE, "recognition"),
        warehouse_url_is_set=bool(environ.get(WAREHOUSE_URL, "").strip()),
        output_dir=_folder(OUTPUT_DIR, output_text, data_dir / "output"),
        start_month=start_month,
        end_month=end_month,
        reporting_currency=currency,
        close_day_of_month=_integer(environ, CLOSE_DAY, 3, 1, 28),
        close_hour=_integer(environ, CLOSE_HOUR, 6, 0, 23),
        close_timezone=timezone,
        crm_kind=crm_kind,
        erp_kind=erp_kind,
        erp_query=erp_query,
        erp_columns=_mapping(
            environ, ERP_COLUMNS, {}, (*RECOGNITION_COLUMNS, MODIFIED), r"[A-Za-z_][A-Za-z0-9_]*"
        ),
        full_refresh=_flag(environ, FULL_REFRESH),
        max_quarantine_share=_number(environ, MAX_QUARANTINE_SHARE, 0.05, 0.0, 1.0),
        http=HttpPolicy(
            timeout=_number(environ, HTTP_TIMEOUT, 30.0, 0.01, 600.0),
            max_attempts=_integer(environ, HTTP_MAX_ATTEMPTS, 6, 1, 20),
            backoff=_number(environ, HTTP_BACKOFF, 1.0, 0.0, 60.0),
            max_wait=_number(environ, HTTP_MAX_WAIT, 300.0, 0.0, 3600.0),
        ),
        salesforce=_salesforce(environ, secrets) if crm_kind == "salesforce" else None,
        hubspot=_hubspot(environ, secrets) if crm_kind == "hubspot" else None,
        netsuite=_netsuite(environ, secrets) if erp_kind == "netsuite" else None,
        secrets_set=secrets,
        step_retries=_integer(environ, STEP_RETRIES, 2, 0, 10),
        step_retry_delay=_number(environ, STEP_RETRY_DELAY, 30.0, 0.0, 3600.0),
        run_retries=_integer(environ, RUN_RETRIES, 1, 0, 10),
        late_data_interval=_integer(environ, LATE_DATA_INTERVAL, 3600, 30, 86400),
        executor=_choice(environ, EXECUTOR, EXECUTORS),
        celery_broker_is_set=bool(environ.get(CELERY_BROKER, "").strip()),
    )
