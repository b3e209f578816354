"""Stores the computed frames between steps as Parquet, one file per month, so ranges work.

Built on Dagster's ``UPathIOManager``: ``base_dir`` is a local folder or any fsspec URL
(``s3://bucket/staging``, ``gs://…``), so steps on several machines share staging.
Dagster's own handling cannot take a single-run backfill's range of months on the way
out; this one splits a frame by its ``period`` column and writes each month's file, and
on the way in reads the months asked for, only the columns the step declares
(:func:`columns_in`), as one table. Source snapshots (assets with ``SNAPSHOT`` metadata)
are one file whatever months a run covers: every month is computed from the full history.
How frames become files: :mod:`backlog_pipeline.staging_frames`.

Each run writes under ``runs/<run id>/`` and reads its own files first, so two runs that
overlap in months never read each other's half of a computation. Every file is also
linked (on object storage: copied) to the shared ``latest`` place, from which a later run
that does not recompute an asset reads it. Local run folders older than
``keep_runs_hours`` are removed (on object storage, leave that to a lifecycle rule).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
from upath import UPath

from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.staging_frames import concat_tables, from_table, read_table, write_frame

SNAPSHOT = "backlog/full_snapshot"
COLUMNS = "backlog/columns"
OPTIONAL = "backlog/optional_columns"
CATEGORIES = "backlog/categories"


def columns_in(
    key: str, columns: Sequence[str], optional: Sequence[str] = (), categories: Sequence[str] = ()
) -> dg.AssetIn:
    """An input that loads only ``columns`` (and ``optional`` ones where the frame has
    them): fifteen million line ids are not read for a step that never uses them.
    ``categories`` are id columns the step looks up: loaded as ``Categorical``, so a
    lookup goes through their distinct values (``accounting.lookup.positions``)."""
    return dg.AssetIn(
        key,
        metadata={COLUMNS: list(columns), OPTIONAL: list(optional), CATEGORIES: list(categories)},
    )


def _is_snapshot(context: dg.OutputContext) -> bool:
    return bool((context.definition_metadata or {}).get(SNAPSHOT))


def _is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


class ParquetFrameIOManager(dg.UPathIOManager):
    """Frames as ``<asset>/<YYYY-MM>.parquet`` (``all.parquet`` for snapshots)."""

    extension = ".parquet"

    def __init__(self, base_path: UPath, keep_runs_hours: float = 48.0) -> None:
        super().__init__(base_path=base_path)
        self.keep_runs_hours = keep_runs_hours

    def get_path_for_partition(
        self, context: dg.InputContext | dg.OutputContext, path: UPath, partition: str
    ) -> UPath:
        return path / month_label(parse_month(partition))

    def _relative(self, path: UPath) -> str:
        return str(path)[len(str(self._base_path)) :].lstrip("/")

    def run_path(self, path: UPath, run_id: str) -> UPath:
        """Where run ``run_id`` keeps its own copy of the shared file at ``path``."""
        return self._base_path / "runs" / run_id / self._relative(path)

    def _snapshot_path(self, context: dg.InputContext | dg.OutputContext) -> UPath:
        return self._with_extension(self._get_path_without_extension(context) / "all")

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        """This run's file, then the shared one (a link where the storage has them)."""
        own = self.run_path(path, context.run_id)
        self.write(own, obj)
        if not _is_local(path):
            own.fs.copy(own.path, path.path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{context.run_id}")
        temporary.unlink(missing_ok=True)
        try:
            os.link(own, temporary)
        except OSError:  # storage without hard links (some network shares)
            shutil.copy2(own, temporary)
        os.replace(temporary, path)

    @staticmethod
    def write(path: UPath, frame: pd.DataFrame) -> None:
        """The frame at ``path``, whole or not at all (a local file is renamed into place)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _is_local(path):
            with path.open("wb") as stream:
                write_frame(frame, stream)
            return
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                write_frame(frame, stream)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        self.prune()
        if not context.has_asset_partitions:
            self.dump_to_path(context, obj, self._get_path(context))
        elif _is_snapshot(context):
            self.dump_to_path(context, obj, self._snapshot_path(context))
        else:
            paths = self._get_paths_for_partitions(context)
            periods = obj["period"]
            for key in context.asset_partition_keys:
                month = obj[periods == parse_month(key)].reset_index(drop=True)
                self.dump_to_path(context, month, paths[key])
        context.add_output_metadata({"path": dg.MetadataValue.path(str(self._base_path))})

    def prune(self) -> None:
        runs = self._base_path / "runs"
        if not _is_local(runs) or not runs.is_dir():
            return
        cutoff = time.time() - self.keep_runs_hours * 3600
        for folder in runs.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass  # another run pruned it first

    def find(self, context: dg.InputContext, path: UPath) -> UPath:
        """This run's own file, else the producing (parent) run's, else the latest one.

        A re-execution from failure does not recompute the steps that succeeded; Dagster
        names their run as the upstream output's, so their files are read, not another run's.
        """
        runs = []
        for run_of in (lambda: context.step_context.run_id, lambda: context.upstream_output.run_id):
            try:
                runs.append(run_of())
            except (dg.DagsterInvariantViolationError, AttributeError):
                pass  # built outside a run (tests), or no upstream output
        for run_id in runs:
            own = self.run_path(path, run_id)
            if own.is_file():
                return own
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: materialize the upstream asset for this month first"
            )
        return path

    def _table(self, context: dg.InputContext, path: UPath) -> pa.Table:
        metadata = context.definition_metadata or {}
        with self.find(context, path).open("rb") as stream:
            return read_table(stream, metadata.get(COLUMNS), metadata.get(OPTIONAL, ()))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        return self._frame(context, [self._table(context, path)])

    def _frame(self, context: dg.InputContext, tables: list[pa.Table]) -> pd.DataFrame:
        metadata = context.definition_metadata or {}
        frame = from_table(
            concat_tables(tables),
            metadata.get(COLUMNS),
            metadata.get(OPTIONAL, ()),
            metadata.get(CATEGORIES, ()),
        )
        if len(tables) > 1:  # each month's file keeps its own 0..n index: renumbered
            frame.index = pd.RangeIndex(len(frame))  # in place: ``set_axis`` copied every column
        return frame

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        if not context.has_asset_partitions:
            return self.load_from_path(context, self._get_path(context))
        if context.upstream_output is not None and _is_snapshot(context.upstream_output):
            return self.load_from_path(context, self._snapshot_path(context))
        paths = self._get_paths_for_partitions(context)
        keys = context.asset_partition_keys
        if not keys:
            return pd.DataFrame()
        return self._frame(context, [self._table(context, paths[key]) for key in keys])


class MonthlyFrameIOManager(dg.ConfigurableIOManagerFactory):
    """The staging of frames between steps: a local folder or an fsspec URL."""

    base_dir: str
    keep_runs_hours: float = 48.0

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetFrameIOManager:
        return ParquetFrameIOManager(UPath(self.base_dir), self.keep_runs_hours)
