"""Remembered codes of repeated text columns: fifteen million lines name a million
contracts, so a lookup of their contract ids is a lookup of the million distinct ids.

The staged frames store such columns as distinct texts and a code per row (see
``defs.io_manager``); :func:`remember` keeps those codes for the column's array while that
very array is alive, and :func:`positions` uses them only for that array. Any other array,
a filtered copy included, is looked up value by value as before.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd

_remembered: dict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] = {}


def remember(column: pd.Series, codes: np.ndarray, distinct: np.ndarray) -> None:
    """``column`` holds ``distinct[codes]``; remember it for as long as its array lives."""
    array = column.to_numpy()
    if len(codes) != len(array):
        return
    key = id(array)

    def forget(reference: weakref.ref) -> None:
        entry = _remembered.get(key)
        if entry is not None and entry[0] is reference:
            del _remembered[key]

    _remembered[key] = (weakref.ref(array, forget), codes, distinct)


def positions(index: pd.Index, values: pd.Series) -> np.ndarray:
    """``index.get_indexer(values)`` (``index`` unique), through the distinct values when
    the codes of exactly this array are remembered."""
    array = values.to_numpy()
    entry = _remembered.get(id(array))
    if entry is not None and entry[0]() is array and len(entry[1]) == len(array):
        _, codes, distinct = entry
        return index.get_indexer(distinct)[codes]
    return index.get_indexer(values)
