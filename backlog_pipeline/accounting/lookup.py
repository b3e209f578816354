"""Lookups shared by the disclosure's accounting (timing, expedients, ratios, slices), which
read the contracts beside millions of contract rows: each row's contract (found once, as a
position), each row's month among the months asked for, the months of dates, and the slots
of integer group keys.

Finding 13 million rows' contracts means hashing 13 million ids; :class:`RowContracts` does
it once, and every function here that reads contracts beside rows accepts one in place of
the contracts table. Duplicate contract ids are a data error reported elsewhere
(``data_errors``); here the first row of an id stands for it, as in the phantom-backlog check.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class RowContracts:
    """The contracts (one row per id, indexed by ``contract_id``) and the position among them
    of each row of one frame of contract rows."""

    table: pd.DataFrame
    positions: np.ndarray

    @classmethod
    def of(cls, contract_rows: pd.DataFrame, contracts: pd.DataFrame) -> RowContracts:
        table = unique_contracts(contracts)
        return cls(table, row_positions(contract_rows, table.index))


def row_contracts(
    contract_rows: pd.DataFrame, contracts: pd.DataFrame | RowContracts
) -> RowContracts:
    """``contracts`` as a :class:`RowContracts` of these rows (found now if it is a table)."""
    if not isinstance(contracts, RowContracts):
        return RowContracts.of(contract_rows, contracts)
    if len(contracts.positions) != len(contract_rows):
        raise ValueError("the RowContracts given were found for other contract rows")
    return contracts


def positions(index: pd.Index, values: pd.Series) -> np.ndarray:
    """``index.get_indexer(values)`` (``index`` unique; -1 where absent). A ``Categorical``
    column (ids as staging loads them for lookups) is looked up through its distinct
    values: fifteen million lines naming a million contracts cost a million lookups."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        found = np.append(index.get_indexer(values.cat.categories), -1)
        return found[values.cat.codes.to_numpy()]  # code -1 (missing) picks the -1
    return index.get_indexer(values)


def row_positions(rows: pd.DataFrame, known: pd.Index, what: str = "contract rows") -> np.ndarray:
    """The position in ``known`` of each row's ``contract_id``; an unknown id is an error
    (contract rows come from the contracts, so one would mean mismatched inputs)."""
    positions = known.get_indexer(rows["contract_id"].to_numpy())
    missing = np.flatnonzero(positions < 0)
    if len(missing):
        row = rows.iloc[missing[0]]
        period = f" ({month_label(int(row['period']))})" if "period" in rows.columns else ""
        raise UnknownContractError(
            f"{what}: {len(missing)} row(s) name a contract that is not in the contracts "
            f"table, the first {row['contract_id']!r}{period}"
        )
    return positions.astype(np.int64)


def month_slots(
    period: np.ndarray, months: list[int] | None, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """The months asked for (default: those of ``period``), sorted, and each row's position
    among them; a row in a month not asked for is an error."""
    if months is not None:
        month_array = np.unique(np.asarray(months, dtype=np.int64))
    elif len(period):
        first = int(period.min())
        month_array = np.flatnonzero(np.bincount(period - first)) + first
    else:
        month_array = np.zeros(0, dtype=np.int64)
    position = np.searchsorted(month_array, period)
    inside = position.clip(max=max(len(month_array) - 1, 0))
    outside = len(period) and (position.max() >= len(month_array))
    if outside or (len(period) and (month_array[inside] != period).any()):
        raise ValueError(f"{what}: contract rows fall in months that were not asked for")
    return month_array, position


def group_slots(keys: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys (in ``0..key_space``) in order, and each key's slot among them:
    by a presence table when the key space is small, else by sorting."""
    if key_space <= max(4 * len(keys), 1 << 22):
        used = np.bincount(keys, minlength=key_space) > 0
        return np.flatnonzero(used), (np.cumsum(used) - 1)[keys]
    return np.unique(keys, return_inverse=True)


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
    """Codes and distinct texts (sorted) of an optional text column; missing or blank is
    ``missing``. The texts are looked at once each, not once per row."""
    codes, distinct = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    labels = [text if isinstance(text, str) and text.strip() else missing for text in distinct]
    final, names = pd.factorize(np.array([*labels, missing], dtype=object), sort=True)
    return final[codes].astype(np.int64), np.asarray(names, dtype=object)
