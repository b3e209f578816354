"""One asset check per SPEC data error, on the asset where the error is first visible.

ERROR checks block publication: the published figure would be wrong (a double count, a
negative booking, an amount in an unknown unit, more cancelled than was left). WARN checks
leave the figure right by SPEC's rules but point at records that need a look. Every
evaluation replaces the check's rows in ``backlog_exceptions`` with what it finds, so the
table always holds the evidence behind the latest red check, with the run that found it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import dagster as dg
import pandas as pd
import pycountry
import sqlalchemy as sa

from backlog_pipeline.accounting import data_errors
from backlog_pipeline.defs.checks import evidence_metadata, guarded
from backlog_pipeline.defs.partitions import months_in_run
from backlog_pipeline.defs.resources import Warehouse
from backlog_pipeline.warehouse import replace_exceptions, source_quarantine_table

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN
Finder = Callable[[dict[str, pd.DataFrame]], pd.DataFrame]


@dataclass(frozen=True)
class DataErrorCheck:
    """A data error: the asset it is checked on, how bad it is, and how it is found."""

    name: str
    severity: dg.AssetCheckSeverity
    description: str
    find: Finder
    # "history": every month up to the run's last (a source error carries forward);
    # "run": only the run's months (findings about the computed months themselves).
    scope: str = "history"


@cache
def iso_currencies() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def _quarantined_contracts(warehouse: Warehouse) -> set[str]:
    table = source_quarantine_table
    query = sa.select(table.c.record_id).where(
        (table.c.table == "contracts") & table.c.record_id.is_not(None)
    )
    with warehouse.engine.connect() as connection:
        return set(connection.execute(query).scalars())


def _contract_checks(currency: str) -> list[DataErrorCheck]:
    return [
        DataErrorCheck(
            "contract_ids_unique",
            ERROR,
            "Each contract_id appears once; a repeated contract would be booked twice.",
            lambda f: data_errors.duplicate_ids(
                f["contracts"], "contract_id", "crm_contracts", "signed_month", "tcv"
            ),
        ),
        DataErrorCheck(
            "tcv_not_negative",
            ERROR,
            "No contract has a negative total contract value.",
            lambda f: data_errors.negative_tcv(f["contracts"], "crm_contracts"),
        ),
        DataErrorCheck(
            "currency_known",
            ERROR,
            f"Every contract is in an ISO 4217 currency, and in {currency}: amounts in other "
            "currencies are not converted yet and cannot be summed.",
            lambda f: data_errors.unknown_currencies(
                f["contracts"], "crm_contracts", currency, iso_currencies()
            ),
        ),
    ]


def _change_checks() -> list[DataErrorCheck]:
    return [
        DataErrorCheck(
            "change_ids_unique",
            ERROR,
            "Each change_id appears once; a repeated change would be applied twice.",
            lambda f: data_errors.duplicate_ids(
                f["changes"], "change_id", "crm_contract_changes", "effective_month", "amount"
            ),
        ),
        DataErrorCheck(
            "changes_have_contracts",
            WARN,
            "Every change belongs to a known contract (orphans are left out of the figures).",
            lambda f: data_errors.orphans(
                f["changes"],
                f["contracts"],
                "crm_contract_changes",
                "change_id",
                "effective_month",
                f["quarantined"],
            ),
        ),
    ]


def _recognition_checks() -> list[DataErrorCheck]:
    return [
        DataErrorCheck(
            "line_ids_unique",
            ERROR,
            "Each recognition line_id appears once; a repeated line would convert twice.",
            lambda f: data_errors.duplicate_ids(
                f["recognition"], "line_id", "erp_recognition", "period", "amount"
            ),
        ),
        DataErrorCheck(
            "recognition_has_contracts",
            WARN,
            "Every recognition line belongs to a known contract (orphans are not converted).",
            lambda f: data_errors.orphans(
                f["recognition"],
                f["contracts"],
                "erp_recognition",
                "line_id",
                "period",
                f["quarantined"],
                f["lookup"],
            ),
        ),
        DataErrorCheck(
            "recognition_after_signing",
            WARN,
            "No revenue is recognized in a month before its contract was signed.",
            lambda f: data_errors.recognition_before_signing(
                f["recognition"], f["contracts"], "erp_recognition", f["lookup"]
            ),
        ),
        DataErrorCheck(
            "recognition_before_termination",
            WARN,
            "No revenue is recognized after the month its contract was terminated.",
            lambda f: data_errors.recognition_after_termination(
                f["recognition"], f["changes"], "erp_recognition", f["lookup"]
            ),
        ),
    ]


def _backlog_checks() -> list[DataErrorCheck]:
    return [
        DataErrorCheck(
            "cancellations_within_backlog",
            ERROR,
            "No partial cancellation takes off more than the contract had left that month.",
            lambda f: data_errors.oversized_cancellations(
                f["contract_rows"], f["changes"], "crm_contract_changes"
            ),
            scope="run",
        ),
        DataErrorCheck(
            "no_over_recognition",
            WARN,
            "No contract's backlog is negative (recognized to date above its value). Negative "
            "backlog is published as it is, never clamped.",
            lambda f: data_errors.over_recognition(f["contract_rows"], "contract_backlog"),
            scope="run",
        ),
        DataErrorCheck(
            "no_phantom_backlog",
            WARN,
            "No contract holds backlog a whole month past its end date unless it was terminated.",
            lambda f: data_errors.phantom_backlog(
                f["contract_rows"], f["contracts"], f["changes"], "contract_backlog"
            ),
            scope="run",
        ),
    ]


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
    asset: str,
    checks: list[DataErrorCheck],
    partitions_def: dg.PartitionsDefinition,
    reads: tuple[str, ...] = (),
) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            check.name,
            asset=asset,
            description=f"{check.description} ({check.severity.value})",
            blocking=check.severity == ERROR,
            partitions_def=partitions_def,
            additional_deps=list(reads),
        )
        for check in checks
    ]


def build_data_error_checks(
    partitions_def: dg.MonthlyPartitionsDefinition, reporting_currency: str
) -> list[dg.AssetChecksDefinition]:
    """The checks per asset, each asset's in one step so its inputs are loaded once."""
    contract_checks = _contract_checks(reporting_currency)
    change_checks = _change_checks()
    recognition_checks = _recognition_checks()
    backlog_checks = _backlog_checks()

    @dg.multi_asset_check(
        specs=_specs("crm_contracts", contract_checks, partitions_def),
        ins={"contracts": dg.AssetIn("crm_contracts")},
        name="crm_contracts_data_errors",
    )
    def contracts_data_errors(
        context: dg.AssetCheckExecutionContext,
        contracts: pd.DataFrame,
        warehouse: Warehouse,
    ):
        yield from _evaluate(
            context, "crm_contracts", contract_checks, {"contracts": contracts}, warehouse
        )

    @dg.multi_asset_check(
        specs=_specs(
            "crm_contract_changes", change_checks, partitions_def, reads=("crm_contracts",)
        ),
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
    ):
        frames = {
            "changes": changes,
            "contracts": contracts,
            "quarantined": _quarantined_contracts(warehouse),
        }
        yield from _evaluate(context, "crm_contract_changes", change_checks, frames, warehouse)

    @dg.multi_asset_check(
        specs=_specs(
            "erp_recognition",
            recognition_checks,
            partitions_def,
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
    ):
        frames = {
            "recognition": recognition,
            "contracts": contracts,
            "changes": changes,
            "quarantined": _quarantined_contracts(warehouse),
            "lookup": data_errors.ContractLookup.of(recognition, contracts),
        }
        yield from _evaluate(context, "erp_recognition", recognition_checks, frames, warehouse)

    @dg.multi_asset_check(
        specs=_specs(
            "contract_backlog",
            backlog_checks,
            partitions_def,
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
    ):
        frames = {"contract_rows": contract_rows, "contracts": contracts, "changes": changes}
        yield from _evaluate(context, "contract_backlog", backlog_checks, frames, warehouse)

    return [
        contracts_data_errors,
        changes_data_errors,
        recognition_data_errors,
        backlog_data_errors,
    ]
