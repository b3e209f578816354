"""One asset check per SPEC data error, on the asset where the error is first visible.

ERROR checks block publication: the published figure would be wrong (a double count, a
negative booking, an amount in an unknown unit, more cancelled than was left). WARN checks
leave the figure right by SPEC's rules but point at records that need a look. Every
evaluation replaces the check's rows in ``backlog_exceptions`` with what it finds, so the
table always holds the evidence behind the latest red check, with the run that found it.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting import data_errors
from backlog_pipeline.defs.check_results import evidence_metadata, guarded
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
) -> list[dg.AssetCheckResult]:
    first, last = months_in_run(context)
    run_id = context.run.run_id
    results = []
    for check in checks:

        def evaluate(check: DataErrorCheck = check) -> dg.AssetCheckResult:
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
            return dg.AssetCheckResult(
                check_name=check.name,
                asset_key=asset,
                passed=found.empty,
                severity=check.severity,
                metadata=evidence_metadata(found, check.name, run_id, warehouse),
            )

        results.append(guarded(evaluate, check_name=check.name, asset_key=asset))
    return results


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
            additional_deps=list(reads),
        )
        for check in checks
    ]


@dg.multi_asset_check(
    specs=_specs("crm_contracts", CONTRACT_CHECKS),
    ins={"contracts": dg.AssetIn("crm_contracts")},
    name="crm_contracts_data_errors",
)
def contracts_data_errors(
    context: dg.AssetCheckExecutionContext,
    contracts: pd.DataFrame,
    warehouse: Warehouse,
) -> Iterator[dg.AssetCheckResult]:
    yield from _evaluate(
        context, "crm_contracts", CONTRACT_CHECKS, {"contracts": contracts}, warehouse
    )


@dg.multi_asset_check(
    specs=_specs("crm_contract_changes", CHANGE_CHECKS, reads=("crm_contracts",)),
    ins={
        "changes": dg.AssetIn("crm_contract_changes"),
        "contracts": dg.AssetIn("crm_contracts"),
    },
    name="crm_contract_changes_data_errors",
)
def changes_data_errors(
    context: dg.AssetCheckExecutionContext,
    changes: pd.DataFrame,
    contracts: pd.DataFrame,
    warehouse: Warehouse,
) -> Iterator[dg.AssetCheckResult]:
    frames = {
        "changes": changes,
        "contracts": contracts,
        "quarantined": _quarantined_contracts(warehouse),
    }
    yield from _evaluate(context, "crm_contract_changes", CHANGE_CHECKS, frames, warehouse)


@dg.multi_asset_check(
    specs=_specs(
        "erp_recognition",
        RECOGNITION_CHECKS,
        reads=("crm_contracts", "crm_contract_changes"),
    ),
    ins={
        "recognition": dg.AssetIn("erp_recognition"),
        "contracts": dg.AssetIn("crm_contracts"),
        "changes": dg.AssetIn("crm_contract_changes"),
    },
    name="erp_recognition_data_errors",
)
def recognition_data_errors(
    context: dg.AssetCheckExecutionContext,
    recognition: pd.DataFrame,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    warehouse: Warehouse,
) -> Iterator[dg.AssetCheckResult]:
    frames = {
        "recognition": recognition,
        "contracts": contracts,
        "changes": changes,
        "quarantined": _quarantined_contracts(warehouse),
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
) -> Iterator[dg.AssetCheckResult]:
    frames = {"contract_rows": contract_rows, "contracts": contracts, "changes": changes}
    yield from _evaluate(context, "contract_backlog", BACKLOG_CHECKS, frames, warehouse)
