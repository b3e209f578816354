"""Lookups shared by the disclosure's accounting (timing, expedients, ratios, slices), which
read the contracts beside millions of contract rows: each row's contract (found once, as a
position), each row's month among the months asked for, and the months of dates.

Duplicate contract ids are a data error reported elsewhere
(``data_errors``); here the first row of an id stands for it, as in the phantom-backlog check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backlog_pipeline.periods import month_index, month_label


class UnknownContractError(ValueError):
    """A contract row or record naming a contract that is not in the contracts table."""


def unique_contracts(contracts: pd.DataFrame) -> pd.DataFrame:
    """The contracts, one row per id (the first), indexed by ``contract_id``."""
    if "contract_id" not in contracts.columns:
        raise ValueError("contracts: the column contract_id is missing")
    return contracts.drop_duplicates("contract_id").set_index("contract_id", drop=False)


def row_positions(rows: pd.DataFrame, known: pd.Index, what: str = "contract rows") -> np.ndarray:
    """The position in ``known`` of each row's ``contract_id``; an unknown id is an error
    (contract rows come from the contracts, so one would mean mismatched inputs)."""
    positions = known.get_indexer(rows["contract_id"].to_numpy())
    missing = np.flatnonzero(positions < 0)
    if len(missing):
        first = missing[0]
        row = rows.iloc[first]
        period = f" ({month_label(int(row['period']))})" if "period" in rows.columns else ""
        raise UnknownContractError(
            f"{what}: {len(missing)} row(s) name a contract that is not in the contracts "
            f"table, the first {row['contract_id']!r}{period}"
        )
    return positions


def datetimes(values: pd.Series) -> pd.Series:
    """A date column as ``datetime64`` (NaT where missing), whatever it arrived as."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    return pd.to_datetime(values, errors="raise")


def months_of(dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The month index of each date (0 where missing) and where the date is known."""
    dates = datetimes(dates)
    known = dates.notna().to_numpy()
    years = dates.dt.year.to_numpy(dtype=np.int64, na_value=0)
    months = dates.dt.month.to_numpy(dtype=np.int64, na_value=1)
    return np.where(known, month_index(years, months), 0), known


def text_codes(values: pd.Series, missing: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct texts of an optional text column; missing or blank is ``missing``."""
    text = values.astype("string")
    text = text.mask(text.str.strip() == "").fillna(missing)
    codes, distinct = pd.factorize(text.to_numpy(dtype=object), sort=True)
    return codes.astype(np.int64), np.asarray(distinct, dtype=object)


def month_slots(
    period: np.ndarray, months: list[int] | None, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """The months asked for (default: those of ``period``), sorted, and each row's position
    among them; a row in a month not asked for is an error."""
    month_array = np.asarray(sorted(set(period.tolist()) if months is None else months), np.int64)
    position = np.searchsorted(month_array, period)
    inside = position.clip(max=max(len(month_array) - 1, 0))
    if len(period) and (
        position.max() >= len(month_array) or (month_array[inside] != period).any()
    ):
        raise ValueError(f"{what}: contract rows fall in months that were not asked for")
    return month_array, position
