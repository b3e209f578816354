"""Asset checks on the monthly flow, each naming the figures that disagree and by how much.

Blocking checks stop publication of the run's months; each returns a result on every
path, since a blocking check that emits nothing does not block.
"""

from collections.abc import Callable

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.as_of import total_closing_as_of_months
from backlog_pipeline.accounting.reconcile import (
    Discrepancy,
    as_of_discrepancies,
    cancellation_line_problems,
    continuity_discrepancies,
    contract_sum_discrepancies,
    identity_discrepancies,
    next_month_discrepancies,
)
from backlog_pipeline.accounting.restatement import contract_differences, flow_differences
from backlog_pipeline.defs.partitions import months_in_run
from backlog_pipeline.defs.resources import Warehouse
from backlog_pipeline.defs.sources import ROLL_FORWARD_INS
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.evidence import evidence_query, replace_exceptions
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.reads import (
    current_versions,
    published_closing,
    published_figure,
    published_figures,
)
from backlog_pipeline.warehouse.schema import backlog_exceptions_table
from backlog_pipeline.warehouse.versions import month_fingerprints

_SHOWN = 20


def evidence_metadata(
    exceptions: pd.DataFrame, check_name: str, run_id: str, warehouse: Warehouse
) -> dict[str, dg.MetadataValue]:
    """The count, the first records and where the rest are: one step from red to records."""
    metadata: dict[str, dg.MetadataValue] = {
        "records": dg.MetadataValue.int(len(exceptions)),
    }
    if exceptions.empty:
        return metadata
    shown = exceptions.head(_SHOWN).assign(
        period=lambda f: f["period"].map(lambda m: None if pd.isna(m) else month_label(int(m))),
        amount=lambda f: f["amount"].map(lambda c: None if pd.isna(c) else format_cents(int(c))),
    )
    by_period = (
        exceptions["period"].map(lambda m: "undated" if pd.isna(m) else month_label(int(m)))
    ).value_counts(sort=False)
    metadata["first_records"] = dg.MetadataValue.md(
        shown.to_markdown(index=False, disable_numparse=True)
    )
    metadata["records_by_period"] = dg.MetadataValue.json(
        {period: int(count) for period, count in sorted(by_period.items())}
    )
    metadata["evidence"] = dg.MetadataValue.text(
        f"{len(exceptions)} record(s) in {backlog_exceptions_table.name} "
        f"({warehouse.describe()}): {evidence_query(check_name, run_id)}"
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


def guarded(
    evaluate: Callable[[], dg.AssetCheckResult],
    check_name: str | None = None,
    asset_key: str | None = None,
) -> dg.AssetCheckResult:
    try:
        return evaluate()
    except Exception as error:  # a check that cannot evaluate must fail, not vanish
        return dg.AssetCheckResult(
            check_name=check_name,
            asset_key=asset_key,
            passed=False,
            metadata={"error": dg.MetadataValue.text(f"{type(error).__name__}: {error}")},
        )


def build_flow_checks(
    partitions_def: dg.MonthlyPartitionsDefinition,
) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="backlog_flow",
        partitions_def=partitions_def,
        blocking=True,
        additional_ins=ROLL_FORWARD_INS,
        description=(
            "opening + new − converted − lost + increases − decreases = closing for every month, "
            "to the cent, and closing equals Σ events to the month end − Σ recognized to date "
            "computed straight from the sources."
        ),
    )
    def flow_reconciles(
        backlog_flow: pd.DataFrame,
        contracts: pd.DataFrame,
        changes: pd.DataFrame,
        recognition: pd.DataFrame,
    ) -> dg.AssetCheckResult:
        def evaluate() -> dg.AssetCheckResult:
            found = identity_discrepancies(backlog_flow)
            if not found and "closing" in backlog_flow:
                independent = total_closing_as_of_months(
                    contracts, changes, recognition, [int(m) for m in backlog_flow["period"]]
                )
                found = as_of_discrepancies(backlog_flow, independent)
            return check_result(
                found,
                "month(s) do not reconcile",
                extra={"months": dg.MetadataValue.int(len(backlog_flow))},
            )

        return guarded(evaluate)

    @dg.asset_check(
        asset="backlog_flow",
        partitions_def=partitions_def,
        blocking=True,
        description="Every month carries an explicit numeric cancellation (lost) line, 0 included.",
    )
    def cancellation_line_present(backlog_flow: pd.DataFrame) -> dg.AssetCheckResult:
        return guarded(
            lambda: check_result(
                cancellation_line_problems(backlog_flow), "month(s) lack a cancellation line"
            )
        )

    @dg.asset_check(
        asset="backlog_flow",
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"contract_rows": dg.AssetIn("contract_backlog")},
        description="Every figure of the flow is the sum of the contract rows behind it.",
    )
    def flow_matches_contracts(
        backlog_flow: pd.DataFrame, contract_rows: pd.DataFrame
    ) -> dg.AssetCheckResult:
        return guarded(
            lambda: check_result(
                contract_sum_discrepancies(backlog_flow, contract_rows),
                "figure(s) differ from the sum of their contracts",
            )
        )

    @dg.asset_check(
        asset="backlog_flow",
        partitions_def=partitions_def,
        description=(
            "Each month's opening equals the previous month's closing: the month before in this "
            "run, or the one published in the warehouse; and a published month right after the "
            "run still opens at the run's last closing (else it needs a rerun)."
        ),
    )
    def opening_continues_previous_close(
        backlog_flow: pd.DataFrame, warehouse: Warehouse
    ) -> dg.AssetCheckResult:
        def evaluate() -> dg.AssetCheckResult:
            first = int(backlog_flow["period"].min())
            last = int(backlog_flow["period"].max())
            published = published_closing(warehouse.engine, [first - 1])
            following = published_figure(warehouse.engine, [last + 1], "opening")
            return check_result(
                continuity_discrepancies(backlog_flow, published)
                + next_month_discrepancies(backlog_flow, following),
                "month(s) open at another figure than the previous close",
                severity=dg.AssetCheckSeverity.WARN,
                extra={
                    "previous_month_published": dg.MetadataValue.bool(first - 1 in published),
                    "next_month_published": dg.MetadataValue.bool(last + 1 in following),
                },
            )

        return guarded(evaluate)

    @dg.asset_check(
        asset="backlog_flow",
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"contract_rows": dg.AssetIn("contract_backlog")},
        description=(
            "The recomputed figures equal the published ones. A difference (late or corrected "
            "source data) is listed line by line and published as a new version (WARN); for a "
            "locked month it blocks publication (ERROR) until the month is unlocked."
        ),
    )
    def matches_published(
        context: dg.AssetCheckExecutionContext,
        backlog_flow: pd.DataFrame,
        contract_rows: pd.DataFrame,
        warehouse: Warehouse,
    ) -> dg.AssetCheckResult:
        def evaluate() -> dg.AssetCheckResult:
            first, last = months_in_run(context)
            months = [int(month) for month in backlog_flow["period"]]
            fingerprints = month_fingerprints(backlog_flow, contract_rows)
            with warehouse.engine.connect() as connection:
                published = current_versions(connection, months)
                held = locks(connection, months)
            changed = [
                m for m in months if m in published and published[m].content_hash != fingerprints[m]
            ]
            old_flow, old_rows = published_figures(warehouse.engine, changed)
            chosen = backlog_flow["period"].isin(changed)
            by_line = flow_differences(backlog_flow[chosen], old_flow)
            by_contract = contract_differences(
                contract_rows[contract_rows["period"].isin(changed)], old_rows
            )
            blocked = [held[m].describe() for m in changed if m in held]
            severity = dg.AssetCheckSeverity.ERROR if blocked else dg.AssetCheckSeverity.WARN
            replace_exceptions(
                warehouse.engine,
                "matches_published",
                severity.value,
                "backlog_flow",
                by_contract,
                context.run.run_id,
                (first, last),
            )
            extra = {
                "months_published_before": dg.MetadataValue.int(len(published)),
                "months_restated": dg.MetadataValue.json(
                    {
                        month_label(
                            m
                        ): f"version {published[m].version} → {published[m].version + 1}"
                        for m in changed
                    }
                ),
                **evidence_metadata(
                    by_contract, "matches_published", context.run.run_id, warehouse
                ),
            }
            if blocked:
                extra["locked"] = dg.MetadataValue.text(
                    "Locked month(s) would change, publication blocked: "
                    + "; ".join(blocked)
                    + ". Unlock with `backlog-months unlock YYYY-MM --by NAME --reason TEXT`."
                )
            moved = {line["period"] for line in by_line}
            by_line += [
                {"period": month_label(m), "figure": "contract rows only (totals unchanged)"}
                for m in changed
                if month_label(m) not in moved
            ]
            return check_result(
                by_line,
                "published figure(s) would change (restatement)",
                severity=severity,
                extra=extra,
            )

        return guarded(evaluate)

    return [
        matches_published,
        flow_reconciles,
        cancellation_line_present,
        flow_matches_contracts,
        opening_continues_previous_close,
    ]
