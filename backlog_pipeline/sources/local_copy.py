"""Incremental pulls: a local copy per source, its high-water mark, and merging by id.

The copy holds the source's records as fetched (all text, one row per record id), not the
canonical rows: a record that changes state (a deal leaving "won") is replaced whole, so
whatever is derived from it is derived again. The copy and its high-water mark are one
pickle file, replaced by an atomic rename only after a pull has fetched everything, so a
pull that fails half-way leaves the previous copy exactly as it was. A copy is tied to the
system it came from (instance, account, portal): pointed at another, the next pull is a full
one, so a sandbox's records never mix with production's.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from backlog_pipeline.sources.http import Log

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Batch:
    """What one fetch returned: text records and the latest modification time among them."""

    records: pd.DataFrame
    high_water_mark: str | None


@dataclass(frozen=True)
class PullResult:
    records: pd.DataFrame  # the whole local copy after the merge
    high_water_mark: str | None
    since: str | None  # what was asked for: None is a full pull
    fetched: int
    total: int


def pull_time() -> str:
    """When a fetch started, to name where its records came from (``@page``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_times(values: pd.Series) -> pd.Series:
    """Timestamps (ISO 8601 with any offset, or epoch milliseconds) as UTC datetimes."""
    text = values.astype("string").str.strip()
    epoch = text.str.fullmatch(r"\d{10,13}").fillna(False).astype(bool)
    parsed = pd.to_datetime(text.where(~epoch), format="ISO8601", errors="coerce", utc=True)
    if epoch.any():
        parsed[epoch] = pd.to_datetime(text[epoch].astype("int64"), unit="ms", utc=True)
    return parsed


def _iso(parsed: pd.Series) -> pd.Series:
    return (parsed.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z").where(parsed.notna())


def iso_utc(values: pd.Series) -> pd.Series:
    """Timestamps (ISO 8601 with any offset, or epoch milliseconds) as UTC ISO text.

    One fixed format (``2024-01-10T12:00:00.000Z``) so marks compare as text; values that
    are neither come out missing.
    """
    return _iso(_utc_times(values))


def latest(values: pd.Series) -> str | None:
    """The high-water mark of a column of modification times, or None if none is readable.

    The latest time is found first and only it is formatted: a million contracts' times
    are not all turned back into text.
    """
    newest = _utc_times(values).max()
    return None if pd.isna(newest) else str(_iso(pd.Series([newest])).iloc[0])


def _merge(
    previous: pd.DataFrame | None, fetched: pd.DataFrame, id_column: str, unique_ids: bool
) -> pd.DataFrame:
    """The fetched records replace the previous ones with the same id.

    Records without an id cannot be matched: only the latest fetch's are kept, so they
    reach the canonical mapping (and its quarantine) once, not once per pull. With
    ``unique_ids``, the source's own ids (a record fetched twice in one pull is one record,
    the last copy wins); without, an id repeated within a fetch is kept every time, so the
    duplicate check sees what the source holds.
    """
    with_id = _has_id(fetched, id_column)
    if unique_ids:
        fetched = pd.concat(
            [fetched[with_id].drop_duplicates(subset=[id_column], keep="last"), fetched[~with_id]]
        )
        with_id = _has_id(fetched, id_column)
    if previous is not None:
        previous = previous[_has_id(previous, id_column)]
        replaced = previous[id_column].isin(fetched.loc[with_id, id_column])
        previous = previous[~replaced.to_numpy(bool)]
    else:
        previous = fetched.iloc[:0]
    return pd.concat([previous, fetched[with_id], fetched[~with_id]], ignore_index=True)


def _has_id(records: pd.DataFrame, id_column: str) -> pd.Series:
    ids = records[id_column].astype("string").str.strip()
    return (ids.notna() & (ids != "")).astype(bool)


class LocalCopy:
    """The records of one source kept between runs in ``path``, keyed by ``id_column``.

    ``signature`` describes what is fetched (object, fields, query) and ``system`` where from
    (``Salesforce https://acme.my.salesforce.com``; never a secret): when either changes,
    the copy no longer matches the fetch and the next pull is a full one.
    """

    def __init__(
        self,
        path: Path,
        id_column: str,
        signature: str,
        system: str = "",
        unique_ids: bool = True,  # False: ids come from a query and may repeat (see _merge)
    ) -> None:
        self.path = path
        self.id_column = id_column
        self.signature = signature
        self.system = system
        self.unique_ids = unique_ids

    def _stored(self) -> dict | None:
        if not self.path.is_file():
            return None
        with open(self.path, "rb") as stream:
            return pickle.load(stream)

    def _unusable(self, stored: dict) -> str | None:
        """Why the stored copy cannot be merged into (None: it can)."""
        if stored.get("version") != _FORMAT_VERSION:
            return "the local copy was written by another version of the pipeline"
        if stored.get("system", "") != self.system:
            return (
                f"the local copy came from {stored.get('system') or 'an unrecorded system'}, "
                f"this pull reads {self.system or 'an unnamed system'}"
            )
        if stored.get("signature") != self.signature:
            return "the object, fields or query changed since the local copy was made"
        return None

    def load(self) -> tuple[pd.DataFrame | None, str | None]:
        stored = self._stored()
        if stored is None or self._unusable(stored) is not None:
            return None, None
        return stored["records"], stored["high_water_mark"]

    def _save(self, records: pd.DataFrame, high_water_mark: str | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        stored = {
            "version": _FORMAT_VERSION,
            "system": self.system,
            "signature": self.signature,
            "records": records,
            "high_water_mark": high_water_mark,
        }
        try:
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(stored, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def pull(
        self, fetch: Callable[[str | None], Batch], full_refresh: bool, log: Log
    ) -> PullResult:
        """Fetch what changed since the mark (everything on a full refresh), merge, commit.

        ``fetch(since)`` must return the records modified at or after ``since``: the
        boundary is fetched again on purpose (two records can share a timestamp), and the
        merge by id makes the repeat harmless.
        """
        previous, mark = None, None
        stored = None if full_refresh else self._stored()
        if stored is not None:
            why = self._unusable(stored)
            if why is None:
                previous, mark = stored["records"], stored["high_water_mark"]
            else:
                log.warning(f"{self.path.stem}: {why}: the copy is replaced by a full pull")
        since = mark if previous is not None else None
        what = f"records modified since {since}" if since else "every record (full pull)"
        log.info(f"{self.path.stem}: pulling {what}")
        batch = fetch(since)
        records = _merge(previous, batch.records, self.id_column, self.unique_ids)
        marks = [m for m in (since, batch.high_water_mark) if m is not None]
        high_water_mark = max(marks) if marks else None
        self._save(records, high_water_mark)
        return PullResult(records, high_water_mark, since, len(batch.records), len(records))
