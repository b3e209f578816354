"""The blocking checks of the RPO disclosure, each naming the month and figures that
disagree and by how much: a failure stops the run's publication (nothing is written, the
previous publication stands). The accounting is ``accounting/disclosure_identities.py``.
"""

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.disclosure_identities import (
    contract_row_discrepancies,
    disclosed_discrepancies,
    waterfall_discrepancies,
)
from backlog_pipeline.accounting.slices import slice_discrepancies
from backlog_pipeline.defs.check_partitions import MonthlyResults, by_month
from backlog_pipeline.defs.check_results import check_result
from backlog_pipeline.defs.disclosure import DISCLOSURE_ASSETS
from backlog_pipeline.defs.partitions import monthly_partitions, months_in_run
from backlog_pipeline.defs.resources import Warehouse
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.disclosure_publication import (
    DisclosureFrames,
    disclosure_digests,
    disclosure_moved,
)
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.reads import current_versions

_FLOW = {"flow": dg.AssetIn("backlog_flow")}


def _over_recognized(summary: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    """Negative backlog is never spread: say where it sits, month by month."""
    held = summary[summary["over_recognized"] != 0]
    return {
        "over_recognized": dg.MetadataValue.json(
            {
                month_label(int(r.period)): format_cents(int(r.over_recognized))
                for r in held.itertuples(index=False)
            }
        ),
        "over_recognized_note": dg.MetadataValue.text(
            "Negative backlog (over-recognition) is never spread over future months: it sits "
            "on its own line, over_recognized, in the contract rows and the waterfall."
        ),
    }


@dg.asset_check(
    asset="rpo_disclosure",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins={"timing": dg.AssetIn("rpo_contract_timing")},
    description=(
        "Each contract row's parts (within 12 months, after, undated, over-recognized) sum to "
        "its closing; the rows sum to the month's closing, and the disclosed rows to the "
        "month's parts, to the cent."
    ),
)
def contract_timing_sums_to_month(
    context: dg.AssetCheckExecutionContext, rpo_disclosure: pd.DataFrame, timing: pd.DataFrame
) -> MonthlyResults:
    yield from by_month(
        context,
        lambda: contract_row_discrepancies(timing, rpo_disclosure),
        lambda f, month: check_result(
            f,
            "figure(s) differ from the sum of their contract rows",
            extra=_over_recognized(rpo_disclosure[rpo_disclosure["period"] == month]),
        ),
    )


@dg.asset_check(
    asset="rpo_disclosure",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins={"waterfall": dg.AssetIn("rpo_timing_waterfall")},
    description=(
        "The waterfall's lines sum to the disclosed RPO; its first 12 to within 12 months, "
        "its bands to after 12 months, and its last lines to undated and over-recognized."
    ),
)
def waterfall_sums_to_disclosed(
    context: dg.AssetCheckExecutionContext, rpo_disclosure: pd.DataFrame, waterfall: pd.DataFrame
) -> MonthlyResults:
    yield from by_month(
        context,
        lambda: waterfall_discrepancies(waterfall, rpo_disclosure),
        lambda f, _: check_result(f, "waterfall figure(s) differ from the disclosed RPO"),
    )


@dg.asset_check(
    asset="rpo_disclosure",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins={"register": dg.AssetIn("rpo_exclusion_register"), **_FLOW},
    description=(
        "disclosed + excluded = closing, the closing is the flow's, excluded is the sum of "
        "the exclusion register, and disclosed = within + after + undated + over-recognized."
    ),
)
def disclosed_plus_excluded_is_closing(
    context: dg.AssetCheckExecutionContext,
    rpo_disclosure: pd.DataFrame,
    register: pd.DataFrame,
    flow: pd.DataFrame,
) -> MonthlyResults:
    yield from by_month(
        context,
        lambda: disclosed_discrepancies(rpo_disclosure, register, flow),
        lambda f, _: check_result(f, "month(s) whose disclosed RPO does not add up"),
    )


@dg.asset_check(
    asset="backlog_slices",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins=_FLOW,
    description="The slices of each dimension (customer, product, segment, region) sum to "
    "the flow, figure by figure.",
)
def slices_sum_to_flow(
    context: dg.AssetCheckExecutionContext, backlog_slices: pd.DataFrame, flow: pd.DataFrame
) -> MonthlyResults:
    def found() -> list:
        figures = tuple(
            c for c in backlog_slices.columns if c not in ("period", "dimension", "slice")
        )
        return slice_discrepancies(backlog_slices, flow, figures)

    yield from by_month(
        context, found, lambda f, _: check_result(f, "slice figure(s) do not sum to the flow")
    )


@dg.asset_check(
    asset="rpo_disclosure",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins={name: dg.AssetIn(name) for name in DISCLOSURE_ASSETS[1:]},
    description=(
        "The recomputed disclosure equals the one published with the month's version. One "
        "that moves while the flow does not (a corrected plan or budget, an expedient "
        "elected) is published as a new version (WARN); on a locked month it blocks (ERROR)."
    ),
)
def disclosure_matches_published(
    context: dg.AssetCheckExecutionContext,
    rpo_disclosure: pd.DataFrame,
    rpo_contract_timing: pd.DataFrame,
    rpo_timing_waterfall: pd.DataFrame,
    rpo_exclusion_register: pd.DataFrame,
    backlog_slices: pd.DataFrame,
    backlog_ratios: pd.DataFrame,
    backlog_aging: pd.DataFrame,
    warehouse: Warehouse,
) -> MonthlyResults:
    def found() -> list[dict[str, str]]:
        first, last = months_in_run(context)
        months = list(range(first, last + 1))
        frames = DisclosureFrames(
            rpo_disclosure, rpo_contract_timing, rpo_timing_waterfall, rpo_exclusion_register,
            backlog_slices, backlog_ratios, backlog_aging,
        )  # fmt: skip
        digests = disclosure_digests(frames.published(months), months)
        with warehouse.engine.connect() as connection:
            published = current_versions(connection, months)
            held = locks(connection, months)
        moved = [
            m for m in months
            if m in published and disclosure_moved(published[m].disclosure_hash, digests[m])
        ]  # fmt: skip
        return [{"period": month_label(m), "figure": "RPO disclosure (timing, exclusions, "
                 "slices or ratios)", "version": f"{published[m].version} → "
                 f"{published[m].version + 1}", "lock": held[m].describe() if m in held else ""}
                for m in moved]  # fmt: skip

    def result(month_found: list[dict[str, str]], _: int) -> dg.AssetCheckResult:
        blocked = [item["lock"] for item in month_found if item["lock"]]
        what = "month(s) whose published disclosure would change (restatement)"
        if blocked:
            what = (
                "month(s) whose disclosure would change in locked month(s) "
                f"{'; '.join(blocked)}, so nothing is published: unlock to restate"
            )
        severity = dg.AssetCheckSeverity.ERROR if blocked else dg.AssetCheckSeverity.WARN
        return check_result(month_found, what, severity=severity)

    yield from by_month(context, found, result)
