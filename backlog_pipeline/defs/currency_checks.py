"""The checks of a close in several currencies (blocking, each naming the figures that
disagree): the reporting flow is the sum of the converted currency flows, and each
contract's revaluation equals its second route from the rates and local figures.

Each currency's own flow reconciling by both routes is part of ``flow_reconciles``.
"""

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.currency_close import ledger_of
from backlog_pipeline.accounting.currency_flows import converted_flow_by_currency
from backlog_pipeline.accounting.fx_checks import (
    currency_sum_discrepancies,
    reporting_currency_discrepancies,
    revaluation_discrepancies,
)
from backlog_pipeline.defs.check_partitions import MonthlyResults, by_month
from backlog_pipeline.defs.check_results import check_result
from backlog_pipeline.defs.currency import CONVERSION_INS
from backlog_pipeline.defs.partitions import monthly_partitions, months_in_run
from backlog_pipeline.defs.resources import Reporting

_ROWS = {"contract_rows": dg.AssetIn("contract_backlog")}


@dg.asset_check(
    asset="backlog_flow",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins={**_ROWS, "currency_flow": dg.AssetIn("backlog_flow_by_currency")},
    description=(
        "Every figure of the flow, fx_revaluation included, equals the sum of the currencies' "
        "flows converted to the reporting currency; the reporting currency's part equals its "
        "own flow (rate 1, no revaluation)."
    ),
)
def currencies_sum_to_flow(
    context: dg.AssetCheckExecutionContext,
    backlog_flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    currency_flow: pd.DataFrame,
    reporting: Reporting,
) -> MonthlyResults:
    def found() -> list:
        first, last = months_in_run(context)
        converted = converted_flow_by_currency(
            contract_rows, range(first, last + 1), reporting.currency
        )
        return currency_sum_discrepancies(
            backlog_flow, converted
        ) + reporting_currency_discrepancies(converted, currency_flow, reporting.currency)

    what = "figure(s) differ from the sum of the currencies' flows"
    yield from by_month(context, found, lambda f, _: check_result(f, what))


@dg.asset_check(
    asset="backlog_flow",
    partitions_def=monthly_partitions,
    blocking=True,
    additional_ins={
        **_ROWS,
        "rates": dg.AssetIn("fx_rates"),
        "contracts": CONVERSION_INS["contracts"],
        "recognition": CONVERSION_INS["recognition"],
    },
    description=(
        "Each contract's fx_revaluation, and the month's, equals its second route: opening "
        "(local) × the closing-rate change + movements (local) × (closing − average rate) "
        "+ the ledger's difference + rounding, from the rates and local figures alone."
    ),
)
def fx_revaluation_second_route(
    context: dg.AssetCheckExecutionContext,
    backlog_flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    rates: pd.DataFrame,
    contracts: pd.DataFrame,
    recognition: pd.DataFrame,
    reporting: Reporting,
) -> MonthlyResults:
    def found() -> list:
        ledger = ledger_of(contract_rows, contracts, recognition, reporting.currency)
        return revaluation_discrepancies(
            contract_rows, rates, reporting.currency, ledger, backlog_flow
        )

    what = "month(s) whose revaluation differs from its second route"
    yield from by_month(context, found, lambda f, _: check_result(f, what))
