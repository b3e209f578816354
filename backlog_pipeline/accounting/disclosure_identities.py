"""The identities of a published disclosure, checked on the frames as they are published
(the blocking checks, and publication once more right before writing):

- each contract row's parts sum to its closing; the rows' closings sum to the month's
  closing, and the parts of the disclosed rows to the month's parts;
- the waterfall's 17 lines sum to the disclosed RPO, its first 12 to within 12 months, the
  three bands to after 12 months, and its last two lines to undated and over-recognized;
- closing − excluded = disclosed = within + after + undated + over-recognized, the
  closing is the flow's and excluded is the register's sum (``expedients``);
- each slice dimension sums to the flow (``slices``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.expedients import exclusion_discrepancies
from backlog_pipeline.accounting.slices import slice_discrepancies
from backlog_pipeline.accounting.timing_chunk import PARTS
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label

Found = list[dict[str, str]]


def _differences(month: int, figures: dict[str, tuple[int, int]], left: str, right: str) -> Found:
    return [
        {
            "period": month_label(month),
            "figure": name,
            left: format_cents(a),
            right: format_cents(b),
            "difference": format_cents(a - b),
        }
        for name, (a, b) in figures.items()
        if a != b
    ]


def contract_row_discrepancies(contract_timing: pd.DataFrame, summary: pd.DataFrame) -> Found:
    """Contract rows against their own closing and against the month's figures."""
    rows = contract_timing
    parts = sum(rows[name].to_numpy(np.int64) for name in PARTS)
    off = np.flatnonzero(parts != rows["closing"].to_numpy(np.int64))
    found: Found = []
    if len(off):
        first = rows.iloc[off[0]]
        found.append(
            {
                "period": month_label(int(first["period"])),
                "problem": f"{len(off)} contract row(s) whose parts do not sum to the closing, "
                f"the first {first['contract_id']}",
            }
        )
    all_rows = rows.groupby("period")["closing"].sum()
    disclosed = rows[~rows["excluded"].astype(bool)].groupby("period")[list(PARTS)].sum()
    for month in summary.itertuples(index=False):
        period = int(month.period)
        figures = {"closing": (int(all_rows.get(period, 0)), int(month.closing))}
        for name in PARTS:
            summed = int(disclosed[name].get(period, 0)) if name in disclosed else 0
            figures[name] = (summed, int(getattr(month, name)))
        found += _differences(period, figures, "contract_rows", "month")
    return found


def waterfall_discrepancies(waterfall: pd.DataFrame, summary: pd.DataFrame) -> Found:
    """The waterfall against the month's disclosed RPO and its parts."""
    found: Found = []
    lines = waterfall.pivot(index="period", columns="position", values="amount")
    for month in summary.itertuples(index=False):
        period = int(month.period)
        if period not in lines.index:
            found.append({"period": month_label(period), "problem": "no waterfall"})
            continue
        line = lines.loc[period].to_numpy(np.int64)
        figures = {
            "disclosed": (int(line.sum()), int(month.disclosed)),
            "within_12_months": (int(line[:12].sum()), int(month.within_12_months)),
            "after_12_months": (int(line[12:15].sum()), int(month.after_12_months)),
            "undated": (int(line[15]), int(month.undated)),
            "over_recognized": (int(line[16]), int(month.over_recognized)),
        }
        found += _differences(period, figures, "waterfall", "month")
    return found


def disclosed_discrepancies(
    summary: pd.DataFrame, register: pd.DataFrame, flow: pd.DataFrame
) -> Found:
    """closing − excluded = disclosed (= its parts), against the flow and the register."""
    found = exclusion_discrepancies(summary, register, flow)
    for month in summary.itertuples(index=False):
        parts = sum(int(getattr(month, name)) for name in PARTS)
        figures = {"disclosed = Σ parts": (int(month.disclosed), parts)}
        found += _differences(int(month.period), figures, "disclosed", "parts")
    return found


def disclosure_discrepancies(
    summary: pd.DataFrame,
    contract_timing: pd.DataFrame,
    waterfall: pd.DataFrame,
    register: pd.DataFrame,
    slices: pd.DataFrame,
    flow: pd.DataFrame,
) -> Found:
    """Every identity above at once (publication's last look before writing)."""
    figures = tuple(c for c in slices.columns if c not in ("period", "dimension", "slice"))
    return (
        contract_row_discrepancies(contract_timing, summary)
        + waterfall_discrepancies(waterfall, summary)
        + disclosed_discrepancies(summary, register, flow)
        + slice_discrepancies(slices, flow, figures)
    )
