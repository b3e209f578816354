"""Frames as Parquet between steps: exact, compact, and read only as far as a step needs.

Every column comes back as it went in: integer cents as int64, months as int64, nullable
integers as ``Int64``, timestamps to the nanosecond with their zone, categories, texts
with their nulls, and ``Decimal`` values as the very decimals (kept as their text, so
``1.50`` stays ``1.50``); ``frame.attrs`` (provenance, missing-field reasons) travel in the
file's metadata. A text column that repeats (contract ids over recognition lines) is
stored dictionary-encoded, and read back with one Python object per distinct text, or as
a ``Categorical`` (its codes kept) for a step that looks its values up: fifteen million
lines then cost a lookup of the million distinct ids (``accounting.lookup.positions``). An
int64 column equal to an earlier one (a one-currency company's reporting figures are its
local figures) is stored once and loaded as the same array.

Plain pyarrow and pandas, no Dagster: ``defs.io_manager`` puts these files in place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import infer_dtype

_META = b"backlog_pipeline"
# One row group and one dictionary page per column: a dictionary that overflows its page
# makes Parquet fall back to plain values, which a reader would have to hash again.
_ONE_GROUP = 1 << 40
_DICTIONARY_PAGE = 1 << 30
_CODED_MIN_ROWS = 1_000


def _coded(column: pd.Series) -> bool:
    """Worth a dictionary: a text column whose values repeat (at most half distinct)."""
    if len(column) < _CODED_MIN_ROWS:
        return False
    sample = column.iloc[: min(len(column), 100_000)]
    return sample.nunique(dropna=True) <= len(sample) // 2


def _same_as(frame: pd.DataFrame, name: str, kept: dict[str, np.ndarray]) -> str | None:
    values = frame[name].to_numpy()
    for other, earlier in kept.items():
        if np.shares_memory(values, earlier) and np.array_equal(values, earlier):
            return other
    kept[name] = values
    return None


def to_table(frame: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table carrying what :func:`from_table` needs to rebuild it."""
    if frame.columns.has_duplicates:
        raise ValueError(f"cannot stage a frame with duplicate columns: {list(frame.columns)}")
    names = [str(name) for name in frame.columns]
    if names != list(frame.columns):
        raise ValueError(f"staged frames have text column names, not {list(frame.columns)}")
    meta: dict[str, Any] = {
        "order": names,
        "decimal": [],
        "coded": [],
        "same_as": {},
        "times": {},
        "categories": {},
        "attrs": frame.attrs,
    }
    kept: dict[str, np.ndarray] = {}
    stored = {}
    for name in names:
        column = frame[name]
        if column.dtype == np.int64:
            same = _same_as(frame, name, kept)
            if same is not None:
                meta["same_as"][name] = same
                continue
        if isinstance(column.dtype, (np.dtypes.DateTime64DType, pd.DatetimeTZDtype)):
            meta["times"][name] = str(column.dtype)  # Parquet has no seconds unit
        if isinstance(column.dtype, pd.CategoricalDtype):  # unused categories too
            meta["categories"][name] = [column.cat.categories.tolist(), column.cat.ordered]
        if column.dtype == object:
            kind = infer_dtype(column, skipna=True)
            if kind == "decimal":
                meta["decimal"].append(name)
                column = column.map(lambda v: None if v is None or v != v else str(v))
            elif kind == "string" and _coded(column):
                meta["coded"].append(name)
        stored[name] = column
    table = pa.Table.from_pandas(pd.DataFrame(stored, index=frame.index, copy=False))
    for name in meta["coded"]:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, table.column(name).dictionary_encode())
    try:
        encoded = json.dumps(meta).encode()
    except TypeError as error:
        raise TypeError(f"frame.attrs must be JSON values to be staged: {error}") from error
    return table.replace_schema_metadata({**(table.schema.metadata or {}), _META: encoded})


def write_frame(frame: pd.DataFrame, sink: str | BinaryIO) -> None:
    """Write ``frame`` as one Parquet file (zstd, one row group)."""
    pq.write_table(
        to_table(frame),
        sink,
        compression="zstd",
        row_group_size=_ONE_GROUP,
        dictionary_pagesize_limit=_DICTIONARY_PAGE,
    )


def _wanted(
    schema: pa.Schema, meta: dict, columns: Sequence[str] | None, optional: Sequence[str]
) -> list[str] | None:
    """The stored columns to read for ``columns`` (and ``optional`` ones present)."""
    if columns is None:
        return None
    present = set(schema.names) | set(meta["same_as"])
    missing = [name for name in columns if name not in present]
    if missing:
        raise KeyError(f"stored frame has no column(s) {missing}; it has {sorted(present)}")
    wanted = [*columns, *(name for name in optional if name in present)]
    return list(dict.fromkeys(meta["same_as"].get(name, name) for name in wanted))


def read_table(
    source: str | BinaryIO, columns: Sequence[str] | None = None, optional: Sequence[str] = ()
) -> pa.Table:
    """The stored table, with only the columns asked for (the index comes along)."""
    schema = pq.read_schema(source)
    meta = json.loads(schema.metadata[_META])
    wanted = _wanted(schema, meta, columns, optional)
    if hasattr(source, "seek"):
        source.seek(0)
    table = pq.read_table(source, columns=wanted)
    return table.replace_schema_metadata(schema.metadata)


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """Months' tables as one: a column coded in one month and plain in another (too few
    rows to code) is plain; a column with no values in a month takes the others' type."""
    if len(tables) == 1:
        return tables[0]
    meta = tables[0].schema.metadata
    names = tables[0].column_names
    plain = {
        name
        for name in names
        if len({pa.types.is_dictionary(table.schema.field(name).type) for table in tables}) > 1
    }
    tables = [_decode_columns(table, plain) for table in tables]
    joined = pa.concat_tables(tables, promote_options="permissive")
    return joined.replace_schema_metadata(meta)


def _decode_columns(table: pa.Table, names: set[str]) -> pa.Table:
    for name in names:
        field = table.schema.field(name)
        if pa.types.is_dictionary(field.type):
            at = table.schema.get_field_index(name)
            table = table.set_column(at, name, table.column(name).cast(field.type.value_type))
    return table


def _decoded(column: pa.ChunkedArray, as_category: bool) -> pd.Series | np.ndarray:
    """A dictionary column as a Categorical, or as texts with one object per distinct text."""
    if column.num_chunks != 1:
        column = column.unify_dictionaries()
    chunks = column.chunks or [pa.array([], pa.dictionary(pa.int32(), pa.string()))]
    distinct = chunks[0].dictionary.to_numpy(zero_copy_only=False)
    codes = np.concatenate(
        [chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False) for chunk in chunks]
    ).astype(np.int32, copy=False)
    if as_category:
        return pd.Categorical.from_codes(codes, categories=pd.Index(distinct))
    texts = np.append(distinct.astype(object), None)
    return texts[codes]  # code -1 picks the None at the end


def from_table(
    table: pa.Table,
    columns: Sequence[str] | None = None,
    optional: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> pd.DataFrame:
    """The frame :func:`to_table` stored; ``categories`` names coded columns to load as
    ``Categorical``. Only ``columns`` (and ``optional`` ones present) when given."""
    meta = json.loads(table.schema.metadata[_META])
    coded = [
        name for name in table.column_names if pa.types.is_dictionary(table.schema.field(name).type)
    ]
    plain = table.drop_columns(coded) if coded else table
    part = plain.to_pandas(split_blocks=True)
    arrays: dict[str, Any] = {name: part[name] for name in part.columns}
    for name in coded:
        as_category = name in categories or name in meta["categories"]
        arrays[name] = _decoded(table.column(name), as_category)
    for name, dtype in meta["times"].items():
        if name in arrays and str(arrays[name].dtype) != dtype:
            arrays[name] = arrays[name].astype(dtype)
    for name, (values, ordered) in meta["categories"].items():
        if name in arrays:
            arrays[name] = pd.Categorical(arrays[name]).set_categories(values, ordered=ordered)
    for name in meta["decimal"]:
        if name in arrays:
            arrays[name] = arrays[name].map(lambda v: None if v is None else Decimal(v))
    if columns is None:
        wanted = list(meta["order"])
    else:
        present = set(arrays) | set(meta["same_as"])
        wanted = [*columns, *(name for name in optional if name in present)]
    built = {name: _array(arrays[meta["same_as"].get(name, name)]) for name in wanted}
    frame = pd.DataFrame(built, index=part.index, copy=False)
    frame.attrs = dict(meta["attrs"])
    return frame


def _array(values: pd.Series | np.ndarray | pd.Categorical) -> object:
    """int64 figures as their numpy array, so two columns stored once share it."""
    if isinstance(values, pd.Series) and values.dtype == np.int64:
        return values.to_numpy(copy=False)
    return values
