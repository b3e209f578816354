"""The month's RPO disclosure from its contract rows, as the close publishes it: what is
excluded, when the rest becomes revenue, where the backlog sits and the ratios beside it.

This only puts the parts together (``expedients``, ``timing``, ``slices``, ``ratios``) in
the order the pipeline needs, with two decisions of its own:

- A revenue plan describes what is left to recognize *now*: a month long before its
  earliest line would read lines already recognized as gone, so the plan is used for a
  month M only when M ≥ the plan's earliest period − 1; earlier months are straight line
  (``months_without_plan`` says which, for one log line).
- Coverage is on the whole closing (the budget is the company's, not the disclosure's):
  closing and within 12 months of every contract, excluded ones included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.expedients import apply_exclusions, contract_exclusions
from backlog_pipeline.accounting.lookup import RowContracts
from backlog_pipeline.accounting.ratios import aging, concentration, coverage, flow_ratios
from backlog_pipeline.accounting.slices import FIGURES, backlog_slices
from backlog_pipeline.accounting.timing import BacklogTiming, split_backlog, timing_by_month
from backlog_pipeline.accounting.timing_chunk import PARTS

SUMMARY_COLUMNS = ("period", "closing", "excluded", "disclosed", *PARTS, "plan_used")
TIMING_COLUMNS = ("period", "contract_id", "closing", "excluded", *PARTS, "basis")
NO_BUDGET = "no revenue budget is given (BACKLOG_REVENUE_BUDGET_CSV)"
EXCLUSION_FLAG = "rpo_exclusion_reason"  # the contracts' column naming other expedients


@dataclass(frozen=True)
class DisclosurePolicy:
    """What the company elects: the one-year expedient, the date a duration runs from,
    and the first month of its fiscal year (for the aging)."""

    short_contract_expedient: bool = False
    duration_from: str = "start"
    fiscal_year_start_month: int = 1


@dataclass(frozen=True)
class Disclosure:
    """Frames in cents and month indices, one set per month of the run."""

    summary: pd.DataFrame  # SUMMARY_COLUMNS
    contract_timing: pd.DataFrame  # TIMING_COLUMNS, one row per contract row
    waterfall: pd.DataFrame  # timing.WATERFALL_COLUMNS
    register: pd.DataFrame  # expedients.REGISTER_COLUMNS
    slices: pd.DataFrame
    ratios: pd.DataFrame
    aging: pd.DataFrame
    plan_report: pd.DataFrame  # revenue_plan.PLAN_REPORT_COLUMNS
    months_without_plan: list[int] = field(default_factory=list)
    plan_lines_without_contract: int = 0


def astuple_rest(timing: BacklogTiming) -> tuple:
    """A timing's fields after ``rows``."""
    return (timing.by_month, timing.waterfall, timing.plan_report,
            timing.plan_lines_without_contract)  # fmt: skip


def plan_start(plan: pd.DataFrame | None) -> int | None:
    """The first month the plan is used for (its earliest period − 1), None without one."""
    if plan is None or plan.empty:
        return None
    return int(plan["period"].min()) - 1


def _timing(
    contract_rows: pd.DataFrame,
    lookup: RowContracts,
    plan: pd.DataFrame | None,
    disclosed: np.ndarray,
    months: list[int],
) -> tuple[BacklogTiming, list[int]]:
    """The timing of every row: straight line before the plan's start, the plan after."""
    start = plan_start(plan)
    local = "closing_local" if "closing_local" in contract_rows else None
    if start is None or start <= months[0]:
        timing = split_backlog(
            contract_rows, lookup, plan if start is not None else None,
            local_amount_column=local, disclosed=disclosed, months=months,
        )  # fmt: skip
        return timing, []
    period = contract_rows["period"].to_numpy(np.int64)
    parts, order = [], []
    for chosen, part_plan in ((period < start, None), (period >= start, plan)):
        part_months = [m for m in months if (m < start) == (part_plan is None)]
        if not part_months:
            continue
        rows = np.flatnonzero(chosen)
        order.append(rows)
        sub = RowContracts(lookup.table, lookup.positions[rows])
        parts.append(
            split_backlog(
                contract_rows.iloc[rows],
                sub,
                part_plan,
                local_amount_column=local,
                disclosed=disclosed[rows],
                months=part_months,
            )
        )
    combined = BacklogTiming(
        *(pd.concat([getattr(p, name) for p in parts], ignore_index=True)
          for name in ("rows", "by_month", "waterfall", "plan_report")),
        parts[-1].plan_lines_without_contract,
    )  # fmt: skip
    back = np.argsort(np.concatenate(order), kind="stable")  # the rows in input order again
    rows = combined.rows.iloc[back].reset_index(drop=True)
    return BacklogTiming(rows, *astuple_rest(combined)), [m for m in months if m < start]


def _ratios(
    flow: pd.DataFrame,
    prior_flow: pd.DataFrame | None,
    closing: pd.Series,
    within_all: pd.Series,
    budget: pd.DataFrame | None,
    concentrated: pd.DataFrame,
) -> pd.DataFrame:
    """Flow ratios, coverage and concentration, one row per month of ``flow``."""
    history = flow if prior_flow is None or prior_flow.empty else pd.concat([prior_flow, flow])
    history = history.drop_duplicates("period", keep="last").sort_values("period")
    ratios = flow_ratios(history)
    ratios = ratios[ratios["period"].isin(flow["period"])].reset_index(drop=True)
    if budget is None or budget.empty:
        covered = pd.DataFrame({"period": closing.index.to_numpy(np.int64)})
        for column, value in (("budget_next_12_months", None), ("coverage", None),
                              ("current_coverage", None), ("visible_year", None),
                              ("coverage_reason", NO_BUDGET)):  # fmt: skip
            covered[column] = value
    else:
        covered = coverage(closing, within_all, budget)
    return ratios.merge(covered, on="period").merge(
        concentrated.drop(columns="closing"), on="period"
    )


def disclose(
    contract_rows: pd.DataFrame,
    contracts: pd.DataFrame,
    flow: pd.DataFrame,
    months: list[int],
    policy: DisclosurePolicy,
    plan: pd.DataFrame | None = None,
    budget: pd.DataFrame | None = None,
    prior_flow: pd.DataFrame | None = None,
) -> Disclosure:
    """The disclosure of ``months`` (every one of them, rows or not).

    ``contract_rows`` and ``flow``: the close's, in cents; ``contracts``: canonical, with the
    optional ``rpo_exclusion_reason``; ``prior_flow``: the published flow of the months
    before the first (for months of revenue), if any.
    """
    lookup = RowContracts.of(contract_rows, contracts)
    flags = lookup.table[EXCLUSION_FLAG] if EXCLUSION_FLAG in lookup.table else None
    exclusions = contract_exclusions(
        lookup.table, short_contract_expedient=policy.short_contract_expedient,
        duration_from=policy.duration_from, flagged=flags,
    )  # fmt: skip
    excluded = apply_exclusions(contract_rows, exclusions, lookup, months=months)
    timing, without_plan = _timing(contract_rows, lookup, plan, ~excluded.excluded, months)
    rows = timing.rows
    contract_timing = rows.rename(columns={"amount": "closing"}).assign(
        excluded=excluded.excluded, basis=rows["basis"].astype(str)
    )[list(TIMING_COLUMNS)]
    summary = excluded.by_month.merge(timing.by_month.drop(columns="amount"), on="period")
    start = plan_start(plan)
    summary["plan_used"] = [start is not None and m >= start for m in summary["period"]]
    figures = tuple(f for f in (*FIGURES[:-1], "fx_revaluation", "closing") if f in contract_rows)
    within_all = timing_by_month(rows, months).set_index("period")["within_12_months"]
    closing = excluded.by_month.set_index("period")["closing"]
    concentrated = concentration(contract_rows, lookup, months=months)
    return Disclosure(
        summary=summary[list(SUMMARY_COLUMNS)],
        contract_timing=contract_timing,
        waterfall=timing.waterfall,
        register=excluded.register,
        slices=backlog_slices(contract_rows, lookup, figures=figures, months=months),
        ratios=_ratios(flow, prior_flow, closing, within_all, budget, concentrated),
        aging=aging(
            contract_rows,
            lookup,
            fiscal_year_start_month=policy.fiscal_year_start_month,
            months=months,
        ),
        plan_report=timing.plan_report,
        months_without_plan=without_plan,
        plan_lines_without_contract=timing.plan_lines_without_contract,
    )
