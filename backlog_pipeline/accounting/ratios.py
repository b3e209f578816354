"""How healthy the backlog is, per month: the ratios a board reads beside the flow.

Exact: every ratio is integer arithmetic on cents, rounded once, half up (away from zero),
to four decimals (ratios) or two (shares in percent). A ratio whose denominator is 0 is
null with the reason in words, never infinity and never 0.

- cancellation share = lost ÷ opening (percent);
- book-to-bill = new ÷ converted;
- months of revenue in backlog = closing ÷ the average monthly converted of the last three
  months (the month and the two before, as far as the flow given reaches: fewer at the
  start, and the number used is published);
- coverage = closing ÷ the budgeted revenue of the next 12 months, and current coverage =
  revenue due within 12 months ÷ the same; every one of the 12 months must be in the budget
  (a partial budget would overstate coverage). "Visible year": coverage ≥ 1, decided on the
  exact figures, not on the rounded ratio.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.lookup import (
    datetimes,
    month_slots,
    row_positions,
    unique_contracts,
)
from backlog_pipeline.periods import month_label

RATIO_PLACES = 4
PERCENT_PLACES = 2
FLOW_RATIO_COLUMNS = (
    "period",
    "cancellation_share_pct", "cancellation_share_reason",
    "book_to_bill", "book_to_bill_reason",
    "months_of_revenue", "months_of_revenue_months_used", "months_of_revenue_reason",
)  # fmt: skip
COVERAGE_COLUMNS = (
    "period", "budget_next_12_months", "coverage", "current_coverage", "visible_year",
    "coverage_reason",
)  # fmt: skip
CONCENTRATION_COLUMNS = (
    "period", "closing", "customers", "largest_customer_id", "largest_customer_share_pct",
    "top_10_share_pct", "concentration_reason",
)  # fmt: skip
AGING_COLUMNS = ("period", "signing_year", "label", "closing")
_AVERAGE_MONTHS = 3


def exact_ratio(numerator: int, denominator: int, places: int = RATIO_PLACES) -> Decimal:
    """``numerator / denominator`` to ``places`` decimals, half up, exactly (no double
    rounding at any size). The denominator must not be 0."""
    if denominator == 0:
        raise ZeroDivisionError("exact_ratio: the denominator is 0")
    numerator, denominator = int(numerator), int(denominator)
    negative = (numerator < 0) != (denominator < 0)
    quotient, remainder = divmod(abs(numerator) * 10**places, abs(denominator))
    if 2 * remainder >= abs(denominator):
        quotient += 1
    return Decimal(-quotient if negative else quotient).scaleb(-places)


def exact_percent(numerator: int, denominator: int) -> Decimal:
    """``numerator / denominator × 100`` to two decimals, half up."""
    return exact_ratio(numerator * 100, denominator, PERCENT_PLACES)


def _ratio_or_reason(
    numerator: int, denominator: int, reason: str, places: int, scale: int = 1
) -> tuple[Decimal | None, str | None]:
    if denominator == 0:
        return None, reason
    return exact_ratio(numerator * scale, denominator, places), None


def flow_ratios(flow: pd.DataFrame) -> pd.DataFrame:
    """``FLOW_RATIO_COLUMNS`` per month of ``flow`` (``period, opening, new_bookings,
    converted, lost, closing`` in cents). For months of revenue in a single month's close,
    pass the flow of the two months before it too (the ratio of those is then partial)."""
    by_month = flow.set_index(flow["period"].astype(int))
    rows = []
    for period, month in by_month.iterrows():
        opening, lost = int(month["opening"]), int(month["lost"])
        new, converted = int(month["new_bookings"]), int(month["converted"])
        share = _ratio_or_reason(
            lost, opening, "the month opened with no backlog", PERCENT_PLACES, 100
        )
        book_to_bill = _ratio_or_reason(
            new, converted, "no revenue converted in the month", RATIO_PLACES
        )
        window = [m for m in range(period - _AVERAGE_MONTHS + 1, period + 1) if m in by_month.index]
        converted_sum = int(by_month.loc[window, "converted"].astype("int64").sum())
        months_of_revenue = _ratio_or_reason(
            int(month["closing"]) * len(window),
            converted_sum,
            f"no revenue converted in the last {len(window)} month(s)",
            RATIO_PLACES,
        )
        rows.append(
            (period, *share, *book_to_bill, months_of_revenue[0], len(window), months_of_revenue[1])
        )
    return pd.DataFrame(rows, columns=list(FLOW_RATIO_COLUMNS))


def coverage(closing: pd.Series, within_12_months: pd.Series, budget: pd.DataFrame) -> pd.DataFrame:
    """``COVERAGE_COLUMNS`` per month. ``closing`` and ``within_12_months``: cents indexed by
    month (the same basis: both of the whole closing, or both of the disclosed RPO);
    ``budget``: planned revenue, ``month, amount`` in cents (several rows of a month add up).
    """
    planned = budget.groupby(budget["month"].astype(int))["amount"].sum().astype("int64")
    rows = []
    for period, closing_cents in closing.items():
        next_year = range(int(period) + 1, int(period) + 13)
        missing = [m for m in next_year if m not in planned.index]
        total = int(planned.reindex(list(next_year)).fillna(0).sum())
        if missing:
            shown = ", ".join(month_label(m) for m in missing[:3])
            shown += ", …" if len(missing) > 3 else ""
            rows.append((period, None, None, None, None, f"the budget has no figure for {shown}"))
            continue
        if total == 0:
            reason = "the budget for the next 12 months is 0"
            rows.append((period, total, None, None, None, reason))
            continue
        within = int(within_12_months.get(period, 0))
        visible = int(closing_cents) >= total if total > 0 else None
        ratios = exact_ratio(int(closing_cents), total), exact_ratio(within, total)
        rows.append((period, total, *ratios, visible, None))
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))


def months_needed(first: int, last: int) -> tuple[int, int]:
    """The months of flow to compute for :func:`flow_ratios` of ``first..last``: the two
    before ``first`` too, for the three-month average."""
    return first - (_AVERAGE_MONTHS - 1), last


def concentration(
    contract_rows: pd.DataFrame,
    contracts: pd.DataFrame,
    *,
    amount_column: str = "closing",
    months: list[int] | None = None,
) -> pd.DataFrame:
    """``CONCENTRATION_COLUMNS`` per month: the share of the closing backlog held by the
    largest customer and by the ten largest (percent), customers ranked by their closing
    (equal closings by customer id). Null with the reason when the closing is not positive.
    """
    period = contract_rows["period"].to_numpy(np.int64)
    month_array, month_position = month_slots(period, months, "concentration")
    table = unique_contracts(contracts)
    customer_of_contract, customer_ids = pd.factorize(table["customer_id"], sort=True)
    customer = customer_of_contract[row_positions(contract_rows, pd.Index(table["contract_id"]))]
    amount = contract_rows[amount_column].to_numpy(np.int64)
    keys = month_position * max(len(customer_ids), 1) + customer
    slots, slot_of = np.unique(keys, return_inverse=True)
    held = np.zeros(len(slots), dtype=np.int64)
    np.add.at(held, slot_of, amount)
    slot_month, slot_customer = np.divmod(slots, max(len(customer_ids), 1))
    order = np.lexsort((slot_customer, -held, slot_month))
    ranked_month = slot_month[order]
    rank = np.arange(len(order)) - np.searchsorted(ranked_month, ranked_month)
    top = np.zeros(len(month_array), dtype=np.int64)
    np.add.at(top, ranked_month[rank < 10], held[order][rank < 10])
    total = np.zeros(len(month_array), dtype=np.int64)
    np.add.at(total, month_position, amount)
    holders = np.bincount(slot_month[held != 0], minlength=len(month_array))
    first = order[rank == 0]  # each month's largest customer (months with rows only)
    largest = dict(zip(slot_month[first].tolist(), first.tolist(), strict=True))
    rows = []
    for at, period_month in enumerate(month_array.tolist()):
        closing = int(total[at])
        reason = None if closing > 0 else "no closing backlog" if closing == 0 else None
        reason = "the closing backlog is negative" if closing < 0 else reason
        slot = largest.get(at)
        rows.append(
            (
                period_month,
                closing,
                int(holders[at]),
                customer_ids[slot_customer[slot]] if slot is not None and reason is None else None,
                exact_percent(int(held[slot]), closing) if reason is None else None,
                exact_percent(int(top[at]), closing) if reason is None else None,
                reason,
            )
        )
    return pd.DataFrame(rows, columns=list(CONCENTRATION_COLUMNS))


def fiscal_years(dates: pd.Series, start_month: int = 1) -> np.ndarray:
    """The fiscal year of each date, named by the calendar year it ends in (a year starting
    in July 2024 is 2025); with ``start_month`` 1 it is the calendar year."""
    if not 1 <= int(start_month) <= 12:
        raise ValueError(f"the fiscal year's first month must be 1–12, not {start_month!r}")
    dates = datetimes(dates)
    if dates.isna().any():
        raise ValueError("fiscal_years: a date is missing")
    year = dates.dt.year.to_numpy(np.int64)
    later = dates.dt.month.to_numpy(np.int64) >= start_month
    return year + (later if start_month > 1 else 0)


def fiscal_year_label(year: int, start_month: int = 1) -> str:
    """``2024`` for a calendar year, ``FY2025`` for a fiscal year (named by its end)."""
    return str(year) if start_month == 1 else f"FY{year}"


def aging(
    contract_rows: pd.DataFrame,
    contracts: pd.DataFrame,
    *,
    fiscal_year_start_month: int = 1,
    amount_column: str = "closing",
    months: list[int] | None = None,
) -> pd.DataFrame:
    """``AGING_COLUMNS``: each month's closing backlog by the (fiscal) year its contract was
    signed in; years whose backlog nets to 0 are left out. Sums to the month's closing."""
    period = contract_rows["period"].to_numpy(np.int64)
    month_array, month_position = month_slots(period, months, "aging")
    table = unique_contracts(contracts)
    signed_year = fiscal_years(table["signed_date"], fiscal_year_start_month)
    year = signed_year[row_positions(contract_rows, pd.Index(table["contract_id"]))]
    first_year = int(year.min()) if len(year) else 0
    width = int(year.max()) - first_year + 1 if len(year) else 1
    held = np.zeros(len(month_array) * width, dtype=np.int64)
    amount = contract_rows[amount_column].to_numpy(np.int64)
    np.add.at(held, month_position * width + (year - first_year), amount)
    slot = np.flatnonzero(held)
    slot_month, slot_year = np.divmod(slot, width)
    years = slot_year + first_year
    return pd.DataFrame(
        {
            "period": month_array[slot_month],
            "signing_year": years,
            "label": [fiscal_year_label(int(y), fiscal_year_start_month) for y in years],
            "closing": held[slot],
        }
    )
