"""Every setting: its environment variable, default and check, each written once.

pydantic-settings reads the ``BACKLOG_*`` variables into :class:`Settings`, and each value
is checked as it is read: a bad one stops the code location with a message naming the
variable. Values that can hold credentials (the database URLs, the Celery broker, tokens
and client secrets) are not kept, only whether they are set: the Dagster layer hands them
over as ``dg.EnvVar`` so they never appear in the UI, the logs or the event log.

``settings`` is read once, when this module is first imported; the Dagster layer
(``defs/``) builds its partitions, resources, schedule and sensor from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from backlog_pipeline.accounting.expedients import DURATION_FROM
from backlog_pipeline.config_checks import (
    PREFIX,
    SettingsError,
    check_planning,
    check_rates,
    checked_folder,
    choice,
    currency,
    existing_folder_in,
    flag,
    folder,
    folder_setting,
    identifier,
    in_data_folder,
    is_set,
    mapping,
    month,
    number,
    select_query,
    time_zone,
    whole,
)
from backlog_pipeline.connector_settings import (
    HUBSPOT_TOKEN,
    NETSUITE_TOKEN,
    SALESFORCE_ACCESS_TOKEN,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
    SALESFORCE_REFRESH_TOKEN,
    HubSpotSettings,
    NetSuiteSettings,
    SalesforceSettings,
    check_not_mixed,
    hubspot_settings,
    netsuite_settings,
    salesforce_settings,
)
from backlog_pipeline.demo.generate import DEMO_FIRST_MONTH, DEMO_LAST_MONTH, DEMO_RATES_TABLE
from backlog_pipeline.periods import parse_month
from backlog_pipeline.source_shrink import MAX_SHRINK
from backlog_pipeline.sources import hubspot, salesforce, sql
from backlog_pipeline.sources.canonical import (
    MAX_QUARANTINE_SHARE,
    RECOGNITION_COLUMNS,
    RECOGNITION_OPTIONAL,
)
from backlog_pipeline.sources.http import HttpPolicy

WAREHOUSE_URL = f"{PREFIX}WAREHOUSE_URL"
ERP_URL = f"{PREFIX}ERP_URL"
CELERY_BROKER = f"{PREFIX}CELERY_BROKER"  # may hold a password: read only through dg.EnvVar
CRM_KINDS = ("csv", "salesforce", "hubspot")
ERP_KINDS = ("sql", "netsuite")
EXECUTORS = ("multiprocess", "in_process", "celery")
_COLUMN = r"[A-Za-z_][A-Za-z0-9_]*"
_ERP_COLUMN_KEYS = (*RECOGNITION_COLUMNS, *RECOGNITION_OPTIONAL, sql.MODIFIED)
# The mapping load_settings() reads instead of the process environment, while it reads.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("environ", default=None)


def _set(variable: str) -> Any:
    """A field that records only whether ``variable`` is set (a URL or secret)."""
    return Field(False, validation_alias=variable)


class Settings(BaseSettings):
    """The settings, in the order they are checked; ``BACKLOG_`` + the upper-case name."""

    # Every value reaches its check as the text of the variable (no JSON decoding).
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        enable_decoding=False,
        extra="ignore",
        validate_default=False,
    )

    data_dir: Annotated[Path, folder] = Field(Path("backlog_data"), validate_default=True)
    # Relative folders are inside data_dir (resolved in _check_together).
    crm_dir: Annotated[Path | None, folder_setting] = None  # None: the embedded demo export
    erp_url_is_set: Annotated[bool, is_set] = _set(ERP_URL)  # False: the embedded demo ERP
    crm_kind: Annotated[str, choice(CRM_KINDS)] = CRM_KINDS[0]
    erp_kind: Annotated[str, choice(ERP_KINDS)] = ERP_KINDS[0]
    erp_query: Annotated[str | None, select_query] = None  # read instead of erp_table
    reporting_currency: Annotated[str, currency] = "USD"
    close_timezone: Annotated[str, time_zone] = "UTC"
    start_month: Annotated[str, month] = DEMO_FIRST_MONTH
    end_month: Annotated[str | None, month] = None  # None: the demo's last month or last month
    output_dir: Annotated[Path | None, folder_setting] = None  # None: <data_dir>/output
    erp_table: Annotated[str, identifier] = sql.TABLE
    close_day_of_month: Annotated[int, whole(1, 28)] = 3
    close_hour: Annotated[int, whole(0, 23)] = 6
    warehouse_url_is_set: Annotated[bool, is_set] = _set(WAREHOUSE_URL)  # False: SQLite in data
    # canonical name -> the ERP's column, where they differ
    erp_columns: Annotated[dict[str, str], mapping(_ERP_COLUMN_KEYS, _COLUMN)] = Field(
        default_factory=dict
    )
    full_refresh: Annotated[bool, flag] = False
    # days between full pulls of a SQL ERP that reconcile its snapshot (0: every pull is full)
    source_reconcile_days: Annotated[float, number(0.0, 3650.0)] = 7.0
    # FX rates: a CSV file, or a table of the ERP database; neither: one currency, no rates
    fx_rates_csv: Annotated[Path | None, folder_setting] = None  # a file, relative: in data
    fx_rates_table: Annotated[str | None, identifier] = None  # None on the demo: its table
    fx_constant_month: Annotated[str | None, month] = None  # None: each fiscal year's first
    fiscal_year_start_month: Annotated[int, whole(1, 12)] = 1  # 1: fiscal years are calendar
    # The RPO disclosure: the ERP's revenue plan, a budget file, the expedients elected.
    erp_plan_table: Annotated[str | None, identifier] = None  # None: straight line only
    revenue_budget_csv: Annotated[Path | None, folder_setting] = None  # None: no coverage
    rpo_short_contract_expedient: Annotated[bool, flag] = False
    rpo_duration_from: Annotated[str, choice(DURATION_FROM)] = DURATION_FROM[0]
    max_quarantine_share: Annotated[float, number(0.0, 1.0)] = MAX_QUARANTINE_SHARE
    max_source_shrink: Annotated[float, number(0.0, 1.0)] = MAX_SHRINK  # share a source may lose
    expect_source_shrink: Annotated[bool, flag] = False  # every run may shrink (WARN, not ERROR)
    http_timeout: Annotated[float, number(0.01, 600.0)] = HttpPolicy.timeout
    http_max_attempts: Annotated[int, whole(1, 20)] = HttpPolicy.max_attempts
    http_backoff: Annotated[float, number(0.0, 60.0)] = HttpPolicy.backoff
    http_max_wait: Annotated[float, number(0.0, 3600.0)] = HttpPolicy.max_wait
    # Checked only for the connector chosen (see config_sources).
    salesforce_instance_url: str = ""
    salesforce_api_version: str = salesforce.API_VERSION
    salesforce_token_url: str = ""  # "": the instance's /services/oauth2/token
    salesforce_object: str = salesforce.DEFAULT_OBJECT
    salesforce_fields: str = ""  # key=Field,... over the object's defaults
    salesforce_signed_values: str = ""  # "": the object's default values
    salesforce_cancelled_values: str = ""
    hubspot_base_url: str = hubspot.BASE_URL
    hubspot_properties: str = ""  # key=property,... over the defaults
    hubspot_won_stages: str = ""  # "": hubspot.WON_STAGES
    netsuite_base_url: str = ""
    netsuite_query: str = ""
    salesforce_access_token_is_set: Annotated[bool, is_set] = _set(SALESFORCE_ACCESS_TOKEN)
    salesforce_refresh_token_is_set: Annotated[bool, is_set] = _set(SALESFORCE_REFRESH_TOKEN)
    salesforce_client_id_is_set: Annotated[bool, is_set] = _set(SALESFORCE_CLIENT_ID)
    salesforce_client_secret_is_set: Annotated[bool, is_set] = _set(SALESFORCE_CLIENT_SECRET)
    hubspot_token_is_set: Annotated[bool, is_set] = _set(HUBSPOT_TOKEN)
    netsuite_token_is_set: Annotated[bool, is_set] = _set(NETSUITE_TOKEN)
    step_retries: Annotated[int, whole(0, 10)] = 2  # after a transient fault of a step
    step_retry_delay: Annotated[float, number(0.0, 3600.0)] = 30.0  # doubles, with jitter
    run_retries: Annotated[int, whole(0, 10)] = 1  # after a crashed run worker
    late_data_interval: Annotated[int, whole(30, 86400)] = 3600  # seconds between evaluations
    executor: Annotated[str, choice(EXECUTORS)] = "in_process"  # how a run executes its steps
    celery_broker_is_set: Annotated[bool, is_set] = _set(CELERY_BROKER)  # False: local guest

    _salesforce: SalesforceSettings | None = PrivateAttr(None)
    _hubspot: HubSpotSettings | None = PrivateAttr(None)
    _netsuite: NetSuiteSettings | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        """A variable set to blanks counts as not set: its default applies."""
        if not isinstance(values, dict):
            return values
        return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}

    @model_validator(mode="after")
    def _check_together(self) -> Settings:
        """The checks that need several settings, and the defaults that depend on others."""
        if self.crm_dir is not None:
            self.crm_dir = existing_folder_in(f"{PREFIX}CRM_DIR", self.crm_dir, self.data_dir)
        check_not_mixed(self.crm_kind, self.crm_dir, self.erp_kind, self.erp_url_is_set)
        if self.end_month is None and self.uses_demo:
            self.end_month = DEMO_LAST_MONTH
        if self.end_month is not None and parse_month(self.end_month) < parse_month(
            self.start_month
        ):
            raise SettingsError(
                f"{PREFIX}END_MONTH={self.end_month} is before "
                f"{PREFIX}START_MONTH={self.start_month}"
            )
        check_rates(self, DEMO_RATES_TABLE)
        check_planning(self)
        output = self.output_dir if self.output_dir is not None else Path("output")
        self.output_dir = checked_folder(
            f"{PREFIX}OUTPUT_DIR",
            str(self.output_dir or ""),
            in_data_folder(f"{PREFIX}OUTPUT_DIR", output, self.data_dir),
        )
        if self.crm_kind == "salesforce":
            self._salesforce = salesforce_settings(self)
        if self.crm_kind == "hubspot":
            self._hubspot = hubspot_settings(self)
        if self.erp_kind == "netsuite":
            self._netsuite = netsuite_settings(self)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The process environment, or the mapping :func:`load_settings` was given."""
        environ = _ENVIRON.get()
        if environ is None:
            return (env_settings,)
        found = {}
        for name, field in settings_cls.model_fields.items():
            variable = field.validation_alias or f"{PREFIX}{name.upper()}"
            if variable in environ:
                found[field.validation_alias or name] = environ[variable]
        return (InitSettingsSource(settings_cls, found),)

    @property
    def uses_demo(self) -> bool:
        return (
            self.crm_kind == "csv"
            and self.crm_dir is None
            and self.erp_kind == "sql"
            and not self.erp_url_is_set
        )

    @property
    def http(self) -> HttpPolicy:
        return HttpPolicy(
            timeout=self.http_timeout,
            max_attempts=self.http_max_attempts,
            backoff=self.http_backoff,
            max_wait=self.http_max_wait,
        )

    @property
    def salesforce(self) -> SalesforceSettings | None:
        return self._salesforce

    @property
    def hubspot(self) -> HubSpotSettings | None:
        return self._hubspot

    @property
    def netsuite(self) -> NetSuiteSettings | None:
        return self._netsuite

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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``environ`` (the process environment if None), checked.

    Raises :class:`SettingsError` naming the first variable with a value it cannot use.
    """
    token = _ENVIRON.set(environ)
    try:
        return Settings()
    except ValidationError as error:
        raise _first_error(error) from None
    finally:
        _ENVIRON.reset(token)


def _first_error(error: ValidationError) -> SettingsError:
    first = error.errors()[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, SettingsError):
        return cause
    variable = f"{PREFIX}{str(first['loc'][0]).upper()}" if first["loc"] else PREFIX
    return SettingsError(f"{variable}: {first['msg']}")


settings = load_settings()
