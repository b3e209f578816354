"""The flows of a company in several currencies: in the reporting currency (with its
``fx_revaluation`` line), per currency in that currency, at constant rates, and the
``bookings_backlog_changes`` object with the revaluation folded in.

Every flow here is a sum of contract rows (int64 cents, exact), so contract rows sum to
each flow by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.currency import (
    REPORTING_COLUMNS,
    MissingRatesError,
    convert_contract_rows,
)
from backlog_pipeline.accounting.flow import period_flow
from backlog_pipeline.accounting.fx_rates_needed import constant_rates
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.money import cents_to_decimal, percent_change
from backlog_pipeline.periods import month_label

REPORTING_FLOW_COLUMNS = ("period", *REPORTING_COLUMNS, "net_change", "net_change_pct")
CURRENCY_FLOW_COLUMNS = ("period", "currency", *FLOW_COLUMNS, "net_change", "net_change_pct")
CONVERTED_CURRENCY_FLOW_COLUMNS = ("period", "currency", *REPORTING_COLUMNS)
CONSTANT_CURRENCY_BASIS = "constant currency at {month} rates (non-GAAP)"
# The typed sales.bookings_backlog_changes object (SPEC.md "Outputs"): these keys, exactly.
CHANGES_KEYS = (
    "startingBackLogValue", "newBookingValue", "bookingsConvertedToRevenue",
    "lostBookingsPostContract", "backlogValueIncreases", "backlogValueDecreases",
    "endingBackLogValue", "netChange", "netChangePercent",
)  # fmt: skip


def _with_net_change(flow: pd.DataFrame) -> pd.DataFrame:
    flow["net_change"] = flow["closing"] - flow["opening"]
    flow["net_change_pct"] = [
        percent_change(change, opening)
        for change, opening in zip(flow["net_change"], flow["opening"], strict=True)
    ]
    return flow


def _sums(
    rows: pd.DataFrame, columns: Mapping[str, str], keys: list[str], grid: pd.MultiIndex
) -> pd.DataFrame:
    """``rows[source]`` summed (exact int64) under ``keys`` into every cell of ``grid``."""
    sums = rows.groupby(keys, observed=True, sort=False)[list(columns)].sum()
    if len(keys) > 1:
        sums.index = pd.MultiIndex.from_arrays(
            [sums.index.get_level_values(key).astype(grid.levels[at].dtype)
             for at, key in enumerate(keys)],
            names=keys,
        )  # fmt: skip
    else:
        grid = grid.get_level_values(0)
    flow = sums.reindex(grid, fill_value=0).astype("int64").rename(columns=columns)
    return flow.reset_index()


def reporting_flow(converted_rows: pd.DataFrame, months: Sequence[int]) -> pd.DataFrame:
    """``REPORTING_FLOW_COLUMNS``, one row per month in ``months`` (zeros where nothing
    happened), in reporting cents: the sum of :func:`convert_contract_rows`' rows.

    ``fx_revaluation`` is always there (0 in a one-currency company) and
    ``closing = opening + new − converted − lost + increases − decreases + fx_revaluation``.
    """
    return period_flow(converted_rows, list(months))[list(REPORTING_FLOW_COLUMNS)]


def _present(currency: pd.Series) -> list[str]:
    """The currencies that occur in a column (a categorical's used categories, counted)."""
    if isinstance(currency.dtype, pd.CategoricalDtype):
        codes = np.asarray(currency.cat.codes, dtype=np.int64)
        used = np.bincount(codes[codes >= 0], minlength=len(currency.cat.categories)) > 0
        return [str(code) for code in currency.cat.categories[used]]
    return [str(code) for code in pd.unique(currency.dropna())]


def _currency_grid(
    rows: pd.DataFrame, months: Sequence[int], reporting_currency: str
) -> pd.MultiIndex:
    currencies = sorted({*_present(rows["currency"]), reporting_currency})
    return pd.MultiIndex.from_product(
        [np.asarray(months, dtype=np.int64), pd.Index(currencies, dtype=object)],
        names=["period", "currency"],
    )


def flow_by_currency(
    local_rows: pd.DataFrame, months: Sequence[int], reporting_currency: str
) -> pd.DataFrame:
    """Each currency's flow in that currency (``backlog_flow_by_currency``), no rates.

    ``local_rows`` are :func:`~backlog_pipeline.accounting.currency.with_currency`'s rows
    (figures in the contract's currency), so this needs no rate and is there even for a
    month whose rates are missing. One row per month and currency (every currency with a
    row in the range, and the reporting currency), ``CURRENCY_FLOW_COLUMNS``, in that
    currency's cents; the identities of SPEC.md hold for each currency on its own.
    """
    grid = _currency_grid(local_rows, months, reporting_currency)
    columns = {column: column for column in FLOW_COLUMNS}
    flow = _sums(local_rows, columns, ["period", "currency"], grid)
    return _with_net_change(flow)[list(CURRENCY_FLOW_COLUMNS)]


def converted_flow_by_currency(
    converted_rows: pd.DataFrame, months: Sequence[int], reporting_currency: str
) -> pd.DataFrame:
    """Each currency's contracts' flow in the reporting currency: the parts that add up
    to :func:`reporting_flow` (``CONVERTED_CURRENCY_FLOW_COLUMNS``, reporting cents)."""
    grid = _currency_grid(converted_rows, months, reporting_currency)
    columns = {column: column for column in REPORTING_COLUMNS}
    return _sums(converted_rows, columns, ["period", "currency"], grid)


def constant_currency_flow(
    local_rows: pd.DataFrame,
    rates: pd.DataFrame,
    reporting_currency: str,
    month: int,
    months: Sequence[int],
) -> pd.DataFrame:
    """The reporting flow at the fixed rates of ``month`` (a non-GAAP view).

    Every month's movements at ``month``'s average rate; every opening and closing at
    ``month``'s closing rate, so the stock never moves with rates and the opening is still
    the previous closing. What is left in ``fx_revaluation`` is only the gap between
    ``month``'s closing and average rates on the month's movements (and rounding): no
    rate change. Ledger amounts are not used (they are at actual rates). Columns:
    ``REPORTING_FLOW_COLUMNS`` and ``basis`` (``constant currency at YYYY-MM rates
    (non-GAAP)``). Raises ``MissingRatesError`` naming each currency without rates in
    ``month``.
    """
    fixed = constant_rates(rates, month, min(months), max(months))
    present = set(_present(local_rows["currency"])) - {reporting_currency}
    absent = sorted(present - set(fixed["currency"]))
    if absent:
        raise MissingRatesError(
            [
                {
                    "currency": code,
                    "month": month_label(month),
                    "rate": "average_rate and closing_rate",
                    "periods": [month_label(period) for period in months],
                    "problem": f"no {code} rates for {month_label(month)}, the constant-"
                    "currency month",
                }
                for code in absent
            ]
        )
    converted = convert_contract_rows(local_rows, fixed, reporting_currency)
    flow = reporting_flow(converted, months)
    flow["basis"] = CONSTANT_CURRENCY_BASIS.format(month=month_label(month))
    return flow


def changes_with_revaluation(
    flow_row: Mapping[str, int],
) -> tuple[dict[str, Decimal | None], dict[str, Decimal]]:
    """``sales.bookings_backlog_changes`` (exactly its nine keys) from a reporting flow
    row in cents, and the FX split for the KPI document's measurement.

    The typed object has no revaluation key, so the month's net revaluation goes into
    ``backlogValueIncreases`` when it is a gain and ``backlogValueDecreases`` when a loss;
    the nine values still roll forward (ending = starting + new − converted − lost +
    increases − decreases). The split says how much of each is FX:
    ``{"fxRevaluation", "backlogValueIncreasesFromFx", "backlogValueDecreasesFromFx"}``.
    Money is two-decimal ``Decimal``; ``netChangePercent`` as in the flow (None on a 0
    opening).
    """
    revaluation = int(flow_row["fx_revaluation"])
    gain, loss = max(revaluation, 0), max(-revaluation, 0)
    opening, closing = int(flow_row["opening"]), int(flow_row["closing"])
    cents = (
        opening,
        int(flow_row["new_bookings"]),
        int(flow_row["converted"]),
        int(flow_row["lost"]),
        int(flow_row["increases"]) + gain,
        int(flow_row["decreases"]) + loss,
        closing,
        closing - opening,
    )
    values: list[Decimal | None] = [cents_to_decimal(value) for value in cents]
    values.append(percent_change(closing - opening, opening))
    changes = dict(zip(CHANGES_KEYS, values, strict=True))
    split = {
        "fxRevaluation": cents_to_decimal(revaluation),
        "backlogValueIncreasesFromFx": cents_to_decimal(gain),
        "backlogValueDecreasesFromFx": cents_to_decimal(loss),
    }
    return changes, split
