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
    RowContracts,
    datetimes,
    group_slots,
    month_slots,
    row_contracts,
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
    figures = {
        name: flow[name].to_numpy(np.int64).tolist()  # Python integers: exact at any size
        for name in ("period", "opening", "new_bookings", "converted", "lost", "closing")
    }
    converted_in = dict(zip(figures["period"], figures["converted"], strict=True))
    rows = []
    for at, period in enumerate(figures["period"]):
        opening, lost = figures["opening"][at], figures["lost"][at]
        new, converted = figures["new_bookings"][at], figures["converted"][at]
        share = _ratio_or_reason(
            lost, opening, "the month opened with no backlog", PERCENT_PLACES, 100
        )
        book_to_bill = _ratio_or_reason(
            new, converted, "no revenue converted in the month", RATIO_PLACES
        )
        window = [m for m in range(period - _AVERAGE_MONTHS + 1, period + 1) if m in converted_in]
        months_of_revenue, reason = _ratio_or_reason(
            figures["closing"][at] * len(window),
            sum(converted_in[m] for m in window),
            f"no revenue converted in the last {len(window)} month(s)",
            RATIO_PLACES,
        )
        rows.append((period, *share, *book_to_bill, months_of_revenue, len(window), reason))
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
        if missing:
            shown = ", ".join(month_label(m) for m in missing[:3])
            shown += ", …" if len(missing) > 3 else ""
            rows.append((period, None, None, None, None, f"the budget has no figure for {shown}"))
            continue
        total = sum(int(planned[m]) for m in next_year)
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
    contracts: pd.DataFrame | RowContracts,
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
    lookup = row_contracts(contract_rows, contracts)
    customer_of_contract, customer_ids = pd.factorize(lookup.table["customer_id"], sort=True)
    customer = customer_of_contract.astype(np.int64)[lookup.positions]
    amount = contract_rows[amount_column].to_numpy(np.int64)
    width = max(len(customer_ids), 1)
    slots, slot_of = group_slots(month_position * width + customer, len(month_array) * width)
    held = np.zeros(len(slots), dtype=np.int64)
    np.add.at(held, slot_of, amount)
    slot_month, slot_customer = np.divmod(slots, width)
    total = np.zeros(len(month_array), dtype=np.int64)
    np.add.at(total, month_position, amount)
    # Slots are ordered by month, then customer id: each month is one run of them.
    bounds = np.searchsorted(slot_month, np.arange(len(month_array) + 1))
    rows = []
    for at, period_month in enumerate(month_array.tolist()):
        run = slice(bounds[at], bounds[at + 1])
        rows.append(
            (
                period_month,
                *_month_concentration(held[run], slot_customer[run], customer_ids, int(total[at])),
            )
        )
    return pd.DataFrame(rows, columns=list(CONCENTRATION_COLUMNS))


def _month_concentration(
    held: np.ndarray, customer: np.ndarray, customer_ids: pd.Index, closing: int
) -> tuple[int, int, object, Decimal | None, Decimal | None, str | None]:
    """(closing, customers holding backlog, largest customer, its share, the top 10's share,
    reason) of one month, from each customer's closing (ordered by customer id)."""
    holders = int(np.count_nonzero(held))
    if closing <= 0:
        reason = "no closing backlog" if closing == 0 else "the closing backlog is negative"
        return closing, holders, None, None, None, reason
    largest = int(np.argmax(held))  # the first of equal closings: the lowest customer id
    top = held if len(held) <= 10 else held[np.argpartition(held, len(held) - 10)[-10:]]
    return (
        closing,
        holders,
        customer_ids[customer[largest]],
        exact_percent(int(held[largest]), closing),
        exact_percent(int(top.sum()), closing),
        None,
    )


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
    contracts: pd.DataFrame | RowContracts,
    *,
    fiscal_year_start_month: int = 1,
    amount_column: str = "closing",
    months: list[int] | None = None,
) -> pd.DataFrame:
    """``AGING_COLUMNS``: each month's closing backlog by the (fiscal) year its contract was
    signed in; years whose backlog nets to 0 are left out. Sums to the month's closing."""
    period = contract_rows["period"].to_numpy(np.int64)
    month_array, month_position = month_slots(period, months, "aging")
    lookup = row_contracts(contract_rows, contracts)
    year = fiscal_years(lookup.table["signed_date"], fiscal_year_start_month)[lookup.positions]
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
