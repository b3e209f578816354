"""When each contract's backlog at a month end M becomes revenue (SPEC "Timing and the
disclosed RPO"; ASC 606-10-50-13(b), IFRS 15.120(b)).

A contract row's amount (its closing, by default) is scheduled by, in this order:

- negative (over-recognized): never spread; its own line, ``over_recognized``;
- the ERP revenue plan: its lines after M, scaled to the amount when they do not sum to it
  (reported); a plan whose remaining lines sum to 0 or less or hold a negative line is not
  used (reported) and the contract falls back to what follows;
- no end date: ``undated``, never guessed (a start date alone does not date it);
- end month ≤ M (past its end, flagged elsewhere as phantom backlog): all in month M+1;
- end month before the start month (a term that contradicts itself): ``undated``;
- else straight-line by whole months from max(M+1, start month) to the end month, a missing
  start date counting as M+1.

Cents are placed by largest remainder, ties to the earlier month: over n months B cents
give month i (from 0) ``B // n + (1 if i < B % n)``. Everything is vectorised over chunks of
rows: each row's own parts by closed form, the month's waterfall by difference arrays (a
second, independent route that :func:`timing_discrepancies` holds against the first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.lookup import (
    RowContracts,
    month_slots,
    months_of,
    row_contracts,
)
from backlog_pipeline.accounting.revenue_plan import PLAN_REPORT_COLUMNS, RevenuePlan
from backlog_pipeline.accounting.timing_chunk import BASES, PARTS, Terms, Waterfall, split_chunk
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label

ROW_COLUMNS = ("period", "contract_id", "amount", *PARTS, "basis")
MONTH_COLUMNS = ("period", "amount", *PARTS)
WATERFALL_COLUMNS = ("period", "line", "position", "due_month", "label", "amount")
WATERFALL_LINES = (
    *(f"month_{k:02d}" for k in range(1, 13)),
    "months_13_24", "months_25_36", "after_36_months", "undated", "over_recognized",
)  # fmt: skip
_BAND_LABELS = ("13–24 months", "25–36 months", "after 36 months", "undated", "over-recognized")
_CHUNK_ROWS = 1 << 18


@dataclass(frozen=True)
class BacklogTiming:
    """``rows``: per contract row (input order) ``ROW_COLUMNS`` in cents, the four parts
    summing to ``amount``; ``basis`` says how it was scheduled (``BASES``).
    ``by_month``: ``MONTH_COLUMNS`` per month over the disclosed rows.
    ``waterfall``: ``WATERFALL_COLUMNS``, 17 lines per month over the disclosed rows.
    ``plan_report``: ``PLAN_REPORT_COLUMNS``, contract rows whose plan was scaled (action
    ``scaled``) or not used (``not_used``: scheduled as if the contract had no plan), with
    the reason, for a WARN; ``difference`` = plan − backlog, in the plan's currency.
    ``plan_lines_without_contract``: plan lines naming no known contract, left out.
    """

    rows: pd.DataFrame
    by_month: pd.DataFrame
    waterfall: pd.DataFrame
    plan_report: pd.DataFrame
    plan_lines_without_contract: int = 0


def split_backlog(
    contract_rows: pd.DataFrame,
    contracts: pd.DataFrame | RowContracts,
    plan: pd.DataFrame | None = None,
    *,
    amount_column: str = "closing",
    local_amount_column: str | None = None,
    disclosed: np.ndarray | None = None,
    months: list[int] | None = None,
) -> BacklogTiming:
    """Schedule each contract row's ``amount_column`` (cents) after its month end.

    ``contract_rows``: ``period, contract_id`` and the amount column(s) (as
    ``rollforward.contract_backlog`` gives them). ``contracts``: canonical contracts
    (``contract_id, start_date, end_date``), or a ``RowContracts`` of these rows.
    ``plan``: the ERP revenue plan (``contract_id, period, amount``) or None.
    ``local_amount_column`` (default: the amount column) is the backlog in the plan's
    currency, the contract's own: the plan is compared with it, and the amount is split in
    proportion to the plan lines. ``disclosed``: a mask of the rows in the disclosed RPO
    (default all); ``by_month`` and ``waterfall`` cover those rows only, ``rows`` covers all.
    ``months``: the months of ``by_month``/``waterfall`` (default: those of the rows; a
    month without rows gets zeros).
    """
    lookup = row_contracts(contract_rows, contracts)
    table = lookup.table
    start, start_known = months_of(table["start_date"])
    end, end_known = months_of(table["end_date"])
    terms = Terms(start, start_known, end, end_known)
    revenue_plan = RevenuePlan.of(plan, table.index) if plan is not None else None
    period = contract_rows["period"].to_numpy(np.int64)
    month_array, position = month_slots(period, months, "split_backlog")
    months = month_array.tolist()
    contract = lookup.positions
    amount = contract_rows[amount_column].to_numpy(np.int64)
    local = contract_rows[local_amount_column or amount_column].to_numpy(np.int64)
    include = np.ones(len(period), bool) if disclosed is None else np.asarray(disclosed, bool)
    ids = contract_rows["contract_id"].to_numpy()
    parts = {name: np.zeros(len(period), dtype=np.int64) for name in PARTS}
    basis = np.zeros(len(period), dtype=np.int8)
    waterfall = Waterfall(len(months))
    reports = []
    for lo in range(0, len(period), _CHUNK_ROWS):
        rows = slice(lo, lo + _CHUNK_ROWS)
        chunk = split_chunk(
            *(values[rows] for values in (period, position, contract, amount, local, include)),
            terms,
            revenue_plan,
            waterfall,
        )
        for name in PARTS:
            parts[name][rows] = chunk.parts[name]
        basis[rows] = chunk.basis
        for report in chunk.reports:
            at = report.pop("row").to_numpy() + lo
            report.insert(0, "contract_id", ids[at])
            report.insert(0, "period", period[at])
            report.insert(4, "difference", report["plan_total"] - report["backlog"])
            reports.append(report)
    row_frame = pd.DataFrame(
        {"period": period, "contract_id": ids, "amount": amount}
        | parts
        | {"basis": pd.Categorical.from_codes(basis, categories=BASES)},
        copy=False,
    )
    return BacklogTiming(
        row_frame,
        timing_by_month(row_frame, months, include),
        _waterfall_frame(waterfall, months),
        pd.concat(reports, ignore_index=True)
        if reports
        else pd.DataFrame(columns=list(PLAN_REPORT_COLUMNS)),
        revenue_plan.unknown_contract_lines if revenue_plan is not None else 0,
    )


def timing_by_month(
    rows: pd.DataFrame, months: list[int], include: np.ndarray | None = None
) -> pd.DataFrame:
    """``MONTH_COLUMNS`` per month: the sums of the timing rows (those in ``include``)."""
    period = rows["period"].to_numpy(np.int64)
    keep = np.ones(len(period), bool) if include is None else np.asarray(include, bool)
    month_array, position = month_slots(period, months, "timing_by_month")
    position = position[keep]
    frame = {"period": month_array}
    for name in ("amount", *PARTS):
        total = np.zeros(len(month_array), dtype=np.int64)
        np.add.at(total, position, rows[name].to_numpy(np.int64)[keep])
        frame[name] = total
    return pd.DataFrame(frame)


def _waterfall_frame(waterfall: Waterfall, months: list[int]) -> pd.DataFrame:
    lines = waterfall.lines()  # months × 17
    month_array = np.asarray(months, dtype=np.int64)
    count = len(WATERFALL_LINES)
    line_position = np.tile(np.arange(count), len(months))
    period = np.repeat(month_array, count)
    single = line_position < 12
    due = pd.array(np.where(single, period + line_position + 1, 0), dtype="Int64")
    due[~single] = pd.NA
    labels = np.array(
        [month_label(int(m + k + 1)) for m in month_array for k in range(12)], dtype=object
    ).reshape(len(months), 12)
    label = np.concatenate(
        [labels, np.tile(np.array(_BAND_LABELS, dtype=object), (len(months), 1))], axis=1
    ).reshape(-1)
    return pd.DataFrame(
        {
            "period": period,
            "line": np.tile(np.array(WATERFALL_LINES, dtype=object), len(months)),
            "position": line_position,
            "due_month": due,
            "label": label,
            "amount": lines.reshape(-1),
        }
    )


def timing_discrepancies(
    timing: BacklogTiming, disclosed: Mapping[int, int] | None = None
) -> list[dict[str, str]]:
    """Where the parts do not add up, to the cent: per row (parts ≠ amount), per month (the
    waterfall, built by difference arrays, against the rows' closed forms), and, when
    ``disclosed`` (cents by month, e.g. the exclusions' ``by_month``) is given, the months
    whose timing does not sum to the disclosed RPO."""
    found: list[dict[str, str]] = []
    for month in timing.by_month.itertuples(index=False) if disclosed is not None else ():
        expected = int(disclosed.get(int(month.period), 0))
        if int(month.amount) != expected:
            found.append(
                {
                    "period": month_label(int(month.period)),
                    "figure": "disclosed",
                    "contract_rows": format_cents(int(month.amount)),
                    "disclosed": format_cents(expected),
                    "difference": format_cents(int(month.amount) - expected),
                }
            )
    rows = timing.rows
    parts_sum = sum(rows[name].to_numpy(np.int64) for name in PARTS)
    off = np.flatnonzero(parts_sum != rows["amount"].to_numpy(np.int64))
    if len(off):
        first = rows.iloc[off[0]]
        found.append(
            {
                "period": month_label(int(first["period"])),
                "problem": f"{len(off)} contract row(s) whose parts do not sum to the amount, "
                f"the first {first['contract_id']}",
            }
        )
    lines = timing.waterfall.pivot(index="period", columns="position", values="amount")
    for month in timing.by_month.itertuples(index=False):
        line = lines.loc[month.period].to_numpy(np.int64)
        expected = {
            "amount": int(line.sum()),
            "within_12_months": int(line[:12].sum()),
            "after_12_months": int(line[12:15].sum()),
            "undated": int(line[15]),
            "over_recognized": int(line[16]),
        }
        for name, waterfall_figure in expected.items():
            figure = int(getattr(month, name))
            if figure != waterfall_figure:
                found.append(
                    {
                        "period": month_label(int(month.period)),
                        "figure": name,
                        "contract_rows": format_cents(figure),
                        "waterfall": format_cents(waterfall_figure),
                        "difference": format_cents(figure - waterfall_figure),
                    }
                )
    return found
