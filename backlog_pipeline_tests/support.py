"""Helpers the tests share (fixtures are in ``conftest.py``).

- Source rows made by hand (:func:`contract`, :func:`change`, :func:`recognized`), the hand
  dataset of ``test_pipeline`` with its figures worked out by hand (``EXPECTED``), typed
  frames (:func:`frames`) and sources on disk (:func:`write_sources`).
- The code location for an environment (:func:`load_definitions`, :func:`build`), a close
  over a range of months (:func:`close`) and reads of the warehouse (:func:`table`).
- Replies of the Salesforce REST API (:func:`opportunity`, :func:`page`).

Definitions for an environment
------------------------------
The code location is built once, when it is imported, from ``backlog_pipeline.config.settings``
(read from the environment at that moment). :func:`load_definitions` is the one supported
way to get it for another environment: set the variables first (``monkeypatch.setenv``,
which also undoes them after the test), then call it. It reloads ``backlog_pipeline.config``
and every module that imports it at module level, directly or through another module,
each after the modules it imports, and returns the new ``backlog_pipeline.definitions.defs``.
The modules are found from their import statements, so a new ``defs`` module is picked up
without a list to keep. Modules that do not depend on the settings (the resource classes,
the IO manager, ``sources/``, ``warehouse/``) are not reloaded: their classes stay the objects
a test imported, so ``isinstance`` and ``monkeypatch.setattr`` on them keep working. A
module-level object taken from a reloaded module before the reload (``from
backlog_pipeline.defs.jobs import monthly_close``) is the old one: take it from the returned
``defs`` (``defs.resolve_job_def("monthly_close")``) or import it after the call.
"""

from __future__ import annotations

import ast
import csv
import importlib
import importlib.util
import os
import sys
from decimal import Decimal
from graphlib import TopologicalSorter
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.sources.canonical import (
    CHANGE_COLUMNS,
    CONTRACT_COLUMNS,
    RECOGNITION_COLUMNS,
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)

POSTGRES_URL = os.environ.get(
    "BACKLOG_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
PACKAGE = "backlog_pipeline"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# Every check the close runs, by name, listed by hand from SPEC.md and the issues that added
# them (source_not_shrunk is one name on each source), so a check that stops running is noticed.
EVERY_CHECK = frozenset({
    # the sources' data-error checks
    "contract_ids_unique", "change_ids_unique", "line_ids_unique", "currency_known",
    "tcv_not_negative", "changes_have_contracts", "recognition_has_contracts",
    "recognition_after_signing", "recognition_before_termination", "source_not_shrunk",
    "revenue_plan_matches_backlog",
    # the flow's identities and its history
    "flow_reconciles", "flow_matches_contracts", "opening_continues_previous_close",
    "cancellation_line_present", "cancellations_within_backlog", "no_over_recognition",
    "no_phantom_backlog", "matches_published", "continues_locked_close",
    # currencies
    "currencies_sum_to_flow", "fx_revaluation_second_route", "ledger_amounts_agree",
    # the RPO disclosure
    "contract_timing_sums_to_month", "waterfall_sums_to_disclosed",
    "disclosed_plus_excluded_is_closing", "slices_sum_to_flow", "disclosure_matches_published",
})  # fmt: skip


class RecordingLog:
    """A connector log that keeps its lines, for tests that read what a pull said."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str) -> None:
        self.lines.append(msg)

    warning = info


def partition_key(month: str) -> str:
    """The Dagster partition key of a month given as ``YYYY-MM``: new tests name keys through
    this, so the key format has one home in the tests."""
    return month


# --- source rows ----------------------------------------------------------------------------


def contract(contract_id: str, signed: str, tcv: str, **extra: str) -> dict[str, str]:
    return {"contract_id": contract_id, "customer_id": f"CUST-{contract_id}", "signed_date": signed,
            "tcv": tcv, **extra}  # fmt: skip


def change(change_id: str, contract_id: str, effective: str, kind: str, amount: str = "") -> dict:
    return {"change_id": change_id, "contract_id": contract_id, "effective_date": effective,
            "kind": kind, "amount": amount}  # fmt: skip


def recognized(contract_id: str, *monthly: tuple[str, str]) -> list[dict[str, str]]:
    return [
        {
            "line_id": f"{contract_id}-{period}-{i}",
            "contract_id": contract_id,
            "period": period,
            "amount": amount,
        }
        for i, (period, amount) in enumerate(monthly)
    ]


def frames(contracts: list[dict], changes: list[dict], recognition: list[dict]):
    """Typed canonical frames from raw rows, as the source assets would produce them."""
    parsed_contracts = parse_contracts(pd.DataFrame(contracts), "test CRM", "USD")
    parsed_changes = parse_contract_changes(
        pd.DataFrame(changes, columns=list(CHANGE_COLUMNS)), "test CRM"
    )
    parsed_recognition = parse_recognition(
        pd.DataFrame(recognition, columns=list(RECOGNITION_COLUMNS)), "test ERP"
    )
    for parsed in (parsed_contracts, parsed_changes, parsed_recognition):
        assert parsed.quarantine.empty, parsed.quarantine
    return parsed_contracts.rows, parsed_changes.rows, parsed_recognition.rows


def write_sources(
    folder: Path, contracts: list[dict], changes: list[dict], recognition: list[dict]
) -> tuple[Path, str]:
    """A CRM export folder and an ERP SQLite database holding the given rows."""
    crm = folder / "crm"
    crm.mkdir(parents=True)
    for name, rows, columns in (
        ("contracts", contracts, CONTRACT_COLUMNS),
        ("contract_changes", changes, CHANGE_COLUMNS),
    ):
        with open(crm / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    erp_url = f"sqlite:///{folder / 'erp.sqlite'}"
    engine = sa.create_engine(erp_url)
    pd.DataFrame(recognition, columns=list(RECOGNITION_COLUMNS)).to_sql(
        "recognition", engine, index=False
    )
    engine.dispose()
    return crm, erp_url


# --- the hand dataset -----------------------------------------------------------------------

CONTRACTS = [
    contract("C1", "2024-01-10", "12000.00"),
    contract("C2", "2024-02-03", "2400.50"),
    contract("C3", "2024-03-31", "1000.00", currency="USD"),
]
CHANGES = [
    change("X1", "C2", "2024-03-01", "increase", "600.00"),
    change("X2", "C1", "2024-04-15", "cancellation"),
    change("X3", "C3", "2024-05-20", "cancellation", "250.00"),
    change("X4", "C3", "2024-05-21", "decrease", "100.00"),
]
RECOGNITION = recognized(
    "C1",
    ("2024-01", "1000.00"),
    ("2024-02", "1000.00"),
    ("2024-03", "1000.00"),
    ("2024-04", "1000.00"),
) + recognized("C2", ("2024-02", "200.25"), ("2024-03", "300.00"))
# period: opening, new, converted, lost, increases, decreases, closing, net change %
EXPECTED = {
    "2024-01": ("0", "12000", "1000", "0", "0", "0", "11000", None),
    "2024-02": ("11000", "2400.50", "1200.25", "0", "0", "0", "12200.25", "10.91"),
    "2024-03": ("12200.25", "1000", "1300", "0", "600", "0", "12500.25", "2.46"),
    # C1 terminated: 9,000 open, 1,000 recognized in April, the remaining 8,000 lost.
    "2024-04": ("12500.25", "0", "1000", "8000", "0", "0", "3500.25", "-72.00"),
    "2024-05": ("3500.25", "0", "0", "250", "0", "100", "3150.25", "-10.00"),
    "2024-06": ("3150.25", "0", "0", "0", "0", "0", "3150.25", "0.00"),
}
LATE_LINE = {"line_id": "C2-2024-04-late", "contract_id": "C2", "period": "2024-04",
             "amount": "100.00"}  # fmt: skip
# The late line converts 100 more in April: every closing from April on is 100 lower.
AFTER_LATE_LINE = {"2024-04": "3400.25", "2024-05": "3050.25", "2024-06": "3050.25"}


def add_late_line(tmp_path: Path) -> None:
    """``LATE_LINE`` appended to the ERP :func:`build` wrote under ``tmp_path``."""
    erp = sa.create_engine(f"sqlite:///{tmp_path / 'sources' / 'erp.sqlite'}")
    pd.DataFrame([LATE_LINE]).to_sql("recognition", erp, index=False, if_exists="append")
    erp.dispose()


# --- the code location, a close, the warehouse ----------------------------------------------


def _package_modules() -> dict[str, Path]:
    """Every module of the package and its file, found on disk (nothing is imported)."""
    root = Path(importlib.util.find_spec(PACKAGE).origin).parent
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _top_level_imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules a file imports at module level (not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # a module, maybe
    return found & known


def _built_from_settings() -> list[str]:
    """The modules that import the settings, directly or not, each after what it imports."""
    modules = _package_modules()
    imports = {name: _top_level_imports(path, set(modules)) for name, path in modules.items()}
    dependent = {f"{PACKAGE}.config"}
    while more := {name for name, used in imports.items() if used & dependent} - dependent:
        dependent |= more
    order = TopologicalSorter({name: imports[name] & dependent for name in dependent})
    return list(order.static_order())


def load_definitions() -> dg.Definitions:
    """The code location as the current environment makes it (see the module docstring)."""
    for name in _built_from_settings():
        if name in sys.modules:
            importlib.reload(sys.modules[name])
        else:
            importlib.import_module(name)
    return sys.modules[f"{PACKAGE}.definitions"].defs


def build(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    warehouse_url: str,
    name: str = "sources",
    **sources: list,
) -> dg.Definitions:
    """Sources written under ``name``; the data folder and warehouse stay the same across calls."""
    crm_dir, erp_url = write_sources(
        tmp_path / name,
        sources.get("contracts", CONTRACTS),
        sources.get("changes", CHANGES),
        sources.get("recognition", RECOGNITION),
    )
    for key, value in {
        "BACKLOG_DATA_DIR": str(tmp_path / "data"),
        "BACKLOG_CRM_DIR": str(crm_dir),
        "BACKLOG_ERP_URL": erp_url,
        "BACKLOG_WAREHOUSE_URL": warehouse_url,
        "BACKLOG_START_MONTH": "2024-01",
        "BACKLOG_END_MONTH": "2024-06",
    }.items():
        monkeypatch.setenv(key, value)
    return load_definitions()


def close(defs: dg.Definitions, first: str, last: str | None = None) -> dg.ExecuteInProcessResult:
    """One run of the monthly close job over ``first``..``last`` (a single-run backfill)."""
    return defs.resolve_job_def("monthly_close").execute_in_process(
        tags={RANGE_START_TAG: partition_key(first), RANGE_END_TAG: partition_key(last or first)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def check_evaluations(result: dg.ExecuteInProcessResult) -> list[dg.AssetCheckEvaluation]:
    """Every check evaluation of the run: one per check and month."""
    return [
        event.asset_check_evaluation_data
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """Each check's result for the run: its first failed month's, else its last month's."""
    by_name: dict[str, dg.AssetCheckEvaluation] = {}
    for evaluation in check_evaluations(result):
        kept = by_name.get(evaluation.check_name)
        if kept is None or kept.passed:
            by_name[evaluation.check_name] = evaluation
    return by_name


def read(url: str, query: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        frame = pd.read_sql(sa.text(query), connection)
    engine.dispose()
    return frame


def table(url: str, name: str) -> pd.DataFrame:
    frame = read(url, f"SELECT * FROM {name}")
    keys = [key for key in ("period", "contract_id", "id") if key in frame]
    # Ties broken by every other column (as text), so two tables with the same rows compare
    # equal whatever order the database returns them in.
    others = [column for column in frame.columns if column not in keys]
    return frame.sort_values(
        keys + others, kind="stable", key=lambda c: c.astype(str) if c.name in others else c
    ).reset_index(drop=True)


def closings(url: str) -> dict[str, object]:
    flow = read(url, "SELECT period, closing FROM backlog_flow")
    return {row.period: money(row.closing) for row in flow.itertuples()}


def money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


# --- Salesforce replies ---------------------------------------------------------------------

QUERY_PATH = "/services/data/v62.0/query"
NEXT_PATH = "/services/data/v62.0/query/01gD0000002HU6KIAW-2000"


def opportunity(record_id: str, amount: object, won: bool = True, **fields) -> dict:
    return {
        "attributes": {
            "type": "Opportunity",
            "url": f"/services/data/v62.0/sobjects/Opportunity/{record_id}",
        },
        "Id": record_id,
        "AccountId": f"001{record_id}",
        "Account": {"attributes": {}, "Name": f"Acme {record_id}"},
        "CloseDate": "2024-01-10",
        "Amount": amount,
        "CurrencyIsoCode": "USD",
        "IsWon": won,
        "SystemModstamp": "2024-02-01T09:30:00.000+0000",
        **fields,
    }


def page(records: list[dict], next_url: str | None = None) -> dict:
    body = {"totalSize": 3, "done": next_url is None, "records": records}
    if next_url:
        body["nextRecordsUrl"] = next_url
    return body
