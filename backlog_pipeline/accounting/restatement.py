"""What a restatement changes: recomputed figures against the published ones, line by line."""

from __future__ import annotations

import pandas as pd

from backlog_pipeline.accounting.data_errors import EXCEPTION_COLUMNS
from backlog_pipeline.accounting.reconcile import Discrepancy
from backlog_pipeline.accounting.rollforward import REPORTING_COLUMNS
from backlog_pipeline.money import format_cents
from backlog_pipeline.periods import month_label


def _compared(recomputed: pd.DataFrame, published: pd.DataFrame) -> list[str]:
    """The reporting figures both sides have (a warehouse published before currencies has
    no ``fx_revaluation``). A change only to a contract's local figures or to a rate that
    moves no reporting figure shows as its month's "contract rows or rates only" line."""
    return [c for c in REPORTING_COLUMNS if c in recomputed.columns and c in published.columns]


def _signed(cents: int) -> str:
    return ("+" if cents > 0 else "") + format_cents(cents)


def flow_differences(recomputed: pd.DataFrame, published: pd.DataFrame) -> list[Discrepancy]:
    """Each flow figure of each month that the recomputation would change."""
    before = published.set_index("period")
    columns = _compared(recomputed, published)
    found = []
    for row in recomputed.itertuples(index=False):
        period = int(row.period)
        if period not in before.index:
            continue
        for column in columns:
            old, new = int(before.at[period, column]), int(getattr(row, column))
            if old != new:
                found.append(
                    {
                        "period": month_label(period),
                        "figure": column,
                        "published": format_cents(old),
                        "recomputed": format_cents(new),
                        "difference": _signed(new - old),
                    }
                )
    return found


def contract_differences(recomputed: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Each (contract, month, figure) that changes, as exception rows (amount = difference).

    A contract present on one side only counts as zeros on the other.
    """
    keys = ["period", "contract_id"]
    columns = _compared(recomputed, published)
    merged = recomputed[[*keys, *columns]].merge(
        published[[*keys, *columns]], on=keys, how="outer", suffixes=("", "_published")
    )
    parts = []
    for column in columns:
        new = merged[column].fillna(0).astype("int64")
        old = merged[f"{column}_published"].fillna(0).astype("int64")
        changed = merged[new != old]
        if changed.empty:
            continue
        difference = (new - old)[changed.index]
        parts.append(
            pd.DataFrame(
                {
                    "period": changed["period"].astype("int64"),
                    "source": "contract_backlog",
                    "record_id": changed["contract_id"].astype(str),
                    "contract_id": changed["contract_id"].astype(str),
                    "amount": difference,
                    "reason": [
                        f"{column}: published {format_cents(int(o))}, recomputed "
                        f"{format_cents(int(n))} ({_signed(int(d))})"
                        for o, n, d in zip(
                            old[changed.index], new[changed.index], difference, strict=True
                        )
                    ],
                }
            )
        )
    if not parts:
        return pd.DataFrame({column: [] for column in EXCEPTION_COLUMNS}).astype(
            {"period": "Int64", "amount": "Int64"}
        )
    found = pd.concat(parts, ignore_index=True)
    found["period"] = found["period"].astype("Int64")
    found["amount"] = found["amount"].astype("Int64")
    return found.sort_values(["period", "contract_id"], kind="stable").reset_index(drop=True)[
        list(EXCEPTION_COLUMNS)
    ]
