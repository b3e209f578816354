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
from backlog_pipeline.defs.check_results import check_result, guarded
from backlog_pipeline.defs.partitions import monthly_partitions
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label

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
    rpo_disclosure: pd.DataFrame, timing: pd.DataFrame
) -> dg.AssetCheckResult:
    return guarded(
        lambda: check_result(
            contract_row_discrepancies(timing, rpo_disclosure),
            "figure(s) differ from the sum of their contract rows",
            extra=_over_recognized(rpo_disclosure),
        )
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
    rpo_disclosure: pd.DataFrame, waterfall: pd.DataFrame
) -> dg.AssetCheckResult:
    return guarded(
        lambda: check_result(
            waterfall_discrepancies(waterfall, rpo_disclosure),
            "waterfall figure(s) differ from the disclosed RPO",
        )
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
    rpo_disclosure: pd.DataFrame, register: pd.DataFrame, flow: pd.DataFrame
) -> dg.AssetCheckResult:
    return guarded(
        lambda: check_result(
            disclosed_discrepancies(rpo_disclosure, register, flow),
            "month(s) whose disclosed RPO does not add up",
        )
    )


@dg.asset_check(
    asset="backlog_slices",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins=_FLOW,
    description="The slices of each dimension (customer, product, segment, region) sum to "
    "the flow, figure by figure.",
)
def slices_sum_to_flow(backlog_slices: pd.DataFrame, flow: pd.DataFrame) -> dg.AssetCheckResult:
    def evaluate() -> dg.AssetCheckResult:
        figures = tuple(
            c for c in backlog_slices.columns if c not in ("period", "dimension", "slice")
        )
        return check_result(
            slice_discrepancies(backlog_slices, flow, figures),
            "slice figure(s) do not sum to the flow",
        )

    return guarded(evaluate)
