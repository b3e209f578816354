"""The month's RPO disclosure as files, read back from the published tables (never
recomputed): ``rpo_disclosure.json`` (the figures, the waterfall, the exclusions by reason
and the ratios) and the note in US GAAP and IFRS wording, Markdown and plain text.

Written after the tables, atomically and only when their bytes change (``file_writes``),
like the KPI documents.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import simplejson
import sqlalchemy as sa

from backlog_pipeline.accounting.expedients import SHORT_CONTRACT_REASON
from backlog_pipeline.file_writes import write_atomically
from backlog_pipeline.kpi.disclosure_note import DisclosureFigures, disclosure_note
from backlog_pipeline.kpi.documents import month_folder
from backlog_pipeline.periods import last_day, parse_month
from backlog_pipeline.warehouse.disclosure_schema import current_tables

DOCUMENT = "rpo_disclosure.json"
NOTES = {
    (framework, style): f"rpo_note_{framework}.{'md' if style == 'markdown' else 'txt'}"
    for framework in ("us_gaap", "ifrs")
    for style in ("markdown", "text")
}
_ZERO = Decimal("0.00")


def _rows(connection: sa.Connection, name: str, labels: list[str]) -> list[dict[str, Any]]:
    table = current_tables[name]
    query = sa.select(table).where(table.c.period.in_(labels)).order_by(*table.primary_key)
    return [dict(row) for row in connection.execute(query).mappings()]


def published_disclosures(engine: sa.Engine, labels: list[str]) -> dict[str, dict[str, Any]]:
    """Per month published with a disclosure: its ``rpo_disclosure`` row, waterfall lines,
    exclusions by reason and ratios, as stored (money as two-decimal ``Decimal``)."""
    with engine.connect() as connection:
        summary = {row["period"]: row for row in _rows(connection, "rpo_disclosure", labels)}
        found = {period: {"summary": row, "waterfall": [], "exclusions": {}, "ratios": None}
                 for period, row in summary.items()}  # fmt: skip
        for line in _rows(connection, "rpo_timing_waterfall", labels):
            if line["period"] in found:
                found[line["period"]]["waterfall"].append(line)
        for entry in _rows(connection, "rpo_exclusion_register", labels):
            if entry["period"] in found:
                reasons = found[entry["period"]]["exclusions"]
                reasons[entry["reason"]] = reasons.get(entry["reason"], _ZERO) + entry["amount"]
        for ratios in _rows(connection, "backlog_ratios", labels):
            if ratios["period"] in found:
                found[ratios["period"]]["ratios"] = ratios
    return found


def measurement(published: dict[str, Any]) -> dict[str, Any]:
    """What ``bookings_backlog_total.json``'s measurement carries of the disclosure."""
    row = published["summary"]
    return {
        "disclosed": row["disclosed"],
        "within12Months": row["within_12_months"],
        "after12Months": row["after_12_months"],
        "undated": row["undated"],
        "overRecognized": row["over_recognized"],
        "excluded": row["excluded"],
        "note": "Remaining performance obligations disclosed (the closing backlog less the "
        "amounts practical expedients exclude) and when they are expected to become revenue.",
    }


def _figures(published: dict[str, Any]) -> DisclosureFigures:
    row = published["summary"]
    lines = {line["line"]: line["amount"] for line in published["waterfall"]}
    short = published["exclusions"].get(SHORT_CONTRACT_REASON, _ZERO)
    others = tuple(
        (reason, amount)
        for reason, amount in sorted(published["exclusions"].items())
        if reason != SHORT_CONTRACT_REASON
    )
    return DisclosureFigures(
        period=row["period"], currency=row["currency"], closing=row["closing"],
        excluded=row["excluded"], disclosed=row["disclosed"],
        within_12_months=row["within_12_months"], months_13_24=lines["months_13_24"],
        months_25_36=lines["months_25_36"], after_36_months=lines["after_36_months"],
        undated=row["undated"], over_recognized=row["over_recognized"],
        short_contract_expedient=row["short_contract_expedient"],
        duration_from=row["duration_from"], excluded_short=short, other_exclusions=others,
        plan_given=row["plan_used"],
    )  # fmt: skip


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def rpo_document(published: dict[str, Any]) -> dict[str, Any]:
    """``rpo_disclosure.json``: the month's published disclosure, as stored."""
    row = published["summary"]
    ratios = published["ratios"] or {}
    return {
        "period": row["period"],
        "asOf": last_day(parse_month(row["period"])).isoformat(),
        "version": row["version"],
        "currency": row["currency"],
        **{key: row[key] for key in ("closing", "excluded", "disclosed", "within_12_months",
                                     "after_12_months", "undated", "over_recognized")},
        "expedients": {
            "shortContractExpedient": row["short_contract_expedient"],
            "durationFrom": row["duration_from"],
            "exclusions": [{"reason": r, "amount": a} for r, a in published["exclusions"].items()],
        },
        "planUsed": row["plan_used"],
        "waterfall": [
            {key: line[key] for key in ("line", "label", "due_month", "amount")}
            for line in published["waterfall"]
        ],
        "ratios": {k: _plain(v) for k, v in ratios.items() if k not in ("period", "version")},
    }  # fmt: skip


def write_rpo_documents(output_dir: Path, published: dict[str, Any]) -> list[Path]:
    """The month's JSON document and its four notes (each written only if it changed)."""
    folder = month_folder(output_dir, str(published["summary"]["period"]))
    document = simplejson.dumps(rpo_document(published), use_decimal=True, indent=2) + "\n"
    write_atomically(folder / DOCUMENT, document.encode("utf-8"))
    written = [folder / DOCUMENT]
    figures = _figures(published)
    for (framework, style), name in NOTES.items():
        write_atomically(folder / name, disclosure_note(figures, framework, style).encode("utf-8"))
        written.append(folder / name)
    return written
