"""Which rates a close needs, which of those it does not have, and the fixed rates of the
constant-currency view.

A rate is needed only for a figure that is not zero, so a month whose EUR contracts all
closed the month before needs no EUR rate; the first month of a range needs the previous
month's closing rate when backlog is carried into it. Rows are *local rows*: contract rows
in their own currency with a categorical ``currency`` (see
:func:`backlog_pipeline.accounting.currency.with_currency`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.fx_rates import RATE_COLUMNS, RATE_KINDS, RateTable
from backlog_pipeline.periods import month_label

# What each need is for: (rate kind, months from the row's period to the rate's month).
_NEEDS = {
    "movements": ("average_rate", 0),  # a month's movements at its average rate
    "closing": ("closing_rate", 0),  # the closing at the month's closing rate
    "opening": ("closing_rate", -1),  # the opening at the previous month's closing rate
}
_MOVEMENT_COLUMNS = ("new_bookings", "converted", "lost", "increases", "decreases")


def needed_rates(local_rows: pd.DataFrame, reporting_currency: str) -> pd.DataFrame:
    """Every rate the conversion of ``local_rows`` reads: ``currency, month, rate, period``.

    The average rate of a month with a movement, the closing rate of a month with a
    closing, and the previous month's closing rate for an opening (all figures not zero).
    ``month`` is the rate's month, ``rate`` ``average_rate`` or ``closing_rate``, and
    ``period`` the month whose figures read it; one row each, sorted.
    """
    currency = pd.Categorical(local_rows["currency"])
    codes = np.asarray(currency.codes, dtype=np.int64)
    period = local_rows["period"].to_numpy(np.int64)
    foreign = np.asarray(currency.categories != reporting_currency)[codes] & (codes >= 0)
    if not foreign.any():
        return pd.DataFrame({"currency": [], "month": [], "rate": [], "period": []}).astype(
            {"currency": object, "month": "int64", "rate": object, "period": "int64"}
        )
    first = int(period.min())
    span = int(period.max()) - first + 1
    moved = np.zeros(len(local_rows), dtype=bool)
    for column in _MOVEMENT_COLUMNS:
        moved |= local_rows[column].to_numpy(np.int64) != 0
    masks = {
        "movements": moved,
        "closing": local_rows["closing"].to_numpy(np.int64) != 0,
        "opening": local_rows["opening"].to_numpy(np.int64) != 0,
    }
    parts = []
    for need, mask in masks.items():
        kind, shift = _NEEDS[need]
        chosen = mask & foreign
        # Which (currency, period) pairs need it: a count over a small dense grid.
        used = np.bincount(codes[chosen] * span + (period[chosen] - first), minlength=0)
        pairs = np.flatnonzero(used)
        parts.append(
            pd.DataFrame(
                {
                    "currency": np.asarray(currency.categories, dtype=object)[pairs // span],
                    "month": pairs % span + first + shift,
                    "rate": kind,
                    "period": pairs % span + first,
                }
            )
        )
    needed = pd.concat(parts, ignore_index=True).drop_duplicates()
    return needed.sort_values(["currency", "month", "rate", "period"], ignore_index=True)


def missing_rates(
    local_rows: pd.DataFrame, rates: pd.DataFrame, reporting_currency: str
) -> list[dict[str, object]]:
    """The rates the close needs and does not have, each naming currency, month and rate.

    One entry per missing (currency, month, rate) with ``periods``, the months whose
    figures cannot be computed without it: those months are not published. The list is
    empty when every needed rate is there.
    """
    needed = needed_rates(local_rows, reporting_currency)
    if needed.empty:
        return []
    table = RateTable.from_rates(rates, reporting_currency)
    currency = pd.Categorical(needed["currency"])
    found = np.zeros(len(needed), dtype=np.int64)
    for kind in RATE_KINDS:
        is_kind = (needed["rate"] == kind).to_numpy()
        found[is_kind] = table.rates_of(
            kind, currency[is_kind], needed["month"].to_numpy(np.int64)[is_kind]
        )
    absent = needed[found == 0]
    problems = []
    for (code, month, kind), group in absent.groupby(["currency", "month", "rate"], sort=True):
        periods = [month_label(period) for period in sorted(set(group["period"]))]
        problems.append(
            {
                "currency": code,
                "month": month_label(month),
                "rate": kind,
                "periods": periods,
                "problem": f"no {code} {kind.replace('_', ' ')} for {month_label(month)} in "
                f"the rates: {', '.join(periods)} cannot be converted and "
                + ("is" if len(periods) == 1 else "are")
                + " not published",
            }
        )
    return problems


def blocked_periods(problems: list[dict[str, object]]) -> list[str]:
    """The months (``YYYY-MM``) that :func:`missing_rates` keeps from being published."""
    return sorted({period for problem in problems for period in problem["periods"]})


def constant_rates(
    rates: pd.DataFrame, month: int, first_month: int, last_month: int
) -> pd.DataFrame:
    """A rates frame holding ``month``'s rates in every month from ``first_month − 1`` to
    ``last_month``: converting with it gives the constant-currency view.

    Every month's movements then go at ``month``'s average rate, every opening and
    closing at ``month``'s closing rate. Currencies with no rates in ``month`` get no
    rows, so :func:`missing_rates` over the result names them.
    """
    fixed = rates[rates["month"] == month]
    months = np.arange(first_month - 1, last_month + 1, dtype=np.int64)
    repeated = fixed.loc[fixed.index.repeat(len(months))].reset_index(drop=True)
    repeated["month"] = np.tile(months, len(fixed))
    return repeated[list(RATE_COLUMNS)]


def rates_used(
    local_rows: pd.DataFrame, rates: pd.DataFrame, reporting_currency: str
) -> pd.DataFrame:
    """The rates each month's figures read, to store with the published version:
    ``period, currency, month, average_rate, closing_rate`` (the canonical rate rows,
    once per period that read either rate of that currency and month).

    A later change to one of them changes that period's figures: a restatement, found
    like late data by comparing this frame with the stored one.
    """
    needed = needed_rates(local_rows, reporting_currency)[["period", "currency", "month"]]
    used = needed.drop_duplicates().merge(rates, on=["currency", "month"], how="inner")
    return used[["period", *RATE_COLUMNS]].sort_values(
        ["period", "currency", "month"], ignore_index=True
    )
