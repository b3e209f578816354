"""The company's plans, read for the RPO disclosure: the ERP's revenue plan (a table of the
ERP database, ``contract_id, period, amount``: revenue scheduled and not yet recognized, in
the contract's currency) and a revenue budget (a CSV file, ``month, amount`` in the
reporting currency).

Unlike contract lines, a bad plan or budget row is never quarantined: a schedule read with a
line missing would time the backlog wrongly without a sign. The whole table is refused,
naming each bad row (the line in the file or the row of the result, header on line 1), and
the close stops before anything is published.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backlog_pipeline.sources.parsing import parse_amounts, parse_months, parse_text
from backlog_pipeline.sources.small_tables import TableUnreadable, read_small_table

PLAN_COLUMNS = ("contract_id", "period", "amount")
BUDGET_COLUMNS = ("month", "amount")
_SHOWN = 20


class PlanningError(ValueError):
    """A plan or budget that cannot be used; ``problems`` lists each bad row."""

    def __init__(self, source: str, problems: list[dict[str, object]]) -> None:
        lines = [f"row {p['row_number']}: {p['field']}: {p['reason']}" for p in problems[:_SHOWN]]
        more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        super().__init__(f"{source}: refused: " + "; ".join(lines) + more)
        self.problems = problems


def empty_plan() -> pd.DataFrame:
    return pd.DataFrame({"contract_id": pd.Series(dtype=object)}).assign(
        period=pd.Series(dtype="int64"), amount=pd.Series(dtype="int64")
    )


def empty_budget() -> pd.DataFrame:
    return pd.DataFrame({"month": pd.Series(dtype="int64"), "amount": pd.Series(dtype="int64")})


def _parsed(raw: pd.DataFrame, source: str, columns: tuple[str, ...]) -> dict[str, pd.Series]:
    """The columns parsed (ids as text, months as indices, amounts in cents), or the error."""
    missing = [column for column in columns if column not in raw.columns]
    if missing:
        problems = [{"row_number": 1, "field": c, "reason": "column is missing"} for c in missing]
        raise PlanningError(source, problems)
    values, problems = {}, []
    for column in columns:
        if column == "amount":
            values[column], reasons = parse_amounts(raw[column])
        elif column in ("period", "month"):
            values[column], reasons = parse_months(raw[column])
            reasons = reasons.str.replace("period", column, n=1)
        else:
            values[column] = parse_text(raw[column])
            reasons = pd.Series(None, index=raw.index, dtype=object)
            reasons[values[column].isna()] = f"{column} is missing"
        for position in reasons.notna().to_numpy().nonzero()[0].tolist():
            problems.append(
                {"row_number": position + 2, "field": column, "reason": reasons.iat[position]}
            )
    if problems:
        raise PlanningError(source, sorted(problems, key=lambda p: p["row_number"]))
    return values


def parse_plan(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """The canonical plan: ``contract_id`` (text), ``period`` (month index), ``amount``
    (cents), or :class:`PlanningError` naming every bad row."""
    if raw.empty and not len(raw.columns):
        return empty_plan()
    values = _parsed(raw, source, PLAN_COLUMNS)
    return pd.DataFrame(
        {
            "contract_id": values["contract_id"].astype(object),
            "period": values["period"].astype("int64"),
            "amount": values["amount"].astype("int64"),
        }
    ).reset_index(drop=True)


def parse_budget(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """The canonical budget: ``month`` (index), ``amount`` (cents); several rows of a month
    add up. :class:`PlanningError` names every bad row."""
    values = _parsed(raw, source, BUDGET_COLUMNS)
    return pd.DataFrame(
        {"month": values["month"].astype("int64"), "amount": values["amount"].astype("int64")}
    ).reset_index(drop=True)


def read_plan_table(url: str, table: str, source: str) -> pd.DataFrame:
    """:func:`parse_plan` over ``table`` (``name`` or ``schema.name``) of the ERP database,
    through SQLAlchemy as a quoted identifier; values keep the driver's types."""
    try:
        raw = read_small_table(url, table, tuple(PLAN_COLUMNS))
    except TableUnreadable as error:
        reason = f"cannot be read: {error}"
        raise PlanningError(
            source, [{"row_number": 1, "field": "table", "reason": reason}]
        ) from None
    return parse_plan(raw, source)


def read_budget_csv(path: Path) -> pd.DataFrame:
    """:func:`parse_budget` over a CSV file read as text."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    return parse_budget(raw, f"revenue budget {path}")
