"""The RPO disclosure (SPEC "Timing and the disclosed RPO"): when each month's backlog
becomes revenue, what the expedients leave out, where the backlog sits and the ratios
beside it, computed in the close's run from its contract rows and flow.

Thin: the accounting is ``accounting/disclosure.py``; here it is read, logged and
described. The identities are the blocking checks of ``disclosure_checks``.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.disclosure import Disclosure, disclose
from backlog_pipeline.accounting.revenue_plan import PlanError, describe
from backlog_pipeline.defs.check_partitions import MonthlyResults, by_month
from backlog_pipeline.defs.check_results import evidence_metadata
from backlog_pipeline.defs.io_manager import columns_in
from backlog_pipeline.defs.partitions import SINGLE_RUN, monthly_partitions, months_in_run
from backlog_pipeline.defs.planning import Planning
from backlog_pipeline.defs.resources import Reporting, Warehouse
from backlog_pipeline.defs.sources import OWNERS
from backlog_pipeline.kpi.disclosure_note import money
from backlog_pipeline.money import cents_to_decimal
from backlog_pipeline.periods import month_label, partition_key
from backlog_pipeline.warehouse.evidence import replace_exceptions
from backlog_pipeline.warehouse.reads import published_figures

PLAN_CHECK = "revenue_plan_matches_backlog"
_CONTRACT_COLUMNS = (
    "contract_id", "customer_id", "signed_date", "start_date", "end_date", "product",
    "segment", "region",
)  # fmt: skip
_DESCRIPTIONS = {
    "rpo_disclosure": "Per month: the closing backlog, what the practical expedients exclude, "
    "the disclosed RPO (closing − excluded) and when it becomes revenue: within 12 months, "
    "after, undated, and over-recognized on its own line.",
    "rpo_contract_timing": "Per contract row: its closing split into within 12 months, after "
    "12 months, undated and over-recognized, how it was scheduled (plan or straight line), "
    "and whether it is excluded from the disclosed RPO.",
    "rpo_timing_waterfall": "Per month: the disclosed RPO by future period, each of the next "
    "12 months, then 13–24, 25–36, after 36 months, undated and over-recognized.",
    "rpo_exclusion_register": "Per month: each contract left out of the disclosed RPO, its "
    "amount and the expedient (reason) that leaves it out.",
    "backlog_slices": "Per month: the flow and closing backlog by customer, product, segment "
    "and region; each dimension sums to the flow.",
    "backlog_ratios": "Per month: cancellation share, book-to-bill, months of revenue in "
    "backlog, coverage of the next 12 months' budget, and customer concentration.",
    "backlog_aging": "Per month: the closing backlog by the (fiscal) year its contracts were "
    "signed in.",
}
DISCLOSURE_ASSETS = tuple(_DESCRIPTIONS)


@dg.multi_asset(
    name="rpo_disclosure_figures",
    outs={
        name: dg.AssetOut(
            description=text, group_name="disclosure", kinds={"pandas"}, owners=OWNERS
        )
        for name, text in _DESCRIPTIONS.items()
    },
    check_specs=[
        dg.AssetCheckSpec(
            PLAN_CHECK,
            asset="rpo_contract_timing",
            description="Each contract's revenue plan after the month sums to its backlog; a "
            "plan that does not is scaled to it (or, if unusable, not used), listed here.",
            partitions_def=monthly_partitions,  # each month its own result (check_partitions)
        )
    ],
    ins={
        "contract_rows": dg.AssetIn("contract_backlog"),
        "flow": dg.AssetIn("backlog_flow"),
        "contracts": columns_in("crm_contracts", _CONTRACT_COLUMNS, ("rpo_exclusion_reason",)),
        "plan": dg.AssetIn("erp_revenue_plan"),
        "budget": dg.AssetIn("revenue_budget"),
    },
    partitions_def=monthly_partitions,
    backfill_policy=SINGLE_RUN,
)
def rpo_disclosure_figures(
    context: dg.AssetExecutionContext,
    contract_rows: pd.DataFrame,
    flow: pd.DataFrame,
    contracts: pd.DataFrame,
    plan: pd.DataFrame,
    budget: pd.DataFrame,
    planning: Planning,
    reporting: Reporting,
    warehouse: Warehouse,
) -> Iterator:
    first, last = months_in_run(context)
    months = list(range(first, last + 1))
    prior = published_figures(warehouse.engine, [first - 2, first - 1], rows=False)[0]
    try:
        result = disclose(
            contract_rows, contracts, flow, months, planning.policy,
            plan if len(plan) else None, budget, prior,
        )  # fmt: skip
    except PlanError as error:
        message = f"{planning.describe_plan()}: {error}"
        raise dg.Failure(description=message, allow_retries=False) from None
    _log(context, result, planning)
    frames = _frames(result, reporting, planning)
    for month in months:
        context.add_asset_metadata(
            _month_metadata(frames["rpo_disclosure"], month, reporting.currency),
            asset_key="rpo_disclosure",
            partition_key=partition_key(month),
        )
    for name in DISCLOSURE_ASSETS:
        yield dg.Output(frames[name], output_name=name)
    yield from _plan_check(context, result.plan_report, warehouse, (first, last))


def _frames(result: Disclosure, reporting: Reporting, planning: Planning) -> dict:
    summary = result.summary.assign(
        currency=reporting.currency,
        short_contract_expedient=planning.short_contract_expedient,
        duration_from=planning.duration_from,
    )
    return {
        "rpo_disclosure": summary,
        "rpo_contract_timing": result.contract_timing,
        "rpo_timing_waterfall": result.waterfall,
        "rpo_exclusion_register": result.register,
        "backlog_slices": result.slices,
        "backlog_ratios": result.ratios,
        "backlog_aging": result.aging,
    }


def _log(context: dg.AssetExecutionContext, result: Disclosure, planning: Planning) -> None:
    if result.months_without_plan:
        shown = [month_label(m) for m in result.months_without_plan]
        context.log.info(
            f"{planning.describe_plan()} starts after {shown[-1]}: {len(shown)} month(s) "
            f"({shown[0]}..{shown[-1]}) are timed straight line, the plan's lines before its "
            "earliest period being already recognized"
        )
    if result.plan_lines_without_contract:
        context.log.warning(
            f"{planning.describe_plan()}: {result.plan_lines_without_contract} plan line(s) "
            "name no known contract and are left out"
        )


def _month_metadata(summary: pd.DataFrame, month: int, currency: str) -> dict:
    """Money as exact text with its currency, and the figures as numbers for the plots."""
    row = summary[summary["period"] == month].iloc[0]
    names = ("closing", "excluded", "disclosed", "within_12_months", "after_12_months",
             "undated", "over_recognized")  # fmt: skip
    text = {
        f"{name}_text": dg.MetadataValue.text(money(cents_to_decimal(int(row[name])), currency))
        for name in names
    }
    numbers = {
        name: dg.MetadataValue.float(float(cents_to_decimal(int(row[name])))) for name in names
    }
    return {**numbers, **text, "plan_used": dg.MetadataValue.bool(bool(row["plan_used"]))}


def _plan_check(
    context: dg.AssetExecutionContext,
    report: pd.DataFrame,
    warehouse: Warehouse,
    scope: tuple[int, int],
) -> MonthlyResults:
    """WARN: the contracts whose plan was scaled or not used, with the difference; each
    month of the run gets its own result."""
    found = pd.DataFrame(
        {
            "period": report["period"].astype("Int64"),
            "source": "erp_revenue_plan",
            "record_id": report["contract_id"],
            "contract_id": report["contract_id"],
            "amount": report["difference"],
            "reason": [describe(row) for _, row in report.iterrows()],
        }
    )
    run_id = context.run.run_id
    severity = dg.AssetCheckSeverity.WARN
    replace_exceptions(
        warehouse.engine, PLAN_CHECK, severity.value, "rpo_contract_timing", found, run_id, scope
    )
    if len(found):
        context.log.warning(
            f"{PLAN_CHECK}: {len(found)} contract row(s); first: {found['reason'].iloc[0]}"
        )

    def of_month(frame: pd.DataFrame, month: int, *_: int) -> pd.DataFrame:
        period = frame["period"]
        return frame[(period.isna() | (period == month)).fillna(False).astype(bool)]

    def result(month_found: pd.DataFrame, _: int) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            passed=month_found.empty,
            severity=severity,
            metadata=evidence_metadata(month_found, PLAN_CHECK, run_id, warehouse),
        )

    yield from by_month(context, lambda: found, result, of_month, PLAN_CHECK, "rpo_contract_timing")
