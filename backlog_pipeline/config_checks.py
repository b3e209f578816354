"""How each setting's text is checked: every message names the variable and its value.

Each check is a pydantic ``BeforeValidator`` on a field of ``config.Settings`` (it gets the
variable's text, already known not to be blank) or a plain function the connector
settings call (``connector_settings``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlparse
from pydantic import BeforeValidator, ValidationInfo

from backlog_pipeline.periods import parse_month

PREFIX = "BACKLOG_"


class SettingsError(ValueError):
    """A setting with a value the pipeline cannot use; the message names the variable."""


def _text_check(check: Callable[[str, str], Any]) -> BeforeValidator:
    """A validator calling ``check(variable, text)`` on a variable's trimmed text."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value  # a default, right as it is
        return check(f"{PREFIX}{(info.field_name or '').upper()}", value.strip())

    return BeforeValidator(validate)


def checked_folder(name: str, text: str, path: Path) -> Path:
    """A folder the pipeline writes into: not a file, and not a filesystem root."""
    path = path.resolve()
    if path == Path(path.anchor):
        raise SettingsError(f"{name}={text!r} is a filesystem root; give a folder of its own")
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name}={text!r} is a file, not a folder")
    return path


def _folder(value: Any, info: ValidationInfo) -> Path:
    # The default (a Path) is checked too, and named as if the variable were empty.
    text = value.strip() if isinstance(value, str) else ""
    return checked_folder(f"{PREFIX}{(info.field_name or '').upper()}", text, Path(text or value))


def in_data_folder(name: str, path: Path, data_dir: Path) -> Path:
    """A folder setting resolved: an absolute path as it is, a relative one inside the data
    folder (never against the working directory, which depends on where a process
    started), and refused if it leads out of the data folder (``../../etc``)."""
    if path.is_absolute():
        return path.resolve()
    base = data_dir.resolve()
    resolved = (base / path).resolve()
    if not resolved.is_relative_to(base):
        raise SettingsError(
            f"{name}={str(path)!r} leads outside the data folder {base} (BACKLOG_DATA_DIR): "
            "a relative folder is taken inside it; give an absolute path for another place"
        )
    return resolved


def existing_folder_in(name: str, path: Path, data_dir: Path) -> Path:
    resolved = in_data_folder(name, path, data_dir)
    if not resolved.is_dir():
        raise SettingsError(f"{name}={str(path)!r} is not a folder ({resolved})")
    return resolved


def existing_file_in(name: str, path: Path, data_dir: Path) -> Path:
    """A file setting: resolved as a folder setting is (``in_data_folder``), and there."""
    resolved = in_data_folder(name, path, data_dir)
    if not resolved.is_file():
        raise SettingsError(f"{name}={str(path)!r} is not a file ({resolved})")
    return resolved


def _path(name: str, text: str) -> Path:
    """The text as a path, resolved later against the data folder (see ``in_data_folder``)."""
    return Path(text)


def _month(name: str, text: str) -> str:
    try:
        parse_month(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a month in YYYY-MM form") from None
    return text[:7]


def _identifier(name: str, text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?", text):
        raise SettingsError(f"{name}={text!r} must be a table name, optionally schema.table")
    return text


def _currency(name: str, text: str) -> str:
    # Upper-cased, as a contract's currency is: "usd" in both places means USD.
    code = text.upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise SettingsError(f"{name}={text!r} is not an ISO 4217 code like USD")
    return code


def _time_zone(name: str, text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{name}={text!r} is not an IANA time zone") from None
    return text


def _statements(query: str) -> list[sqlparse.sql.Statement]:
    """The statements of ``query`` as a SQL parser reads them (quotes and comments known)."""
    parsed = sqlparse.parse(query)
    return [s for s in parsed if s.token_first(skip_cm=True, skip_ws=True) is not None]


def select_problem(query: str) -> str | None:
    """Why ``query`` is not one read-only SELECT (or WITH ... SELECT), or None.

    Parsed, not matched on its first word: ``SELECT 1; DROP TABLE x`` is two statements.
    The read itself also runs in a read-only transaction (``sources.sql``), for what a
    parser cannot see (a function that writes, a data-modifying WITH).
    """
    statements = _statements(query)
    if len(statements) != 1:
        return f"must be one statement; it has {len(statements)}"
    kind = statements[0].get_type()
    if kind != "SELECT":
        return f"must be a SELECT (or WITH ... SELECT); it is {kind.lower()}"
    return None


def _select_query(name: str, text: str) -> str:
    problem = select_problem(text)
    if problem:
        raise SettingsError(f"{name} {problem}")
    return text


def _flag(name: str, text: str) -> bool:
    text = text.lower()
    if text not in ("0", "1", "false", "true", "no", "yes"):
        raise SettingsError(f"{name}={text!r} must be true or false")
    return text in ("1", "true", "yes")


def whole(low: int, high: int) -> BeforeValidator:
    def check(name: str, text: str) -> int:
        if not re.fullmatch(r"\d+", text) or not low <= int(text) <= high:
            raise SettingsError(f"{name}={text!r} must be a whole number from {low} to {high}")
        return int(text)

    return _text_check(check)


def number(low: float, high: float) -> BeforeValidator:
    def check(name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise SettingsError(f"{name}={text!r} must be a number from {low:g} to {high:g}")
        return value

    return _text_check(check)


def choice(choices: tuple[str, ...]) -> BeforeValidator:
    def check(name: str, text: str) -> str:
        value = text.lower()
        if value not in choices:
            raise SettingsError(f"{name}={value!r} must be one of {', '.join(choices)}")
        return value

    return _text_check(check)


def mapping(keys: tuple[str, ...], pattern: str) -> BeforeValidator:
    return _text_check(lambda name, text: mapping_of(name, text, {}, keys, pattern))


def mapping_of(
    name: str, text: str, defaults: Mapping[str, str], keys: tuple[str, ...], pattern: str
) -> dict[str, str]:
    """``key=name,key=name`` over the defaults; ``key=`` removes a default."""
    found = dict(defaults)
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals or key not in keys:
            raise SettingsError(
                f"{name}: {item!r} must be key=name with key one of {', '.join(keys)}"
            )
        if value and not re.fullmatch(pattern, value):
            raise SettingsError(f"{name}: {value!r} is not a field name")
        if value:
            found[key] = value
        else:
            found.pop(key, None)
    return found


def require_keys(name: str, found: Mapping[str, str], required: tuple[str, ...]) -> None:
    missing = [key for key in required if not found.get(key)]
    if missing:
        raise SettingsError(f"{name} must map {', '.join(missing)}")


def values(text: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """``a,b,c`` as a tuple; blank text gives the default."""
    if not text.strip():
        return default
    return tuple(value.strip() for value in text.split(",") if value.strip())


def url(name: str, text: str) -> str:
    if not text:
        raise SettingsError(f"{name} must be set for this source")
    if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s?#]*)?", text):
        raise SettingsError(f"{name}={text!r} must be an http(s) URL without query or user")
    return text.rstrip("/")


def is_select(query: str) -> bool:
    return select_problem(query) is None


folder = BeforeValidator(_folder)
folder_setting = _text_check(_path)
month = _text_check(_month)
identifier = _text_check(_identifier)
currency = _text_check(_currency)
time_zone = _text_check(_time_zone)
select_query = _text_check(_select_query)
flag = _text_check(_flag)
# Whether a variable holding a URL or secret is set; its value is never kept.
is_set = BeforeValidator(lambda value: value if isinstance(value, bool) else bool(str(value)))


def check_rates(settings: Any, demo_table: str) -> None:
    """One rates source at most; a table needs the ERP database; the demo has its own."""
    if settings.fx_rates_csv is not None and settings.fx_rates_table is not None:
        raise SettingsError(
            f"{PREFIX}FX_RATES_CSV and {PREFIX}FX_RATES_TABLE are both set; set one"
        )
    if settings.fx_rates_csv is not None:
        settings.fx_rates_csv = existing_file_in(
            f"{PREFIX}FX_RATES_CSV", settings.fx_rates_csv, settings.data_dir
        )
    if settings.fx_rates_table is not None and settings.erp_kind != "sql":
        raise SettingsError(
            f"{PREFIX}FX_RATES_TABLE is read from the ERP database, which "
            f"{PREFIX}ERP_KIND={settings.erp_kind} does not have; set {PREFIX}FX_RATES_CSV"
        )
    if settings.uses_demo and settings.fx_rates_csv is None and settings.fx_rates_table is None:
        settings.fx_rates_table = demo_table


def check_planning(settings: Any) -> None:
    """The RPO disclosure's sources: the plan is a table of the SQL ERP; the budget a file."""
    if settings.erp_plan_table is not None and settings.erp_kind != "sql":
        raise SettingsError(
            f"{PREFIX}ERP_PLAN_TABLE is read from the ERP database, which "
            f"{PREFIX}ERP_KIND={settings.erp_kind} does not have"
        )
    if settings.revenue_budget_csv is not None:
        settings.revenue_budget_csv = existing_file_in(
            f"{PREFIX}REVENUE_BUDGET_CSV", settings.revenue_budget_csv, settings.data_dir
        )
