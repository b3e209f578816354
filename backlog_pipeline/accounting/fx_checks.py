"""The identities of a company in several currencies, checked by code (SPEC.md,
"Currencies"): each function lists what disagrees, naming the figures; an empty list
means the identity holds. Amounts in messages are formatted; inputs are int64 cents.

**The revaluation's second route**, per contract row, from rates and local figures only
(never from the converted figures), in exact 10⁻¹⁰ cents::

    opening_local × (closing rate − previous closing rate)
    + Σ signed movements_local × (closing rate − average rate)           (rate effect)
    + (ledger amount − ledger lines' local amount × average rate)       (ledger difference)
    + residual(closing_local × closing rate) − residual(opening_local × previous rate)
    − Σ signed residual(movement_local × average rate)                  (rounding)

where a movement in the rounding term is the part converted at the average rate (for
``converted``, without the lines taken from the ledger), and ``residual`` is what the
half-up rounding of :mod:`~backlog_pipeline.accounting.fx_rounding` adds to that exact
product (within ±½ cent, from the product's remainder). Substituting closing_local =
opening_local + Σ signed movements_local shows it equals, exactly, the first route
(converted closing − converted opening − Σ signed converted movements); so it must come
out a whole number of cents equal to ``fx_revaluation`` on every row. A wrong rate,
figure, sign or an overflow on either side breaks that, by more than a rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.as_of import total_closing_as_of_months
from backlog_pipeline.accounting.currency import MOVEMENT_SIGNS, REPORTING_COLUMNS, LedgerAmounts
from backlog_pipeline.accounting.fx_rates import RateTable
from backlog_pipeline.accounting.fx_rounding import residual, split_product, to_cents
from backlog_pipeline.accounting.reconcile import (
    as_of_discrepancies,
    continuity_discrepancies,
    identity_discrepancies,
    revaluation_line_problems,
)
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label

Discrepancy = dict[str, Any]
_EXAMPLES = 5  # contracts named per month; the count says how many there are


def revaluation_second_route(
    converted_rows: pd.DataFrame,
    rates: pd.DataFrame,
    reporting_currency: str,
    ledger: LedgerAmounts | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The second route (see the module) per row: cents, and whether it is whole cents.

    ``converted_rows`` as :func:`convert_contract_rows` gives them (only their ``period``,
    ``currency`` and ``*_local`` figures are read), ``rates`` the canonical rates frame,
    ``ledger`` what the conversion was given. Rows of the reporting currency: 0, whole.
    """
    currency = pd.Categorical(converted_rows["currency"])
    foreign = np.flatnonzero(np.asarray(currency.categories != reporting_currency)[currency.codes])
    cents = np.zeros(len(converted_rows), dtype=np.int64)
    whole_cents = np.ones(len(converted_rows), dtype=bool)
    if not len(foreign):
        return cents, whole_cents
    period = converted_rows["period"].to_numpy(np.int64)[foreign]
    table = RateTable.from_rates(rates, reporting_currency)
    average = table.rates_of("average_rate", currency[foreign], period)
    closing = table.rates_of("closing_rate", currency[foreign], period)
    previous = table.rates_of("closing_rate", currency[foreign], period - 1)

    def local(column: str) -> np.ndarray:
        return converted_rows[f"{column}_local"].to_numpy(np.int64)[foreign]

    opening = local("opening")
    ledger_reporting = ledger.reporting[foreign] if ledger is not None else 0
    ledger_local = ledger.local[foreign] if ledger is not None else np.zeros(len(foreign), np.int64)
    whole, units = split_product(opening, closing - previous)
    for column, sign in MOVEMENT_SIGNS.items():
        part, rest = split_product(sign * local(column), closing - average)
        whole, units = whole + part, units + rest
    part, rest = split_product(ledger_local, average)
    whole, units = whole + ledger_reporting - part, units - rest
    units = units + residual(local("closing"), closing) - residual(opening, previous)
    for column, sign in MOVEMENT_SIGNS.items():
        at_average = local(column) - ledger_local if column == "converted" else local(column)
        units = units - sign * residual(at_average, average)
    cents[foreign], whole_cents[foreign] = to_cents(whole, units)
    return cents, whole_cents


def revaluation_discrepancies(
    converted_rows: pd.DataFrame,
    rates: pd.DataFrame,
    reporting_currency: str,
    ledger: LedgerAmounts | None = None,
    flow: pd.DataFrame | None = None,
) -> list[Discrepancy]:
    """Months where ``fx_revaluation`` differs from its second route: per contract (the
    count and the first contracts, with both figures) and, given the reporting ``flow``,
    in the month's total."""
    second, whole = revaluation_second_route(converted_rows, rates, reporting_currency, ledger)
    first = converted_rows["fx_revaluation"].to_numpy(np.int64)
    period = converted_rows["period"].to_numpy(np.int64)
    found = []
    wrong = np.flatnonzero((second != first) | ~whole)
    for month in np.unique(period[wrong]):
        rows = wrong[period[wrong] == month]
        found.append(
            {
                "period": month_label(month),
                "figure": "fx_revaluation",
                "problem": "fx_revaluation ≠ its second route from rates and local figures",
                "contracts": len(rows),
                "examples": [
                    {
                        "contract_id": converted_rows["contract_id"].iat[at],
                        "currency": str(converted_rows["currency"].iat[at]),
                        "fx_revaluation": format_cents(int(first[at])),
                        "second_route": format_cents(int(second[at]))
                        if whole[at]
                        else "not a whole number of cents",
                    }
                    for at in rows[:_EXAMPLES]
                ],
            }
        )
    if flow is not None:
        totals = pd.Series(second).groupby(period).sum()
        for month, figure in zip(flow["period"], flow["fx_revaluation"], strict=True):
            expected = int(totals.get(int(month), 0))
            if int(figure) != expected:
                found.append(
                    {
                        "period": month_label(month),
                        "figure": "fx_revaluation",
                        "problem": "the flow's fx_revaluation ≠ Σ second route of its contracts",
                        "flow": format_cents(int(figure)),
                        "second_route": format_cents(expected),
                        "difference": format_cents(int(figure) - expected),
                    }
                )
    return found


def reporting_identity_discrepancies(flow: pd.DataFrame) -> list[Discrepancy]:
    """Months where opening + new − converted − lost + increases − decreases +
    fx_revaluation ≠ closing, in the reporting flow (a missing revaluation line too)."""
    return revaluation_line_problems(flow) or identity_discrepancies(flow)


def currency_sum_discrepancies(
    flow: pd.DataFrame, converted_currency_flow: pd.DataFrame
) -> list[Discrepancy]:
    """Figures of the reporting flow that are not the sum of the currencies' converted
    flows (:func:`converted_flow_by_currency`), each named with both amounts."""
    sums = converted_currency_flow.groupby("period")[list(REPORTING_COLUMNS)].sum()
    found = []
    for row in flow.itertuples(index=False):
        for column in REPORTING_COLUMNS:
            behind = int(sums.at[row.period, column]) if row.period in sums.index else 0
            figure = int(getattr(row, column))
            if figure != behind:
                found.append(
                    {
                        "period": month_label(row.period),
                        "figure": column,
                        "flow": format_cents(figure),
                        "sum_of_currencies": format_cents(behind),
                        "difference": format_cents(figure - behind),
                    }
                )
    return found


def local_flow_discrepancies(
    currency_flow: pd.DataFrame,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
) -> list[Discrepancy]:
    """Each currency's own flow (:func:`flow_by_currency`) by both routes, with no rates:
    the roll-forward identity, opening = previous closing, and SPEC's as-of route
    (closing(E) = Σ events ≤ E − Σ recognized ≤ E over that currency's contracts).
    Each discrepancy names its currency."""
    found = []
    currencies = pd.unique(currency_flow["currency"].astype(object))
    line_currency = _currency_of_lines(contracts, recognition) if len(currencies) > 1 else None
    for code in currencies:
        own = currency_flow[currency_flow["currency"].astype(object) == code]
        own = own.drop(columns="currency").reset_index(drop=True)
        in_code = (contracts["currency"] == code).to_numpy()
        # One currency throughout (the common case): the frame as it is, its ids' codes kept.
        own_contracts = contracts if in_code.all() else contracts[in_code]
        own_lines = recognition if line_currency is None else recognition[line_currency == code]
        months = [int(month) for month in own["period"]]
        as_of = total_closing_as_of_months(own_contracts, changes, own_lines, months)
        for problem in (
            identity_discrepancies(own)
            + continuity_discrepancies(own, {})
            + as_of_discrepancies(own, as_of)
        ):
            found.append({"currency": code, **problem})
    return found


def _currency_of_lines(contracts: pd.DataFrame, recognition: pd.DataFrame) -> np.ndarray:
    unique = contracts.drop_duplicates("contract_id")
    at = pd.Index(unique["contract_id"]).get_indexer(recognition["contract_id"])
    codes = np.append(unique["currency"].astype(object).to_numpy(), None)
    return codes[at]  # an orphan line (-1) gets None: no currency's lines


def reporting_currency_discrepancies(
    converted_currency_flow: pd.DataFrame, currency_flow: pd.DataFrame, reporting_currency: str
) -> list[Discrepancy]:
    """The reporting currency's contracts are converted at 1: their part of the reporting
    flow (:func:`converted_flow_by_currency`) must equal their own flow
    (:func:`flow_by_currency`) figure by figure, with no revaluation."""
    converted = converted_currency_flow[converted_currency_flow["currency"] == reporting_currency]
    own = currency_flow[currency_flow["currency"] == reporting_currency].set_index("period")
    found = []
    for row in converted.itertuples(index=False):
        expected = {column: own.at[row.period, column] if row.period in own.index else 0
                    for column in REPORTING_COLUMNS if column != "fx_revaluation"}  # fmt: skip
        expected["fx_revaluation"] = 0
        for column, value in expected.items():
            if int(getattr(row, column)) != int(value):
                found.append(
                    {
                        "period": month_label(row.period),
                        "currency": reporting_currency,
                        "figure": column,
                        "converted": format_cents(int(getattr(row, column))),
                        "own_flow": format_cents(int(value)),
                        "difference": format_cents(int(getattr(row, column)) - int(value)),
                    }
                )
    return found
