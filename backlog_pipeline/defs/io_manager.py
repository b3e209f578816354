"""Stores the computed frames between steps, one file per month, so ranges work.

Dagster's filesystem IO manager cannot take a single-run backfill's range of months;
this one splits a frame by its ``period`` column on the way out and concatenates the
months asked for on the way in. Source snapshots (assets with ``SNAPSHOT`` metadata) are
one file whatever months a run covers: every month is computed from the full history.

Each run writes under ``runs/<run id>/`` and reads its own files first, so two runs that
overlap in months never read each other's half of a computation. Every file is also
linked (not copied) to the shared ``latest`` place, from which a later run that does not
recompute an asset reads it. Run folders older than ``keep_runs_hours`` are removed.
"""

import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from backlog_pipeline import text_codes
from backlog_pipeline.periods import month_label, parse_month

SNAPSHOT = "backlog/full_snapshot"
COLUMNS = "backlog/columns"
OPTIONAL = "backlog/optional_columns"


def columns_in(key: str, columns: Sequence[str], optional: Sequence[str] = ()) -> dg.AssetIn:
    """An input that loads only ``columns`` (and ``optional`` ones where the frame has
    them): fifteen million line ids are not unpacked for a step that never reads them."""
    return dg.AssetIn(key, metadata={COLUMNS: list(columns), OPTIONAL: list(optional)})


def _is_snapshot(context: dg.OutputContext) -> bool:
    return bool((context.definition_metadata or {}).get(SNAPSHOT))


class MonthlyFrameIOManager(dg.ConfigurableIOManager):
    base_dir: str
    keep_runs_hours: float = 48.0

    def _path(
        self, asset_key: dg.AssetKey, partition_key: str | None, run_id: str | None = None
    ) -> Path:
        root = Path(self.base_dir) / "runs" / run_id if run_id else Path(self.base_dir)
        folder = root.joinpath(*asset_key.path)
        if partition_key is None:
            return folder / "all.pkl"
        return folder / f"{month_label(parse_month(partition_key))}.pkl"

    def _store(
        self, context: dg.OutputContext, partition_key: str | None, frame: pd.DataFrame
    ) -> None:
        own = self._path(context.asset_key, partition_key, context.run_id)
        self._write(own, frame)
        shared = self._path(context.asset_key, partition_key)
        shared.parent.mkdir(parents=True, exist_ok=True)
        temporary = shared.with_name(f".{shared.name}.{context.run_id}")
        temporary.unlink(missing_ok=True)
        try:
            os.link(own, temporary)
        except OSError:  # storage without hard links (some network shares)
            shutil.copy2(own, temporary)
        os.replace(temporary, shared)

    def _prune(self) -> None:
        runs = Path(self.base_dir) / "runs"
        if not runs.is_dir():
            return
        cutoff = time.time() - self.keep_runs_hours * 3600
        for folder in runs.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass  # another run pruned it first

    @staticmethod
    def _write(path: Path, frame: pd.DataFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(pack(frame), stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        self._prune()
        if not context.has_asset_partitions or _is_snapshot(context):
            self._store(context, None, obj)
            return
        for key in context.asset_partition_keys:
            month = obj[obj["period"] == parse_month(key)].reset_index(drop=True)
            self._store(context, key, month)

    def _find(self, context: dg.InputContext, partition_key: str | None) -> Path:
        """This run's own file, else the producing (parent) run's, else the latest one.

        A re-execution from failure does not recompute the steps that succeeded; Dagster
        names their run as the upstream output's, so their files are read, not another run's.
        """
        runs = [context.step_context.run_id]
        upstream = context.upstream_output
        if upstream is not None:
            try:
                runs.append(upstream.run_id)
            except dg.DagsterInvariantViolationError:
                pass
        for run_id in runs:
            path = self._path(context.asset_key, partition_key, run_id)
            if path.is_file():
                return path
        return self._path(context.asset_key, partition_key)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        metadata = context.definition_metadata or {}
        columns, optional = metadata.get(COLUMNS), metadata.get(OPTIONAL, ())
        if not context.has_asset_partitions or (
            context.upstream_output is not None and _is_snapshot(context.upstream_output)
        ):
            return self._read(self._find(context, None), columns, optional)
        frames = [
            self._read(self._find(context, key), columns, optional)
            for key in context.asset_partition_keys
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @staticmethod
    def _read(
        path: Path, columns: Sequence[str] | None = None, optional: Sequence[str] = ()
    ) -> pd.DataFrame:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: materialize the upstream asset for this month first"
            )
        with open(path, "rb") as stream:
            return unpack(pickle.load(stream), columns, optional)


# Joins a text column into one string; never inside an id (checked before use).
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class _PackedText:
    """A column of texts as one joined string (with the distinct texts and a code per row
    when they repeat, like contract ids over lines): pickled as a few large objects
    instead of millions of small ones, and read back with one object per distinct text."""

    joined: str
    codes: np.ndarray | None


def _pack_text(values: np.ndarray) -> _PackedText | None:
    if len(values) < 1_000 or infer_dtype(values, skipna=False) != "string":
        return None
    codes, distinct = pd.factorize(values[: min(len(values), 100_000)])
    if len(distinct) <= len(codes) // 2:
        codes, distinct = pd.factorize(values)
    else:  # mostly unique (line ids): no codes
        codes, distinct = None, values
    joined = _SEPARATOR.join(distinct)
    if joined.count(_SEPARATOR) != len(distinct) - 1:
        return None  # a text holds the separator itself: pickled as it is
    return _PackedText(joined, None if codes is None else codes.astype(np.int32))


def _distinct_text(packed: _PackedText) -> np.ndarray:
    return np.array(packed.joined.split(_SEPARATOR), dtype=object)


@dataclass(frozen=True)
class _SameAs:
    """A column whose values are the very array of an earlier column (a one-currency
    company's reporting figures are its local figures): stored and loaded once."""

    name: str


def _shared_with(values: np.ndarray, earlier: dict[str, np.ndarray]) -> str | None:
    for name, other in earlier.items():
        if (
            other.dtype == values.dtype
            and other.shape == values.shape
            and other.__array_interface__["data"] == values.__array_interface__["data"]
            and other.strides == values.strides
        ):
            return name
    return None


def pack(frame: pd.DataFrame) -> dict:
    """A frame in a form that pickles quickly and without a memo of every string in it."""
    if frame.columns.has_duplicates:
        return {"packed_frame": 0, "frame": frame}
    columns: dict[str, object] = {}
    numbers: dict[str, np.ndarray] = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == np.int64:
            values = column.to_numpy()
            same = _shared_with(values, numbers)
            if same is not None:
                columns[name] = _SameAs(same)
                continue
            numbers[name] = values
        packed = _pack_text(column.to_numpy()) if column.dtype == object else None
        columns[name] = column if packed is None else packed
    return {"packed_frame": 1, "index": frame.index, "columns": columns}


def unpack(
    stored: object, columns: Sequence[str] | None = None, optional: Sequence[str] = ()
) -> pd.DataFrame:
    """The frame :func:`pack` packed (or a frame pickled as it is, by earlier versions),
    with only ``columns`` if given, and those of ``optional`` the frame has (another
    column the frame lacks is an error, as in pandas)."""
    if not isinstance(stored, dict) or "packed_frame" not in stored:
        frame = stored
        if columns is None:
            return frame
        return frame[[*columns, *(name for name in optional if name in frame.columns)]]
    if not stored["packed_frame"]:
        frame = stored["frame"]
        if columns is None:
            return frame
        return frame[[*columns, *(name for name in optional if name in frame.columns)]]
    index = stored["index"]
    packed = stored["columns"]
    if columns is not None:
        missing = [name for name in columns if name not in packed]
        if missing:
            raise KeyError(f"stored frame has no column(s) {missing}; it has {list(packed)}")
        wanted = [*columns, *(name for name in optional if name in packed)]
        packed = {name: packed[name] for name in wanted} | {
            value.name: packed[value.name]
            for value in (packed[name] for name in wanted)
            if isinstance(value, _SameAs) and value.name not in wanted
        }
    built, coded = {}, {}
    for name, value in packed.items():
        if isinstance(value, _SameAs):
            continue
        if not isinstance(value, _PackedText):
            built[name] = value
        elif value.codes is None:
            built[name] = pd.Series(_distinct_text(value), index=index, copy=False)
        else:
            distinct = _distinct_text(value)
            built[name] = pd.Series(distinct[value.codes], index=index, copy=False)
            coded[name] = (value.codes, distinct)
    order = list(packed) if columns is None else wanted
    arrays = {
        name: built[packed[name].name] if isinstance(packed[name], _SameAs) else built[name]
        for name in order
    }
    frame = pd.DataFrame(arrays, index=index, copy=False)
    for name, (codes, distinct) in coded.items():
        if name in frame.columns:
            text_codes.remember(frame[name], codes, distinct)
    return frame
