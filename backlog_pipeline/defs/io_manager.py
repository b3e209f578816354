"""Stores the computed frames between steps, one file per month, so ranges work.

Dagster's filesystem IO manager cannot take a single-run backfill's range of months;
this one splits a frame by its ``period`` column on the way out and concatenates the
months asked for on the way in. Source snapshots (assets with ``SNAPSHOT`` metadata) are
one file whatever months a run covers: every month is computed from the full history.
"""

import os
import pickle
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd

from backlog_pipeline.periods import month_label, parse_month

SNAPSHOT = "backlog/full_snapshot"


def _is_snapshot(context: dg.OutputContext) -> bool:
    return bool((context.definition_metadata or {}).get(SNAPSHOT))


class MonthlyFrameIOManager(dg.ConfigurableIOManager):
    base_dir: str

    def _path(self, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
        folder = Path(self.base_dir).joinpath(*asset_key.path)
        if partition_key is None:
            return folder / "all.pkl"
        return folder / f"{month_label(parse_month(partition_key))}.pkl"

    @staticmethod
    def _write(path: Path, frame: pd.DataFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(frame, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        if not context.has_asset_partitions or _is_snapshot(context):
            self._write(self._path(context.asset_key, None), obj)
            return
        for key in context.asset_partition_keys:
            month = obj[obj["period"] == parse_month(key)].reset_index(drop=True)
            self._write(self._path(context.asset_key, key), month)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        if not context.has_asset_partitions or (
            context.upstream_output is not None and _is_snapshot(context.upstream_output)
        ):
            return self._read(self._path(context.asset_key, None))
        frames = [
            self._read(self._path(context.asset_key, key)) for key in context.asset_partition_keys
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @staticmethod
    def _read(path: Path) -> pd.DataFrame:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: materialize the upstream asset for this month first"
            )
        with open(path, "rb") as stream:
            return pickle.load(stream)
