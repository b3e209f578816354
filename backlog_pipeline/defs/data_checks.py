"""One asset check per SPEC data error, on the asset where the error is first visible.

ERROR checks block publication: the published figure would be wrong (a double count, a
negative booking, an amount in an unknown unit, more cancelled than was left). WARN checks
leave the figure right by SPEC's rules but point at records that need a look. Each month of
a run gets its own result (``check_partitions.by_month``). The records behind every
evaluation stay in ``backlog_exceptions`` under the run that found them.
"""

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting import data_errors
from backlog_pipeline.defs.check_partitions import MonthlyResults, by_month
from backlog_pipeline.defs.check_results import evidence_metadata
from backlog_pipeline.defs.data_check_specs import (
    BACKLOG_CHECKS,
    CHANGE_CHECKS,
    CONTRACT_CHECKS,
    ERROR,
    RECOGNITION_CHECKS,
    DataErrorCheck,
)
from backlog_pipeline.defs.partitions import monthly_partitions, months_in_run
from backlog_pipeline.defs.resources import Warehouse
from backlog_pipeline.warehouse.evidence import quarantined_record_ids, replace_exceptions


def _quarantined_contracts(warehouse: Warehouse) -> set[str]:
    return quarantined_record_ids(warehouse.engine, "contracts")


def _evaluate(
    context: dg.AssetCheckExecutionContext,
    asset: str,
    checks: list[DataErrorCheck],
    frames: dict[str, pd.DataFrame],
    warehouse: Warehouse,
) -> MonthlyResults:
    """Each check on ``asset``, on its own: one failing or erring does not stop the others."""
    first, last = months_in_run(context)
    run_id = context.run.run_id
    for check in checks:

        def found(check: DataErrorCheck = check) -> pd.DataFrame:
            scope = (None, last) if check.scope == "history" else (first, last)
            found = data_errors.in_scope(check.find(frames), *scope)
            replace_exceptions(
                warehouse.engine, check.name, check.severity.value, asset, found, run_id, scope
            )
            if not found.empty:
                context.log.warning(
                    f"{check.name}: {len(found)} record(s) on {asset}; first: "
                    f"{found['reason'].iloc[0]} (record {found['record_id'].iloc[0]})"
                )
            return found

        def month_found(
            found: pd.DataFrame, month: int, *_: int, check: DataErrorCheck = check
        ) -> pd.DataFrame:
            # A source error carries into every later closing; a finding about a computed
            # month is that month's.
            return data_errors.in_scope(found, None if check.scope == "history" else month, month)

        def result(
            found: pd.DataFrame, _: int, check: DataErrorCheck = check
        ) -> dg.AssetCheckResult:
            return dg.AssetCheckResult(
                passed=found.empty,
                severity=check.severity,
                metadata=evidence_metadata(found, check.name, run_id, warehouse),
            )

        yield from by_month(context, found, result, month_found, check.name, asset)


def _specs(
    asset: str, checks: list[DataErrorCheck], reads: tuple[str, ...] = ()
) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            check.name,
            asset=asset,
            description=f"{check.description} ({check.severity.value})",
            blocking=check.severity == ERROR,
            partitions_def=monthly_partitions,
            additional_deps=[read for read in reads if read != asset],
        )
        for check in checks
    ]


_SOURCES = ("crm_contracts", "crm_contract_changes", "erp_recognition")


# The three sources' checks in one step: a step that checks a source is not held back by that
# source's own blocking checks, so a duplicate contract id does not stop the ERP's checks, and
# a run with problems in two sources reports both. The assets computed from the sources still
# wait for every blocking source check (Dagster's blocking), so nothing wrong is published.
@dg.multi_asset_check(
    specs=[
        *_specs("crm_contracts", CONTRACT_CHECKS, _SOURCES),
        *_specs("crm_contract_changes", CHANGE_CHECKS, _SOURCES),
        *_specs("erp_recognition", RECOGNITION_CHECKS, _SOURCES),
    ],
    ins={
        "contracts": dg.AssetIn("crm_contracts"),
        "changes": dg.AssetIn("crm_contract_changes"),
        "recognition": dg.AssetIn("erp_recognition"),
    },
    name="source_data_errors",
)
def source_data_errors(
    context: dg.AssetCheckExecutionContext,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
    warehouse: Warehouse,
) -> MonthlyResults:
    quarantined = _quarantined_contracts(warehouse)
    yield from _evaluate(
        context, "crm_contracts", CONTRACT_CHECKS, {"contracts": contracts}, warehouse
    )
    frames = {"changes": changes, "contracts": contracts, "quarantined": quarantined}
    yield from _evaluate(context, "crm_contract_changes", CHANGE_CHECKS, frames, warehouse)
    frames = {
        "recognition": recognition,
        "contracts": contracts,
        "changes": changes,
        "quarantined": quarantined,
        "lookup": data_errors.ContractLookup.of(recognition, contracts),
    }
    yield from _evaluate(context, "erp_recognition", RECOGNITION_CHECKS, frames, warehouse)


@dg.multi_asset_check(
    specs=_specs(
        "contract_backlog",
        BACKLOG_CHECKS,
        reads=("crm_contracts", "crm_contract_changes"),
    ),
    ins={
        "contract_rows": dg.AssetIn("contract_backlog"),
        "contracts": dg.AssetIn("crm_contracts"),
        "changes": dg.AssetIn("crm_contract_changes"),
    },
    name="contract_backlog_data_errors",
)
def backlog_data_errors(
    context: dg.AssetCheckExecutionContext,
    contract_rows: pd.DataFrame,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    warehouse: Warehouse,
) -> MonthlyResults:
    frames = {"contract_rows": contract_rows, "contracts": contracts, "changes": changes}
    yield from _evaluate(context, "contract_backlog", BACKLOG_CHECKS, frames, warehouse)
