"""What every check reports: a result on every path, the first findings, and where the rest are.

Blocking checks stop publication of the run's months, and a blocking check that emits
nothing does not block: so every check goes through :func:`guarded`.
"""

from collections.abc import Callable

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.reconcile import Discrepancy
from backlog_pipeline.defs.resources import Warehouse
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.evidence import evidence_query
from backlog_pipeline.warehouse.schema import backlog_exceptions_table

_SHOWN = 20


_EVIDENCE_COLUMNS = (
    ("period", "string", "month, YYYY-MM"),
    ("source", "string", "the source or table the record is in"),
    ("record_id", "string", "the record"),
    ("contract_id", "string", "its contract"),
    ("amount", "decimal(18,2)", "exact, in the record's currency"),
    ("reason", "string", "what is wrong with it"),
)


def evidence_table(exceptions: pd.DataFrame) -> dg.TableMetadataValue:
    """The first offending records as a typed table the UI shows as one."""
    records = [
        dg.TableRecord(
            {
                "period": None if pd.isna(row["period"]) else month_label(int(row["period"])),
                "source": str(row["source"]),
                "record_id": None if pd.isna(row["record_id"]) else str(row["record_id"]),
                "contract_id": None if pd.isna(row["contract_id"]) else str(row["contract_id"]),
                "amount": None if pd.isna(row["amount"]) else format_cents(int(row["amount"])),
                "reason": str(row["reason"]),
            }
        )
        for _, row in exceptions.head(_SHOWN).iterrows()
    ]
    columns = [dg.TableColumn(name, kind, description=d) for name, kind, d in _EVIDENCE_COLUMNS]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


def evidence_metadata(
    exceptions: pd.DataFrame, check_name: str, run_id: str, warehouse: Warehouse
) -> dict[str, dg.MetadataValue]:
    """The count, the first records and where all of them stay: one step from red to records."""
    metadata: dict[str, dg.MetadataValue] = {
        "records": dg.MetadataValue.int(len(exceptions)),
    }
    if exceptions.empty:
        return metadata
    by_period = (
        exceptions["period"].map(lambda m: "undated" if pd.isna(m) else month_label(int(m)))
    ).value_counts(sort=False)
    metadata["first_records"] = evidence_table(exceptions)
    metadata["records_by_period"] = dg.MetadataValue.json(
        {period: int(count) for period, count in sorted(by_period.items())}
    )
    metadata["evidence"] = dg.MetadataValue.text(
        f"{len(exceptions)} record(s) in {backlog_exceptions_table.name} "
        f"({warehouse.describe()}), kept for this run: {evidence_query(check_name, run_id)}"
    )
    metadata["summary"] = dg.MetadataValue.text(
        f"{len(exceptions)} record(s); first: {exceptions['reason'].iloc[0]} "
        f"(record {exceptions['record_id'].iloc[0]})"
    )
    return metadata


def check_result(
    found: list[Discrepancy],
    what: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    extra: dict[str, dg.MetadataValue] | None = None,
) -> dg.AssetCheckResult:
    """Pass when nothing was found; otherwise fail listing the first discrepancies."""
    metadata: dict[str, dg.MetadataValue] = {
        "discrepancies": dg.MetadataValue.int(len(found)),
        **(extra or {}),
    }
    if found:
        metadata["details"] = dg.MetadataValue.md(
            pd.DataFrame(found[:_SHOWN]).to_markdown(index=False, disable_numparse=True)
        )
        metadata["summary"] = dg.MetadataValue.text(
            f"{len(found)} {what}; first: " + "; ".join(_describe(d) for d in found[:3])
        )
    return dg.AssetCheckResult(passed=not found, severity=severity, metadata=metadata)


def _describe(discrepancy: Discrepancy) -> str:
    return ", ".join(f"{key}={value}" for key, value in discrepancy.items())


def failed_to_evaluate(error: Exception) -> dg.AssetCheckResult:
    """The result of a check that could not evaluate: failed, with the error."""
    return dg.AssetCheckResult(
        passed=False,
        metadata={"error": dg.MetadataValue.text(f"{type(error).__name__}: {error}")},
    )


def guarded(
    evaluate: Callable[[], dg.AssetCheckResult],
    check_name: str | None = None,
    asset_key: str | None = None,
) -> dg.AssetCheckResult:
    """One result for the whole run, failed if it cannot evaluate. Prefer
    ``check_partitions.by_month``: a range run records this result on no month."""
    try:
        return evaluate()
    except Exception as error:  # a check that cannot evaluate must fail, not vanish
        return failed_to_evaluate(error)._replace(
            check_name=check_name, asset_key=asset_key and dg.AssetKey.from_user_string(asset_key)
        )
