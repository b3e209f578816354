"""A source's local columnar snapshot: one Parquet file with what the pull knows about it.

The rows are the source's as read (exact text, see ``sql_arrow``); the schema metadata
holds the pull's state (high-water mark, when the last full pull was) and the source
marks computed when the snapshot was written, so nothing downstream hashes the rows again.
The file is replaced by an atomic rename, so a pull that fails half-way leaves the previous
snapshot exactly as it was. A snapshot is tied to what is read (``signature``) and where
from (``system``, never a secret): if either changes, the next pull is a full one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

STATE = b"backlog/snapshot"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SnapshotState:
    """What a pull needs to know of the last one, kept with the rows."""

    signature: str
    system: str
    high_water_mark: str | None = None
    full_at: str | None = None  # when the last full pull was made (ISO 8601, UTC)
    marks: dict[str, Any] = field(default_factory=dict)  # source marks, by asset
    version: int = FORMAT_VERSION

    def as_bytes(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()


class Snapshot:
    """The Parquet file at ``path`` for the source read as ``signature`` from ``system``."""

    def __init__(self, path: Path, signature: str, system: str) -> None:
        self.path = path
        self.signature = signature
        self.system = system

    def state(self) -> SnapshotState | None:
        """The stored state (None: no snapshot), read from the file's footer alone."""
        if not self.path.is_file():
            return None
        metadata = pq.read_schema(self.path).metadata or {}
        return SnapshotState(**json.loads(metadata[STATE])) if STATE in metadata else None

    def unusable(self, state: SnapshotState | None) -> str | None:
        """Why the stored snapshot cannot be pulled into (None: it can)."""
        if state is None:
            return "there is no snapshot yet"
        if state.version != FORMAT_VERSION:
            return "the snapshot was written by another version of the pipeline"
        if state.system != self.system:
            return f"the snapshot came from {state.system}, this pull reads {self.system}"
        if state.signature != self.signature:
            return "the table, query or column mapping changed since the snapshot was made"
        return None

    def rows(self) -> pa.Table:
        table = pq.read_table(self.path)
        metadata = dict(table.schema.metadata or {})
        metadata.pop(STATE, None)
        return table.replace_schema_metadata(metadata)

    def save(self, rows: pa.Table, state: SnapshotState) -> None:
        """Write rows and state together, replacing the previous snapshot atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {**(rows.schema.metadata or {}), STATE: state.as_bytes()}
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.close(handle)
        try:
            pq.write_table(rows.replace_schema_metadata(metadata), temporary)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def carried_marks(path: Path) -> dict[str, Any]:
    """The source marks a snapshot carries, by asset, read from its footer alone (no rows);
    empty without a snapshot or before a close has computed them."""
    state = Snapshot(path, "", "").state()
    return dict(state.marks) if state is not None else {}
