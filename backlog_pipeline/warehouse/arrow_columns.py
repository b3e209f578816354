"""Columns of a frame as Arrow arrays fit for a warehouse table's bulk routes (ADBC ingest,
``COPY`` in CSV): money from integer cents to its exact two-decimal text, in Arrow's
kernels, never through a float; ids, texts and integers as they are; booleans as 1 and 0
(what SQLAlchemy writes on SQLite, and a boolean PostgreSQL reads)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from backlog_pipeline.money import MAX_ABS_CENTS, format_cents
from backlog_pipeline.warehouse.schema import TwoDecimals

_PLAIN = (sa.String, sa.Integer)  # written as the values are: no bind processor


def cents_text(cents: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """``12218.75`` text of integer cents (``-0.05`` for -5), null where ``null``: exact,
    the same text as ``money.cents_text``.

    The cents are the unscaled value of a DECIMAL(18,2) (its 128-bit integer: the cents
    and their sign extended, no arithmetic), which Arrow's cast writes as that text in one
    C++ pass: no float, no per-value Python.
    """
    cents = np.asarray(cents, dtype=np.int64)
    wide = np.empty((len(cents), 2), dtype=np.int64)  # int128 in the machine's order
    low, high = (0, 1) if sys.byteorder == "little" else (1, 0)
    wide[:, low] = cents
    wide[:, high] = cents >> 63
    valid = None if null is None else pa.array(~np.asarray(null, dtype=bool)).buffers()[1]
    decimals = pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [valid, pa.py_buffer(wide)])
    return pc.cast(decimals, pa.string())


def arrow_column(table: sa.Table, name: str, column: pd.Series) -> pa.Array | None:
    """The column as SQLite should receive it, or None if this route does not know its type."""
    kind = table.c[name].type
    null = None if column.dtype == np.int64 else column.isna().to_numpy()
    if null is not None and not null.any():
        null = None
    if isinstance(kind, TwoDecimals):
        cents = (
            column.to_numpy(dtype=np.int64)
            if null is None
            else column.fillna(0).to_numpy(dtype=np.int64)
        )
        beyond = np.flatnonzero(np.abs(cents) > MAX_ABS_CENTS)
        if null is not None:
            beyond = beyond[~null[beyond]]
        if len(beyond):
            value = format_cents(int(cents[beyond[0]]))
            raise ValueError(f"{table.name}.{name}: {value} does not fit NUMERIC(18,2)")
        return cents_text(cents, null)
    if isinstance(kind, sa.Boolean) and column.dtype == bool:
        return pa.array(column.to_numpy().astype(np.int64))  # 1 and 0, as SQLAlchemy writes
    if isinstance(kind, sa.types.TypeDecorator) or not isinstance(kind, _PLAIN):
        return None
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    if isinstance(kind, sa.Integer):
        return pa.array(column, type=pa.int64(), from_pandas=True)
    if column.dtype != object:
        return None
    return pa.array(column.to_numpy(), type=pa.string(), from_pandas=True)
