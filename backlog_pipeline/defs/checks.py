"""Asset checks on the monthly flow, each naming the figures that disagree and by how much.

Blocking checks stop publication of the run's months; each returns a result on every
path (see ``check_results.guarded``).
"""

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.fx_checks import (
    local_flow_discrepancies,
    reporting_identity_discrepancies,
)
from backlog_pipeline.accounting.reconcile import (
    Discrepancy,
    cancellation_line_problems,
    continuity_discrepancies,
    contract_sum_discrepancies,
    next_month_discrepancies,
)
from backlog_pipeline.accounting.restatement import contract_differences, flow_differences
from backlog_pipeline.defs.check_results import check_result, evidence_metadata, guarded
from backlog_pipeline.defs.currency import CONVERSION_INS, currency_figures
from backlog_pipeline.defs.partitions import monthly_partitions, months_in_run
from backlog_pipeline.defs.resources import Reporting, Warehouse
from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.evidence import replace_exceptions
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.reads import (
    CurrentVersion,
    current_versions,
    published_closing,
    published_figure,
    published_figures,
)
from backlog_pipeline.warehouse.versions import month_fingerprints

CONTRACT_ROWS = {"contract_rows": dg.AssetIn("contract_backlog")}
_SOURCES = {name: CONVERSION_INS[name] for name in ("contracts", "changes", "recognition")}


@dg.asset_check(
    asset="backlog_flow",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins={"currency_flow": dg.AssetIn("backlog_flow_by_currency"), **_SOURCES},
    description=(
        "opening + new − converted − lost + increases − decreases + fx_revaluation = closing "
        "for every month, to the cent; and each currency's own flow, in that currency, "
        "reconciles by both routes: its identity, and its closing equals Σ events to the "
        "month end − Σ recognized to date computed straight from the sources."
    ),
)
def flow_reconciles(
    backlog_flow: pd.DataFrame,
    currency_flow: pd.DataFrame,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
) -> dg.AssetCheckResult:
    def evaluate() -> dg.AssetCheckResult:
        found = reporting_identity_discrepancies(backlog_flow)
        if not found:
            found = local_flow_discrepancies(currency_flow, contracts, changes, recognition)
        return check_result(
            found,
            "month(s) do not reconcile",
            extra={"months": dg.MetadataValue.int(len(backlog_flow))},
        )

    return guarded(evaluate)


@dg.asset_check(
    asset="backlog_flow",
    partitions_def=monthly_partitions,
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
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins=CONTRACT_ROWS,
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
    partitions_def=monthly_partitions,
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
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins={
        **CONTRACT_ROWS,
        "constant": dg.AssetIn("backlog_flow_constant_currency"),
        "rates": dg.AssetIn("fx_rates"),
    },
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
    constant: pd.DataFrame,
    rates: pd.DataFrame,
    warehouse: Warehouse,
    reporting: Reporting,
) -> dg.AssetCheckResult:
    def evaluate() -> dg.AssetCheckResult:
        figures = currency_figures(contract_rows, pd.DataFrame(), constant, rates, reporting)
        fingerprints = month_fingerprints(backlog_flow, contract_rows, reporting.currency, figures)
        return _restatement(context, backlog_flow, contract_rows, fingerprints, warehouse)

    return guarded(evaluate)


def _restatement(
    context: dg.AssetCheckExecutionContext,
    backlog_flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    fingerprints: dict[int, str],
    warehouse: Warehouse,
) -> dg.AssetCheckResult:
    """The published months the run would change, figure by figure and contract by contract."""
    first, last = months_in_run(context)
    months = [int(month) for month in backlog_flow["period"]]
    with warehouse.engine.connect() as connection:
        published = current_versions(connection, months)
        held = locks(connection, months)
    changed = [m for m in months if m in published and published[m].content_hash != fingerprints[m]]
    old_flow, old_rows = published_figures(warehouse.engine, changed)
    by_line = flow_differences(backlog_flow[backlog_flow["period"].isin(changed)], old_flow)
    by_contract = contract_differences(
        contract_rows[contract_rows["period"].isin(changed)], old_rows
    )
    blocked = [held[m].describe() for m in changed if m in held]
    severity = dg.AssetCheckSeverity.ERROR if blocked else dg.AssetCheckSeverity.WARN
    run_id = context.run.run_id
    replace_exceptions(
        warehouse.engine, "matches_published", severity.value, "backlog_flow", by_contract,
        run_id, (first, last),
    )  # fmt: skip
    extra = {
        **_restated_metadata(published, changed),
        **evidence_metadata(by_contract, "matches_published", run_id, warehouse),
    }
    if blocked:
        extra = {**extra, **_locked_metadata(blocked)}
    what = "published figure(s) would change (restatement)"
    if blocked:
        what = (
            f"published figure(s) would change in locked month(s) {'; '.join(blocked)}, so "
            "nothing is published: unlock with `backlog-months unlock YYYY-MM --by NAME "
            "--reason TEXT` to restate"
        )
    return check_result(
        _with_contract_only_months(by_line, changed), what, severity=severity, extra=extra
    )


def _restated_metadata(
    published: dict[int, CurrentVersion], changed: list[int]
) -> dict[str, dg.MetadataValue]:
    return {
        "months_published_before": dg.MetadataValue.int(len(published)),
        "months_restated": dg.MetadataValue.json(
            {
                month_label(m): f"version {published[m].version} → {published[m].version + 1}"
                for m in changed
            }
        ),
    }


def _locked_metadata(blocked: list[str]) -> dict[str, dg.MetadataValue]:
    return {
        "locked": dg.MetadataValue.text(
            "Locked month(s) would change, publication blocked: "
            + "; ".join(blocked)
            + ". Unlock with `backlog-months unlock YYYY-MM --by NAME --reason TEXT`."
        )
    }


def _with_contract_only_months(by_line: list[Discrepancy], changed: list[int]) -> list:
    """The figures that move, and a line for each changed month whose totals do not."""
    moved = {line["period"] for line in by_line}
    return by_line + [
        {"period": month_label(m), "figure": "contract rows or rates only (totals unchanged)"}
        for m in changed
        if month_label(m) not in moved
    ]
