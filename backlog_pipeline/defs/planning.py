"""The RPO disclosure's inputs besides the close: the ERP's revenue plan and the revenue
budget as source assets (empty when not set), and what the company elects.

The ERP's URL arrives as ``dg.EnvVar``; a plan or budget that cannot be used fails its
source step naming each bad row, so nothing is published.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.disclosure import DisclosurePolicy
from backlog_pipeline.config import settings
from backlog_pipeline.defs.policies import retried_only_if_transient
from backlog_pipeline.defs.sources import source_asset
from backlog_pipeline.demo.generate import ensure_demo
from backlog_pipeline.periods import month_label
from backlog_pipeline.sources.planning import (
    PlanningError,
    empty_budget,
    empty_plan,
    read_budget_csv,
    read_plan_table,
)
from backlog_pipeline.warehouse.engine import redacted


class Planning(dg.ConfigurableResource):
    """Where the plan and budget are read from, and the expedients the company elects."""

    plan_table: str | None = None  # a table of the ERP database (``url``)
    url: str | None = None
    budget_csv: str | None = None
    demo_data_dir: str | None = None  # set when the ERP is the embedded demo's
    short_contract_expedient: bool = False
    duration_from: str = "start"
    fiscal_year_start_month: int = 1

    @property
    def policy(self) -> DisclosurePolicy:
        return DisclosurePolicy(
            self.short_contract_expedient, self.duration_from, self.fiscal_year_start_month
        )

    def describe_plan(self) -> str:
        if self.plan_table is None:
            return "no revenue plan (BACKLOG_ERP_PLAN_TABLE): straight line"
        return f"revenue plan {self.plan_table} in ERP {redacted(self.url or '')}"

    def read_plan(self) -> pd.DataFrame:
        if self.plan_table is None:
            return empty_plan()
        if self.demo_data_dir:
            ensure_demo(Path(self.demo_data_dir))
        return read_plan_table(self.url or "", self.plan_table, self.describe_plan())

    def read_budget(self) -> pd.DataFrame:
        return empty_budget() if self.budget_csv is None else read_budget_csv(Path(self.budget_csv))


def _landed(frame: pd.DataFrame, source: str, month_column: str) -> dg.Output[pd.DataFrame]:
    months = frame[month_column]
    shown = f"{month_label(months.min())}..{month_label(months.max())}" if len(frame) else "none"
    return dg.Output(
        frame,
        metadata={
            "source": dg.MetadataValue.text(source),
            "rows": dg.MetadataValue.int(len(frame)),
            "months": dg.MetadataValue.text(shown),
        },
    )


def _refused(error: PlanningError) -> dg.Failure:
    return dg.Failure(
        description=f"{error} Nothing was published.",
        metadata={"problems": dg.MetadataValue.int(len(error.problems))},
        allow_retries=False,
    )


@source_asset(
    kinds={"sql" if settings.erp_plan_table else "pandas"},
    description=(
        "The ERP's revenue plan (BACKLOG_ERP_PLAN_TABLE: contract_id, period, amount; revenue "
        "scheduled and not yet recognized): the schedule of the RPO disclosure where a "
        "contract has one. Empty when not set: every contract is straight line."
    ),
)
def erp_revenue_plan(
    context: dg.AssetExecutionContext, planning: Planning
) -> dg.Output[pd.DataFrame]:
    def land() -> dg.Output[pd.DataFrame]:
        try:
            plan = planning.read_plan()
        except PlanningError as error:
            raise _refused(error) from None
        context.log.info(f"{planning.describe_plan()}: {len(plan)} plan lines read")
        return _landed(plan, planning.describe_plan(), "period")

    return retried_only_if_transient(land)


@source_asset(
    kinds={"csv" if settings.revenue_budget_csv else "pandas"},
    description=(
        "Planned revenue per month (BACKLOG_REVENUE_BUDGET_CSV: month, amount), for the "
        "backlog's coverage of the next 12 months. Empty when not set: no coverage."
    ),
)
def revenue_budget(
    context: dg.AssetExecutionContext, planning: Planning
) -> dg.Output[pd.DataFrame]:
    def land() -> dg.Output[pd.DataFrame]:
        try:
            budget = planning.read_budget()
        except PlanningError as error:
            raise _refused(error) from None
        source = planning.budget_csv or "no revenue budget"
        return _landed(budget, source, "month")

    return retried_only_if_transient(land)
