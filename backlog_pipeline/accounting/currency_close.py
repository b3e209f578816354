"""The close of a company in several currencies, step by step, as the pipeline runs it.

local contract rows (:func:`~backlog_pipeline.accounting.flow.compute_backlog`, figures in
each contract's currency) → their currency → the rates they need (a missing one raises
:class:`~backlog_pipeline.accounting.currency.MissingRatesError` naming currency and
month) → the ledger's reporting-currency amounts → converted rows → the reporting flow,
each currency's own flow, the constant-currency view and the rates used. The Dagster
assets run these steps one asset at a time; the late-data sensor runs :func:`close_figures`
over every published month at once, so both get the same figures and fingerprints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.currency import (
    LedgerAmounts,
    convert_contract_rows,
    ledger_amounts,
    with_currency,
)
from backlog_pipeline.accounting.currency_flows import (
    REPORTING_FLOW_COLUMNS,
    constant_currency_flow,
    flow_by_currency,
)
from backlog_pipeline.accounting.flow import compute_backlog, period_flow
from backlog_pipeline.accounting.fx_rates_needed import rates_used
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.periods import fiscal_year_start

CONSTANT_FLOW_COLUMNS = (*REPORTING_FLOW_COLUMNS, "constant_month", "basis")


def convert(
    local_rows: pd.DataFrame,
    contracts: pd.DataFrame,
    recognition: pd.DataFrame,
    rates: pd.DataFrame,
    reporting_currency: str,
) -> pd.DataFrame:
    """``compute_backlog``'s contract rows converted to the reporting currency, with their
    currency and local figures (``CONVERTED_ROW_COLUMNS``); ``converted`` takes the
    ledger's amounts where recognition lines carry ``amount_reporting``.

    Raises ``MissingRatesError`` naming each rate the rows need and ``rates`` lacks.
    """
    local = with_currency(local_rows, contracts)
    ledger = ledger_amounts(local, contracts, recognition, reporting_currency)
    return convert_contract_rows(local, rates, reporting_currency, ledger)


def ledger_of(
    converted_rows: pd.DataFrame,
    contracts: pd.DataFrame,
    recognition: pd.DataFrame,
    reporting_currency: str,
) -> LedgerAmounts | None:
    """The ledger amounts :func:`convert` used for these rows (for the second route)."""
    return ledger_amounts(local_figures(converted_rows), contracts, recognition, reporting_currency)


def local_figures(converted_rows: pd.DataFrame) -> pd.DataFrame:
    """The converted rows' figures in each contract's currency, under the flow's own names
    (``period, contract_id, currency`` and ``FLOW_COLUMNS``), sharing their arrays."""
    columns = {key: converted_rows[key] for key in ("period", "contract_id", "currency")}
    columns |= {column: converted_rows[f"{column}_local"] for column in FLOW_COLUMNS}
    return pd.DataFrame(columns, copy=False)


def is_foreign(rows: pd.DataFrame, reporting_currency: str) -> np.ndarray:
    """Which rows are in another currency than the reporting one."""
    currency = pd.Categorical(rows["currency"])
    return np.asarray(currency.categories != reporting_currency)[currency.codes]


def constant_month(month: int, fixed: int | None, fiscal_year_start_month: int) -> int:
    """The month whose rates give ``month``'s constant-currency view: ``fixed``
    (``BACKLOG_FX_CONSTANT_MONTH``) when set, else the first month of its fiscal year."""
    return fixed if fixed is not None else fiscal_year_start(month, fiscal_year_start_month)


def constant_currency_flows(
    local_rows: pd.DataFrame,
    rates: pd.DataFrame,
    reporting_currency: str,
    months: Sequence[int],
    fixed: int | None,
    fiscal_year_start_month: int,
) -> pd.DataFrame:
    """Each month's flow at the rates of its :func:`constant_month` (a non-GAAP view):
    ``CONSTANT_FLOW_COLUMNS``, one row per month in ``months``.

    Months are grouped by that month, each group converted at its fixed rates; within a
    group every opening is the previous closing. Raises ``MissingRatesError`` naming a
    currency without rates in its constant month.
    """
    by_constant: dict[int, list[int]] = {}
    for month in months:
        by_constant.setdefault(constant_month(month, fixed, fiscal_year_start_month), []).append(
            month
        )
    foreign = is_foreign(local_rows, reporting_currency).any()
    period = local_rows["period"].to_numpy(np.int64)
    parts = []
    for fixed_month, group in by_constant.items():
        # Rows of other months would need rates outside the group's; one currency needs none.
        rows = local_rows[np.isin(period, group)] if foreign else local_rows
        flow = constant_currency_flow(rows, rates, reporting_currency, fixed_month, group)
        flow.insert(flow.columns.get_loc("basis"), "constant_month", fixed_month)
        parts.append(flow)
    flows = pd.concat(parts, ignore_index=True) if parts else _empty_constant()
    return flows.sort_values("period", ignore_index=True)[list(CONSTANT_FLOW_COLUMNS)]


def _empty_constant() -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in CONSTANT_FLOW_COLUMNS})


@dataclass(frozen=True)
class CurrencyFigures:
    """What a close publishes beside the reporting flow and the contract rows."""

    by_currency: pd.DataFrame  # each currency's flow in that currency (flow_by_currency)
    constant: pd.DataFrame  # the constant-currency view (CONSTANT_FLOW_COLUMNS)
    rates_used: pd.DataFrame  # period, currency, month, average_rate, closing_rate


@dataclass(frozen=True)
class CloseFigures:
    contract_rows: pd.DataFrame  # converted (CONVERTED_ROW_COLUMNS)
    flow: pd.DataFrame  # the reporting flow, fx_revaluation included
    currency: CurrencyFigures


def currency_figures(
    converted_rows: pd.DataFrame,
    rates: pd.DataFrame,
    reporting_currency: str,
    months: Sequence[int],
    fixed: int | None,
    fiscal_year_start_month: int,
) -> CurrencyFigures:
    local = local_figures(converted_rows)
    return CurrencyFigures(
        flow_by_currency(local, months, reporting_currency),
        constant_currency_flows(
            local, rates, reporting_currency, months, fixed, fiscal_year_start_month
        ),
        rates_used(local, rates, reporting_currency),
    )


def close_figures(
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
    rates: pd.DataFrame,
    reporting_currency: str,
    months: Sequence[int],
    fixed: int | None,
    fiscal_year_start_month: int,
) -> CloseFigures:
    """Everything a close of ``months`` publishes, from the sources, in one call."""
    first, last = min(months), max(months)
    local, _ = compute_backlog(contracts, changes, recognition, first, last)
    rows = convert(local, contracts, recognition, rates, reporting_currency)
    flow = period_flow(rows, list(range(first, last + 1)))
    figures = currency_figures(
        rows, rates, reporting_currency, range(first, last + 1), fixed, fiscal_year_start_month
    )
    return CloseFigures(rows, flow, figures)
