"""Contracts in any currency: contract rows converted to the reporting currency, with the
FX revaluation as what remains (SPEC.md, "Currencies").

Per contract and month, in the contract's currency, :func:`compute_backlog` gives the
rows; here each figure is converted once and rounded once
(:mod:`~backlog_pipeline.accounting.fx_rounding` holds the rule):

- ``opening``  = opening_local × the previous month's closing rate (the previous month's
  closing, as published, so every opening equals the previous closing to the cent);
- ``new_bookings, converted, lost, increases, decreases`` = each local figure × the
  month's average rate; ``converted`` takes the ledger's own reporting-currency amounts
  instead where the recognition lines carry them (:class:`LedgerAmounts`);
- ``closing``  = closing_local × the month's closing rate;
- ``fx_revaluation`` = closing − (opening + new − converted − lost + increases − decreases).

Sums of those rows are the flow, so contract rows sum to it exactly.
:func:`~backlog_pipeline.accounting.fx_checks.revaluation_second_route` computes the
revaluation again from rates and local figures. Rows of the reporting currency keep their
figures as they are (rate 1) with a revaluation of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.fx_rates import RateTable
from backlog_pipeline.accounting.fx_rates_needed import missing_rates
from backlog_pipeline.accounting.fx_rounding import FigureTooLargeError, translate
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS, REPORTING_COLUMNS
from backlog_pipeline.money import MAX_ABS_CENTS, format_cents
from backlog_pipeline.periods import month_label

MOVEMENT_SIGNS = {"new_bookings": 1, "converted": -1, "lost": -1, "increases": 1, "decreases": -1}
LOCAL_COLUMNS = tuple(f"{column}_local" for column in FLOW_COLUMNS)
CONVERTED_ROW_COLUMNS = ("period", "contract_id", "currency", *LOCAL_COLUMNS, *REPORTING_COLUMNS)


class MissingRatesError(ValueError):
    """Rates the conversion needs and does not have; ``problems`` names each one."""

    def __init__(self, problems: list[dict[str, object]]) -> None:
        super().__init__("; ".join(str(problem["problem"]) for problem in problems))
        self.problems = problems


def with_currency(contract_rows: pd.DataFrame, contracts: pd.DataFrame) -> pd.DataFrame:
    """The contract rows of :func:`compute_backlog` with each contract's ``currency``.

    The figures stay in the contract's currency (*local rows*); ``currency`` is a
    categorical column after ``contract_id`` (a few codes for millions of rows).
    A contract id listed twice with two currencies cannot be converted: ValueError.
    """
    pairs = contracts[["contract_id", "currency"]].drop_duplicates("contract_id", keep=False)
    twice = contracts[~contracts["contract_id"].isin(pairs["contract_id"])]
    conflicting = twice.groupby("contract_id")["currency"].nunique()
    if (conflicting > 1).any():
        raise ValueError(
            f"contract {conflicting[conflicting > 1].index[0]} is listed with two currencies"
        )
    unique = contracts.drop_duplicates("contract_id")
    at = pd.Index(unique["contract_id"]).get_indexer(contract_rows["contract_id"])
    if (at < 0).any():
        unknown = contract_rows["contract_id"].iloc[int(np.flatnonzero(at < 0)[0])]
        raise ValueError(f"a contract row names {unknown}, which is not among the contracts")
    currency = pd.Categorical(unique["currency"].astype(object).to_numpy())
    local = contract_rows.copy(deep=False)
    local.insert(
        local.columns.get_loc("contract_id") + 1,
        "currency",
        pd.Categorical.from_codes(np.asarray(currency.codes)[at], currency.categories),
    )
    return local


@dataclass(frozen=True)
class LedgerAmounts:
    """Recognition that came with its amount in the reporting currency, per contract row.

    ``reporting`` sums the lines' ``amount_reporting`` (the general ledger's figure, in
    reporting cents); ``local`` sums the same lines' ``amount`` (contract-currency cents).
    Both are aligned with the local rows they were built for; 0 where no line had one.
    """

    reporting: np.ndarray
    local: np.ndarray


def ledger_amounts(
    local_rows: pd.DataFrame,
    contracts: pd.DataFrame,
    recognition: pd.DataFrame,
    reporting_currency: str,
) -> LedgerAmounts | None:
    """The ledger's reporting-currency amounts per local row; ``None`` without any.

    ``recognition`` may have an ``amount_reporting`` column (nullable int64 cents, per
    line). Only lines of contracts in another currency count: a line of a
    reporting-currency contract is converted at 1 whatever it carries (lines whose two
    amounts differ there are listed by ``data_errors.ledger_amount_mismatches``). Lines of
    unknown contracts and lines outside the rows' months are left out, as the
    roll-forward leaves them out.
    """
    if "amount_reporting" not in recognition or recognition["amount_reporting"].isna().all():
        return None
    foreign = contracts.loc[contracts["currency"] != reporting_currency, "contract_id"].unique()
    known = pd.Index(foreign)
    with_amount = recognition["amount_reporting"].notna().to_numpy()
    line_contract = known.get_indexer(recognition["contract_id"])
    period = local_rows["period"].to_numpy(np.int64)
    if not len(period):
        return LedgerAmounts(np.zeros(0, np.int64), np.zeros(0, np.int64))
    first, span = int(period.min()), int(period.max() - period.min()) + 1
    line_period = recognition["period"].to_numpy(np.int64)
    used = (
        with_amount & (line_contract >= 0) & (line_period >= first) & (line_period < first + span)
    )
    line_keys = line_contract[used].astype(np.int64) * span + (line_period[used] - first)
    keys, slot = np.unique(line_keys, return_inverse=True)
    sums = []
    for column in ("amount_reporting", "amount"):
        total = np.zeros(len(keys), dtype=np.int64)
        values = recognition[column].to_numpy(dtype=np.int64, na_value=0)
        np.add.at(total, slot, values[used])
        sums.append(total)
    reporting, local = np.zeros(len(period), np.int64), np.zeros(len(period), np.int64)
    currency = pd.Categorical(local_rows["currency"])
    rows = np.flatnonzero(np.asarray(currency.categories != reporting_currency)[currency.codes])
    if len(keys) and len(rows):
        row_contract = known.get_indexer(local_rows["contract_id"].to_numpy()[rows])
        row_keys = row_contract.astype(np.int64) * span + (period[rows] - first)
        at = np.minimum(keys.searchsorted(row_keys), len(keys) - 1)
        found = (row_contract >= 0) & (keys[at] == row_keys)
        reporting[rows[found]] = sums[0][at[found]]
        local[rows[found]] = sums[1][at[found]]
    return LedgerAmounts(reporting, local)


def convert_contract_rows(
    local_rows: pd.DataFrame,
    rates: pd.DataFrame,
    reporting_currency: str,
    ledger: LedgerAmounts | None = None,
) -> pd.DataFrame:
    """Local rows (see :func:`with_currency`) with their figures in the reporting currency.

    ``rates`` is the canonical rates frame (:mod:`~backlog_pipeline.accounting.fx_rates`).
    Returns ``CONVERTED_ROW_COLUMNS``: period, contract_id, currency, the seven local
    figures (``opening_local`` …), and the reporting figures under the flow's own names
    with ``fx_revaluation`` before ``closing``; all int64 cents, rows in the same order.
    Raises :class:`MissingRatesError` (call :func:`missing_rates` first to leave out the
    months that cannot be converted) and ``FigureTooLargeError`` naming the contract.
    The frame shares arrays with ``local_rows`` (and, when no row is in another currency,
    reporting figures with local ones): treat it as read-only, copy it before changing it.
    """
    problems = missing_rates(local_rows, rates, reporting_currency)
    if problems:
        raise MissingRatesError(problems)
    currency = pd.Categorical(local_rows["currency"])
    period = local_rows["period"].to_numpy(np.int64)
    foreign = np.flatnonzero(np.asarray(currency.categories != reporting_currency)[currency.codes])
    local = {column: local_rows[column].to_numpy(np.int64) for column in FLOW_COLUMNS}
    converted = dict(local)  # the reporting currency's rows: as they are
    fx_revaluation = np.zeros(len(local_rows), dtype=np.int64)
    if len(foreign):
        table = RateTable.from_rates(rates, reporting_currency)
        rows = currency[foreign]
        average = table.rates_of("average_rate", rows, period[foreign])
        closing = table.rates_of("closing_rate", rows, period[foreign])
        previous = table.rates_of("closing_rate", rows, period[foreign] - 1)
        if ledger is None:
            ledger = LedgerAmounts(np.zeros(len(period), np.int64), np.zeros(len(period), np.int64))
        try:
            figures = _converted(
                {column: values[foreign] for column, values in local.items()},
                average, closing, previous,
                ledger.reporting[foreign], ledger.local[foreign],
            )  # fmt: skip
        except FigureTooLargeError as error:
            raise _named(error, local_rows, foreign[error.rows]) from error
        for column in FLOW_COLUMNS:
            converted[column] = converted[column].copy()
            converted[column][foreign] = figures[column]
        fx_revaluation[foreign] = figures["fx_revaluation"]
    out = {
        "period": period,
        "contract_id": local_rows["contract_id"].to_numpy(),
        "currency": currency,
    }
    out |= {f"{column}_local": values for column, values in local.items()}
    out |= {column: converted[column] for column in FLOW_COLUMNS[:-1]}
    out |= {"fx_revaluation": fx_revaluation, "closing": converted["closing"]}
    rows = pd.DataFrame(out, copy=False)
    _refuse_too_large(rows)
    return rows


def _converted(
    local: dict[str, np.ndarray],
    average: np.ndarray,
    closing: np.ndarray,
    previous: np.ndarray,
    ledger_reporting: np.ndarray,
    ledger_local: np.ndarray,
) -> dict[str, np.ndarray]:
    """The figures of foreign-currency rows, each converted and rounded once."""
    figures = {
        "opening": translate(local["opening"], previous),
        "closing": translate(local["closing"], closing),
    }
    for column in MOVEMENT_SIGNS:
        if column == "converted":  # the ledger's amounts as they are, the rest at average
            figures[column] = ledger_reporting + translate(local[column] - ledger_local, average)
        else:
            figures[column] = translate(local[column], average)
    explained = figures["opening"] + sum(
        sign * figures[column] for column, sign in MOVEMENT_SIGNS.items()
    )
    figures["fx_revaluation"] = figures["closing"] - explained
    return figures


def _named(error: FigureTooLargeError, local_rows: pd.DataFrame, rows: np.ndarray) -> Exception:
    first = local_rows.iloc[int(rows[0])]
    return FigureTooLargeError(
        f"contract {first['contract_id']} in {month_label(first['period'])}: a figure × rate "
        f"does not fit NUMERIC(18,2) ({len(rows)} contract row(s))",
        rows,
    )


def _refuse_too_large(rows: pd.DataFrame) -> None:
    for column in REPORTING_COLUMNS:
        values = rows[column].to_numpy(np.int64)
        outside = np.flatnonzero(np.abs(values) > MAX_ABS_CENTS)
        if len(outside):
            first = rows.iloc[int(outside[0])]
            raise FigureTooLargeError(
                f"contract {first['contract_id']} in {month_label(first['period'])}: "
                f"{column} {format_cents(int(first[column]))} does not fit NUMERIC(18,2)",
                outside,
            )
