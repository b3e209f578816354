"""Every setting, read from the environment in one place and checked before anything runs.

Values that can hold credentials (the database URLs) are not kept here: the Dagster layer
reads them with ``EnvVar`` so they never appear in the UI, the logs or the event log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


class SettingsError(ValueError):
    """A setting with a value the pipeline cannot use; the message names the variable."""


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

    @property
    def uses_demo(self) -> bool:
        return self.crm_dir is None and not self.erp_url_is_set

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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    data_dir = Path(environ.get(DATA_DIR, "").strip() or "backlog_data").resolve()
    crm_text = environ.get(CRM_DIR, "").strip()
    crm_dir = Path(crm_text).resolve() if crm_text else None
    if crm_dir is not None and not crm_dir.is_dir():
        raise SettingsError(f"{CRM_DIR}={crm_text!r} is not a folder")
    erp_url_is_set = bool(environ.get(ERP_URL, "").strip())
    uses_demo = crm_dir is None and not erp_url_is_set
    currency = environ.get(REPORTING_CURRENCY, "").strip() or "USD"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise SettingsError(f"{REPORTING_CURRENCY}={currency!r} is not an ISO 4217 code like USD")
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
        output_dir=Path(output_text).resolve() if output_text else data_dir / "output",
        start_month=start_month,
        end_month=end_month,
        reporting_currency=currency,
        close_day_of_month=_integer(environ, CLOSE_DAY, 3, 1, 28),
        close_hour=_integer(environ, CLOSE_HOUR, 6, 0, 23),
        close_timezone=timezone,
    )
