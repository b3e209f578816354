"""The canonical input shape (SPEC.md, "Inputs") and the mapping of raw rows into it.

Every source, whatever system it comes from, hands over raw columns named as in SPEC.md;
this module turns them into typed frames (money in integer cents, months as indices) and
sets aside (``quarantine``), with the source, record, field and reason, the rows that
cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import pandas as pd

from backlog_pipeline.periods import month_indices
from backlog_pipeline.sources.parsing import parse_amounts, parse_dates, parse_months, parse_text
from backlog_pipeline.sources.quarantine import ParsedTable, Quarantine

CONTRACT_COLUMNS = (
    "contract_id", "customer_id", "customer_name", "signed_date", "start_date", "end_date",
    "tcv", "currency", "product", "segment", "region", "updated_at", "rpo_exclusion_reason",
)  # fmt: skip
CONTRACT_REQUIRED = ("contract_id", "customer_id", "signed_date", "tcv")
CHANGE_COLUMNS = ("change_id", "contract_id", "effective_date", "kind", "amount")
CHANGE_REQUIRED = ("change_id", "contract_id", "effective_date", "kind")
RECOGNITION_COLUMNS = ("line_id", "contract_id", "period", "amount")
RECOGNITION_REQUIRED = RECOGNITION_COLUMNS
# The general ledger's amount in the reporting currency, where the ERP carries it.
RECOGNITION_OPTIONAL = ("amount_reporting",)
CHANGE_KINDS = ("increase", "decrease", "cancellation")
_CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
# The share of a source's rows that may be set aside before the source fails, unless set.
MAX_QUARANTINE_SHARE = 0.05


class SourceError(Exception):
    """A source that cannot be used as a whole (a missing column, a currency not handled).

    ``transient`` when a later attempt may read it (a dropped connection, a locked file).
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def parse_in_batches(
    batches: Iterable[pd.DataFrame], parse: Callable[[pd.DataFrame], ParsedTable]
) -> tuple[ParsedTable, int]:
    """``parse`` over a source read in batches, and the number of raw rows read.

    Each batch's raw text is mapped and dropped before the next arrives, so a source of
    millions of lines never holds all its raw text and its typed rows at the same time.
    Batches are labelled by their rows' positions in the whole source, as quarantined rows
    are numbered.
    """
    rows, quarantines, count = [], [], 0
    for raw in batches:
        parsed = parse(raw)
        rows.append(parsed.rows)
        quarantines.append(parsed.quarantine)
        count += len(raw)
    if not rows:
        return parse(pd.DataFrame()), 0
    quarantine = [part for part in quarantines if not part.empty]
    return (
        ParsedTable(
            pd.concat(rows, ignore_index=True) if len(rows) > 1 else rows[0],
            pd.concat(quarantine, ignore_index=True) if quarantine else quarantines[0],
        ),
        count,
    )


def _require_columns(raw: pd.DataFrame, required: Iterable[str], source: str, table: str) -> None:
    missing = [column for column in required if column not in raw.columns]
    if missing:
        found = [str(column) for column in raw.columns if not str(column).startswith("@")]
        raise SourceError(
            f"{source}: table {table!r} has no column(s) {', '.join(missing)}; "
            f"found {', '.join(found) or 'none'}"
        )


def _optional_text(raw: pd.DataFrame, column: str) -> pd.Series:
    if column in raw:
        return parse_text(raw[column]).astype(object).where(lambda s: s.notna(), None)
    return pd.Series(None, index=raw.index, dtype=object)


def parse_contracts(
    raw: pd.DataFrame, source: str, reporting_currency: str, timezone: str = "UTC"
) -> ParsedTable:
    """Typed contracts; dates with an offset fall on their day in ``timezone`` (the close's)."""
    _require_columns(raw, CONTRACT_REQUIRED, source, "contracts")
    contract_id = parse_text(raw["contract_id"])
    quarantine = Quarantine(raw, source, "contracts", contract_id)
    quarantine.missing("contract_id", contract_id)
    customer_id = parse_text(raw["customer_id"])
    quarantine.missing("customer_id", customer_id)
    signed_date, reasons = parse_dates(raw["signed_date"], timezone)
    quarantine.add("signed_date", reasons)
    optional_dates = {}
    for column in ("start_date", "end_date"):
        if column in raw:
            parsed, reasons = parse_dates(raw[column], timezone)
            quarantine.add(column, reasons.where(parse_text(raw[column]).notna()))
            optional_dates[column] = parsed
        else:
            optional_dates[column] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    tcv, reasons = parse_amounts(raw["tcv"])
    quarantine.add("tcv", reasons)
    if "currency" in raw:
        currency = parse_text(raw["currency"]).str.upper().fillna(reporting_currency)
    else:
        currency = pd.Series(reporting_currency, index=raw.index, dtype="string")
    malformed = ~currency.str.match(_CURRENCY_PATTERN.pattern).fillna(False).astype(bool)
    quarantine.refuse("currency", malformed, "currency " + currency.map(repr) + " is not ISO 4217")
    updated_at = (
        pd.to_datetime(parse_text(raw["updated_at"]), format="ISO8601", errors="coerce", utc=True)
        if "updated_at" in raw
        else pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    )
    rows = pd.DataFrame(
        {
            "contract_id": contract_id.astype(object),
            "customer_id": customer_id.astype(object),
            "customer_name": _optional_text(raw, "customer_name"),
            "signed_date": signed_date,
            "start_date": optional_dates["start_date"],
            "end_date": optional_dates["end_date"],
            "tcv": tcv,
            "currency": currency.astype(object),
            "product": _optional_text(raw, "product"),
            "segment": _optional_text(raw, "segment"),
            "region": _optional_text(raw, "region"),
            "updated_at": updated_at,
            # Non-blank: the contract is left out of the disclosed RPO for this reason.
            "rpo_exclusion_reason": _optional_text(raw, "rpo_exclusion_reason"),
        }
    )
    parsed = quarantine.result(rows)
    contracts = parsed.rows
    contracts["tcv"] = contracts["tcv"].astype("int64")
    contracts.insert(4, "signed_month", month_indices(contracts["signed_date"]).astype("int64"))
    return ParsedTable(contracts, parsed.quarantine)


def parse_contract_changes(raw: pd.DataFrame, source: str, timezone: str = "UTC") -> ParsedTable:
    """Typed changes; an effective date-time with an offset falls on its day in ``timezone``."""
    _require_columns(raw, CHANGE_REQUIRED, source, "contract_changes")
    change_id = parse_text(raw["change_id"])
    quarantine = Quarantine(raw, source, "contract_changes", change_id)
    quarantine.missing("change_id", change_id)
    contract_id = parse_text(raw["contract_id"])
    quarantine.missing("contract_id", contract_id)
    effective_date, reasons = parse_dates(raw["effective_date"], timezone)
    quarantine.add("effective_date", reasons)
    kind = parse_text(raw["kind"]).str.lower()
    quarantine.missing("kind", kind)
    unknown_kind = kind.notna() & ~kind.isin(CHANGE_KINDS)
    quarantine.refuse(
        "kind", unknown_kind, "kind " + kind.map(repr) + f" is not one of {', '.join(CHANGE_KINDS)}"
    )
    amount_text = (
        parse_text(raw["amount"]) if "amount" in raw else pd.Series(pd.NA, index=raw.index)
    )
    amount, reasons = parse_amounts(raw["amount"] if "amount" in raw else amount_text)
    # An amount is optional only on a cancellation: without one it terminates the contract.
    reasons = reasons.where(~(amount_text.isna() & (kind == "cancellation")))
    quarantine.add("amount", reasons)
    quarantine.refuse(
        "amount", amount.fillna(0) < 0, "amount is negative; changes carry their direction in kind"
    )
    rows = pd.DataFrame(
        {
            "change_id": change_id.astype(object),
            "contract_id": contract_id.astype(object),
            "effective_date": effective_date,
            "kind": kind.astype(object),
            "amount": amount,
        }
    )
    parsed = quarantine.result(rows)
    changes = parsed.rows
    changes.insert(3, "effective_month", month_indices(changes["effective_date"]).astype("int64"))
    return ParsedTable(changes, parsed.quarantine)


def parse_recognition(raw: pd.DataFrame, source: str) -> ParsedTable:
    _require_columns(raw, RECOGNITION_REQUIRED, source, "recognition")
    line_id = parse_text(raw["line_id"])
    quarantine = Quarantine(raw, source, "recognition", line_id)
    quarantine.missing("line_id", line_id)
    contract_id = parse_text(raw["contract_id"])
    quarantine.missing("contract_id", contract_id)
    period, reasons = parse_months(raw["period"])
    quarantine.add("period", reasons)
    amount, reasons = parse_amounts(raw["amount"])
    quarantine.add("amount", reasons)
    columns = {
        "line_id": line_id.astype(object),
        "contract_id": contract_id.astype(object),
        "period": period,
        "amount": amount,
    }
    if "amount_reporting" in raw:
        columns["amount_reporting"] = _ledger_amounts(raw["amount_reporting"], quarantine)
    parsed = quarantine.result(pd.DataFrame(columns))
    recognition = parsed.rows
    recognition["period"] = recognition["period"].astype("int64")
    recognition["amount"] = recognition["amount"].astype("int64")
    return ParsedTable(recognition, parsed.quarantine)


def _ledger_amounts(raw: pd.Series, quarantine: Quarantine) -> pd.Series:
    """``amount_reporting``: optional per line (blank = none, nullable cents), exact where given.

    The line's amount in the reporting currency as the general ledger booked it; the
    conversion uses it for ``converted`` instead of the average rate (SPEC "Currencies").
    """
    given = parse_text(raw).notna() if raw.dtype == object else raw.notna()
    cents, reasons = parse_amounts(raw)
    quarantine.add("amount_reporting", reasons.where(given))
    return cents.where(given.to_numpy(), pd.NA).astype("Int64")
