"""The two KPI documents, built from one published flow row.

Money goes into JSON as numbers with exactly two decimals (``12218.75``), written from
``Decimal`` by simplejson, so a reader parsing with ``Decimal`` gets the warehouse figure
to the cent. Files are replaced atomically (a reader never sees half a document), and only
when their bytes change (``file_writes``).

The typed ``sales.bookings_backlog_changes`` object has exactly its nine keys
(``currency_flows.CHANGES_KEYS``, their one definition), so the month's FX revaluation is
folded into ``backlogValueIncreases`` (a gain) or ``backlogValueDecreases`` (a loss);
``bookings_backlog_total.json``'s measurement states that split.
"""

from __future__ import annotations

import copy
import importlib.resources
import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import simplejson

from backlog_pipeline.accounting.currency_flows import changes_with_revaluation
from backlog_pipeline.accounting.rollforward import REPORTING_COLUMNS
from backlog_pipeline.file_writes import write_atomically
from backlog_pipeline.money import decimal_to_cents
from backlog_pipeline.periods import last_day, month_label, parse_month

CHANGES_FILE = "bookings_backlog_changes.json"
TOTAL_FILE = "bookings_backlog_total.json"


@cache
def _total_definition() -> dict[str, Any]:
    text = importlib.resources.files("backlog_pipeline.kpi").joinpath(TOTAL_FILE).read_text("utf-8")
    return simplejson.loads(text)


def _changes_and_split(
    flow_row: dict[str, Any],
) -> tuple[dict[str, Decimal | None], dict[str, Decimal]]:
    cents = {column: decimal_to_cents(flow_row[column]) for column in REPORTING_COLUMNS}
    return changes_with_revaluation(cents)


def bookings_backlog_changes(flow_row: dict[str, Any]) -> dict[str, Decimal | None]:
    """``sales.bookings_backlog_changes`` from a published flow record (revaluation folded
    into increases or decreases)."""
    return _changes_and_split(flow_row)[0]


def bookings_backlog_total(flow_row: dict[str, Any]) -> dict[str, Any]:
    """``sales.bookings_backlog_total``: the ontology entry with the period's measured value,
    its flow, and how much of the flow's increases or decreases is FX revaluation."""
    document = copy.deepcopy(_total_definition())
    period = flow_row["period"]
    month = parse_month(period)
    changes, split = _changes_and_split(flow_row)
    document["measurement"] = {
        "rogueId": document["kpi"]["rogueId"],
        "period": month_label(month),
        "asOf": last_day(month).isoformat(),
        "value": flow_row["closing"],
        "currency": flow_row["currency"],
        "flow": changes,
        "fx": {
            **split,
            "note": "backlogValueIncreases includes backlogValueIncreasesFromFx and "
            "backlogValueDecreases includes backlogValueDecreasesFromFx: the month's net FX "
            "revaluation of the backlog held in other currencies (fxRevaluation, a gain when "
            "positive).",
        },
    }
    if flow_row.get("rpo") is not None:
        # The month's disclosed RPO and its timing (kpi/rpo_documents.measurement).
        document["measurement"]["rpo"] = flow_row["rpo"]
    if flow_row.get("version") is not None:
        # Which published version this is: publication_versions holds its run and sources.
        document["measurement"]["version"] = int(flow_row["version"])
    return document


def _document_bytes(document: dict[str, Any]) -> bytes:
    text = simplejson.dumps(document, use_decimal=True, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8")


def month_folder(output_dir: Path, period: str) -> Path:
    """``<output>/<YYYY-MM>``, refusing any period that would lead outside the output folder.

    The period comes back from the warehouse; a row edited there must not turn into a path.
    """
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise ValueError(f"{period!r} is not a YYYY-MM period; no document written for it")
    base = output_dir.resolve()
    folder = (base / period).resolve()
    if folder.parent != base:
        raise ValueError(f"{folder} is outside the output folder {base}; nothing written")
    return folder


def write_documents(output_dir: Path, flow_row: dict[str, Any]) -> list[Path]:
    """Write both documents for the flow row's period (each only if it changed); returns
    their paths."""
    folder = month_folder(output_dir, str(flow_row["period"]))
    written = []
    for name, document in (
        (CHANGES_FILE, bookings_backlog_changes(flow_row)),
        (TOTAL_FILE, bookings_backlog_total(flow_row)),
    ):
        write_atomically(folder / name, _document_bytes(document))
        written.append(folder / name)
    return written
