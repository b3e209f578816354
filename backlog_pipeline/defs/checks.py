"""Asset checks on the monthly flow, each naming the figures that disagree and by how much.

Blocking checks stop publication of the run's months. Each gives every month of the run its
own result, failed when it cannot evaluate (see ``check_partitions.by_month``).
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
from backlog_pipeline.defs.check_partitions import MonthlyResults, by_month
from backlog_pipeline.defs.check_results import check_result, evidence_metadata
from backlog_pipeline.defs.currency import CONVERSION_INS, currency_figures
from backlog_pipeline.defs.partitions import monthly_partitions, months_in_run
from backlog_pipeline.defs.resources import Reporting, Warehouse
from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.evidence import replace_exceptions
from backlog_pipeline.warehouse.fingerprints import month_fingerprints
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.reads import (
    CurrentVersion,
    current_versions,
    published_closing,
    published_figure,
    published_figures,
)

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
    context: dg.AssetCheckExecutionContext,
    backlog_flow: pd.DataFrame,
    currency_flow: pd.DataFrame,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
) -> MonthlyResults:
    def found() -> list[Discrepancy]:
        found = reporting_identity_discrepancies(backlog_flow)
        if not found:
            found = local_flow_discrepancies(currency_flow, contracts, changes, recognition)
        return found

    yield from by_month(context, found, lambda f, _: check_result(f, "month(s) do not reconcile"))


@dg.asset_check(
    asset="backlog_flow",
    partitions_def=monthly_partitions,
    blocking=True,
    description="Every month carries an explicit numeric cancellation (lost) line, 0 included.",
)
def cancellation_line_present(
    context: dg.AssetCheckExecutionContext, backlog_flow: pd.DataFrame
) -> MonthlyResults:
    yield from by_month(
        context,
        lambda: cancellation_line_problems(backlog_flow),
        lambda f, _: check_result(f, "month(s) lack a cancellation line"),
    )


@dg.asset_check(
    asset="backlog_flow",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins=CONTRACT_ROWS,
    description="Every figure of the flow is the sum of the contract rows behind it.",
)
def flow_matches_contracts(
    context: dg.AssetCheckExecutionContext, backlog_flow: pd.DataFrame, contract_rows: pd.DataFrame
) -> MonthlyResults:
    yield from by_month(
        context,
        lambda: contract_sum_discrepancies(backlog_flow, contract_rows),
        lambda f, _: check_result(f, "figure(s) differ from the sum of their contracts"),
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
    context: dg.AssetCheckExecutionContext, backlog_flow: pd.DataFrame, warehouse: Warehouse
) -> MonthlyResults:
    first, last = months_in_run(context)
    neighbours: dict[str, bool] = {}

    def found() -> list[Discrepancy]:
        published = published_closing(warehouse.engine, [first - 1])
        following = published_figure(warehouse.engine, [last + 1], "opening")
        neighbours.update(previous=first - 1 in published, next=last + 1 in following)
        return continuity_discrepancies(backlog_flow, published) + next_month_discrepancies(
            backlog_flow, following
        )

    def result(month_found: list[Discrepancy], month: int) -> dg.AssetCheckResult:
        extra = {}
        if month == first:
            extra["previous_month_published"] = dg.MetadataValue.bool(neighbours["previous"])
        if month == last:
            extra["next_month_published"] = dg.MetadataValue.bool(neighbours["next"])
        return check_result(
            month_found,
            "month(s) open at another figure than the previous close",
            severity=dg.AssetCheckSeverity.WARN,
            extra=extra,
        )

    yield from by_month(context, found, result)


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
) -> MonthlyResults:
    def found() -> dict[int, dg.AssetCheckResult]:
        figures = currency_figures(contract_rows, pd.DataFrame(), constant, rates, reporting)
        fingerprints = month_fingerprints(backlog_flow, contract_rows, reporting.currency, figures)
        return _restatement(context, backlog_flow, contract_rows, fingerprints, warehouse)

    yield from by_month(context, found, lambda r, _: r, select=lambda r, m, *_: r[m])


def _restatement(
    context: dg.AssetCheckExecutionContext,
    backlog_flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    fingerprints: dict[int, str],
    warehouse: Warehouse,
) -> dict[int, dg.AssetCheckResult]:
    """Each month's result: the published figures it would change, line by line and contract
    by contract; ERROR for a locked month (nothing of the run is published), else WARN."""
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
    blocked = {m: held[m].describe() for m in changed if m in held}
    severity = dg.AssetCheckSeverity.ERROR if blocked else dg.AssetCheckSeverity.WARN
    run_id = context.run.run_id
    replace_exceptions(
        warehouse.engine, "matches_published", severity.value, "backlog_flow", by_contract,
        run_id, (first, last),
    )  # fmt: skip
    if changed:
        context.log.warning(f"Restatement: {', '.join(month_label(m) for m in changed)} change")
    results = {}
    for month in months:
        mine = by_contract[by_contract["period"] == month]
        extra = {
            **_restated_metadata(published, month, changed),
            **evidence_metadata(mine, "matches_published", run_id, warehouse),
        }
        what = "published figure(s) would change (restatement)"
        if month in blocked:
            extra = {**extra, **_locked_metadata([blocked[month]])}
            what = (
                f"published figure(s) would change in locked month(s) {blocked[month]}, so "
                "nothing is published: unlock with `backlog-months unlock YYYY-MM --by NAME "
                "--reason TEXT` to restate"
            )
        lines = [line for line in by_line if line["period"] == month_label(month)]
        results[month] = check_result(
            _with_contract_only_months(lines, [month] if month in changed else []),
            what,
            severity=dg.AssetCheckSeverity.ERROR
            if month in blocked
            else dg.AssetCheckSeverity.WARN,
            extra=extra,
        )
    return results


def _restated_metadata(
    published: dict[int, CurrentVersion], month: int, changed: list[int]
) -> dict[str, dg.MetadataValue]:
    """Whether the month was published, and its version change if it is restated."""
    restated = {
        month_label(m): f"version {published[m].version} → {published[m].version + 1}"
        for m in changed
        if m == month
    }
    return {
        "published_before": dg.MetadataValue.bool(month in published),
        "months_restated": dg.MetadataValue.json(restated),
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
