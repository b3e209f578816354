"""Contracts in any currency: the rates as a source, each currency's own flow and the
constant-currency view, beside the reporting flow (SPEC "Currencies").

Thin: the accounting is ``accounting/currency_close.py``; here it is read, run per month
range and failed with a message naming what is missing.
"""

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.activity import ROLL_FORWARD_INPUTS
from backlog_pipeline.accounting.currency import MissingRatesError
from backlog_pipeline.accounting.currency_close import (
    CurrencyFigures,
    constant_currency_flows,
    convert,
    local_figures,
)
from backlog_pipeline.accounting.currency_flows import flow_by_currency
from backlog_pipeline.accounting.fx_rates_needed import blocked_periods, rates_used
from backlog_pipeline.accounting.fx_rounding import FigureTooLargeError
from backlog_pipeline.config import settings
from backlog_pipeline.defs.fx_source import FxRatesSource
from backlog_pipeline.defs.io_manager import columns_in
from backlog_pipeline.defs.partitions import SINGLE_RUN, monthly_partitions, months_in_run
from backlog_pipeline.defs.policies import retried_only_if_transient
from backlog_pipeline.defs.resources import Reporting
from backlog_pipeline.defs.sources import OWNERS, source_asset
from backlog_pipeline.periods import month_label, parse_month, partition_key
from backlog_pipeline.sources.rates import RatesError

# What the conversion reads besides the roll-forward's columns: each contract's currency,
# the ledger's reporting-currency amounts where the ERP has them, and the rates.
CONVERSION_INS = {
    "contracts": columns_in("crm_contracts", (*ROLL_FORWARD_INPUTS["contracts"], "currency")),
    "changes": columns_in("crm_contract_changes", ROLL_FORWARD_INPUTS["changes"]),
    "recognition": columns_in(
        "erp_recognition",
        ROLL_FORWARD_INPUTS["recognition"],
        optional=("amount_reporting",),
        categories=("contract_id",),
    ),
    "rates": dg.AssetIn("fx_rates"),
}
_RATES_KIND = "csv" if settings.fx_rates_csv else "sql" if settings.fx_rates_table else "pandas"


@source_asset(
    kinds={_RATES_KIND},
    description=(
        "Monthly average and closing exchange rates (reporting-currency units for one unit "
        "of each currency), from BACKLOG_FX_RATES_CSV or BACKLOG_FX_RATES_TABLE. Empty when "
        "neither is set: every contract is then in the reporting currency."
    ),
)
def fx_rates(
    context: dg.AssetExecutionContext, fx_rates_source: FxRatesSource, reporting: Reporting
) -> dg.Output[pd.DataFrame]:
    def land() -> dg.Output[pd.DataFrame]:
        try:
            rates = fx_rates_source.read(reporting.currency)
        except RatesError as error:
            raise dg.Failure(
                description=f"{error} Nothing was published.",
                metadata={"problems": dg.MetadataValue.int(len(error.problems))},
                allow_retries=False,
            ) from None
        months = rates["month"]
        context.log.info(f"{fx_rates_source.describe()}: {len(rates)} rate rows read")
        return dg.Output(
            rates,
            metadata={
                "source": dg.MetadataValue.text(fx_rates_source.describe()),
                "rows": dg.MetadataValue.int(len(rates)),
                "currencies": dg.MetadataValue.text(", ".join(sorted(set(rates["currency"])))),
                "months": dg.MetadataValue.text(
                    f"{month_label(months.min())}..{month_label(months.max())}"
                    if len(rates)
                    else "none"
                ),
            },
        )

    return retried_only_if_transient(land)


def converted_rows(
    local_rows: pd.DataFrame,
    contracts: pd.DataFrame,
    recognition: pd.DataFrame,
    rates: pd.DataFrame,
    reporting: Reporting,
    source: str,
) -> pd.DataFrame:
    """The contract rows in the reporting currency, or a Failure naming each missing rate
    with the months it keeps from being published (none of the run's months is)."""
    try:
        return convert(local_rows, contracts, recognition, rates, reporting.currency)
    except MissingRatesError as error:
        blocked = blocked_periods(error.problems)
        raise dg.Failure(
            description=(
                f"Missing exchange rates in {source}: "
                + "; ".join(str(problem["problem"]) for problem in error.problems[:10])
                + f". Months that cannot be converted: {', '.join(blocked)}. Nothing in this "
                "run was published; add the rates and close again."
            ),
            metadata={
                "missing_rates": dg.MetadataValue.md(
                    pd.DataFrame(error.problems)
                    .drop(columns="problem")
                    .to_markdown(index=False, disable_numparse=True)
                ),
                "months_not_published": dg.MetadataValue.json(blocked),
            },
            allow_retries=False,
        ) from None
    except FigureTooLargeError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=SINGLE_RUN,
    group_name="backlog",
    kinds={"pandas"},
    owners=OWNERS,
    ins={"contract_rows": dg.AssetIn("contract_backlog")},
    description=(
        "Each currency's backlog flow in that currency (no rates): one row per month and "
        "currency, opening + new − converted − lost + increases − decreases = closing."
    ),
)
def backlog_flow_by_currency(
    context: dg.AssetExecutionContext, contract_rows: pd.DataFrame, reporting: Reporting
) -> pd.DataFrame:
    first, last = months_in_run(context)
    return flow_by_currency(
        local_figures(contract_rows), range(first, last + 1), reporting.currency
    )


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=SINGLE_RUN,
    group_name="backlog",
    kinds={"pandas"},
    owners=OWNERS,
    ins={"contract_rows": dg.AssetIn("contract_backlog"), "rates": dg.AssetIn("fx_rates")},
    description=(
        "Non-GAAP: the flow at constant exchange rates (BACKLOG_FX_CONSTANT_MONTH's, or the "
        "first month of each fiscal year's): the operating movement without FX."
    ),
)
def backlog_flow_constant_currency(
    context: dg.AssetExecutionContext,
    contract_rows: pd.DataFrame,
    rates: pd.DataFrame,
    reporting: Reporting,
    fx_rates_source: FxRatesSource,
) -> pd.DataFrame:
    first, last = months_in_run(context)
    fixed = parse_month(reporting.constant_month) if reporting.constant_month else None
    try:
        flow = constant_currency_flows(
            local_figures(contract_rows), rates, reporting.currency, range(first, last + 1),
            fixed, reporting.fiscal_year_start_month,
        )  # fmt: skip
    except MissingRatesError as error:
        raise dg.Failure(
            description=f"Missing exchange rates in {fx_rates_source.describe()}: {error}. "
            "Nothing in this run was published.",
            allow_retries=False,
        ) from None
    for row in flow.itertuples(index=False):
        context.add_asset_metadata(
            {"basis": dg.MetadataValue.text(row.basis)}, partition_key=partition_key(row.period)
        )
    return flow


def currency_figures(
    contract_rows: pd.DataFrame,
    by_currency: pd.DataFrame,
    constant: pd.DataFrame,
    rates: pd.DataFrame,
    reporting: Reporting,
) -> CurrencyFigures:
    """What is published with the months beside the flow: the rates used are read again
    from the converted rows, so they are the ones their figures were made with."""
    used = rates_used(local_figures(contract_rows), rates, reporting.currency)
    return CurrencyFigures(by_currency, constant, used)
