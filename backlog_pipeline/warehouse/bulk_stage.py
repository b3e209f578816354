"""Bulk loads ahead of the one transaction that publishes them.

Millions of contract rows and source records reach a SQLite warehouse fastest through ADBC
ingest (Arrow batches bound in C), but ADBC writes on a connection of its own, which
cannot join the SQLAlchemy transaction that replaces a month. So :class:`StagedLoads`
writes each frame first, with ADBC, into a scratch SQLite file beside the warehouse (never
into the warehouse itself), and the publishing transaction attaches that file and moves
the rows with one ``INSERT … SELECT`` per table and month. A failure anywhere before the
commit leaves the warehouse as it was; the scratch file is removed either way.

Money stays exact: the table's two-decimal columns (``schema.TwoDecimals``) are staged as
the canonical text SQLite's money columns hold, made from integer cents by Arrow's string
kernels, never through a float. Any other warehouse (PostgreSQL: ``COPY``), an in-memory
SQLite, a column type this route does not know, or a month the transaction finds changed
but that was not staged goes through :func:`bulk.insert_frame` inside the transaction, as
before.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from backlog_pipeline.warehouse.arrow_columns import arrow_column
from backlog_pipeline.warehouse.bulk import insert_frame
from backlog_pipeline.warehouse.schema import TwoDecimals

Build = Callable[[], pd.DataFrame]
# The publishing connection's page cache (negative: KiB): the keyed tables' B-tree pages a
# publication of millions of rows touches stay in memory (SQLite's default is 2 MiB).
_PUBLISH_CACHE_KIB = -131_072


def key_columns(table: sa.Table) -> list[str]:
    """The columns SQLite keeps ``table``'s rows sorted by: its primary key, or, where that
    is a lone row id, its first index."""
    key = [c.name for c in table.primary_key.columns]
    if len(key) == 1 and table.primary_key.columns[key[0]].autoincrement is True:
        indexes = sorted(table.indexes, key=lambda index: index.name or "")
        key = [c.name for c in indexes[0].columns] if indexes else []
    return key


def in_key_order(frame: pd.DataFrame, key: list[str]) -> bool:
    """Whether the frame's rows are in ``key`` order: the key's columns that vary in the
    frame are one, and it does not decrease (a month's rows: its contract ids)."""
    varying = [n for n in key if len(frame) and not (frame[n] == frame[n].iloc[0]).all()]
    if not varying:
        return True
    return len(varying) == 1 and frame[varying[0]].is_monotonic_increasing


def _copies(table: sa.Table, frame: pd.DataFrame, names: list[str]) -> dict[str, str]:
    """Money columns equal to an earlier money column (compared on a sample first): each
    to the first it equals."""
    money = [n for n in names if isinstance(table.c[n].type, TwoDecimals)]
    kept: dict[str, np.ndarray] = {}
    copies = {}
    sample = np.linspace(0, max(len(frame) - 1, 0), num=min(len(frame), 64), dtype=np.int64)
    for name in money:
        if frame[name].dtype != np.int64:
            continue
        values = frame[name].to_numpy()
        same = (
            other
            for other, earlier in kept.items()
            if np.array_equal(values[sample], earlier[sample]) and np.array_equal(values, earlier)
        )
        found = next(same, None)
        if found is None:
            kept[name] = values
        else:
            copies[name] = found
    return copies


class StagedLoads:
    """Frames for warehouse tables, keyed by (table, part), written ahead of the transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._file = None
        if database and database != ":memory:" and not database.startswith("file:"):
            self._file = Path(f"{database}.bulk-{uuid.uuid4().hex}")
        self._alias = f"bulk_{uuid.uuid4().hex[:12]}"
        self._adbc = None
        self._attached = False
        self._staged: dict[tuple[str, str], tuple[str, list[str], dict[str, str]]] = {}
        self._builds: dict[tuple[str, str], Build] = {}
        self._layouts: dict[str, list[tuple[list[str], dict[str, str]]]] = {}
        self._order: dict[str, list[str]] = {}  # scratch table: the target's key columns
        self._unordered: dict[tuple[str, str], bool] = {}

    def stage(self, table: sa.Table, part: str, build: Build) -> None:
        """Write ``build()`` now where the warehouse has a bulk route ahead of the
        transaction; elsewhere keep ``build`` for :meth:`insert` to call then.

        A money column equal to an earlier one (a one-currency company's local figures are
        its reporting figures) is written once and selected twice by the ``INSERT``."""
        self._builds[(table.name, part)] = build
        if self._file is None or self._attached:
            return
        frame = build()
        names = [c.name for c in table.columns if c.name in frame.columns]
        copies = _copies(table, frame, names)
        written = [name for name in names if name not in copies]
        arrays = [arrow_column(table, name, frame[name]) for name in written]
        if any(array is None for array in arrays):
            return  # inserted in the transaction, as before
        layouts = self._layouts.setdefault(table.name, [])
        if (names, copies) not in layouts:
            layouts.append((names, copies))
        staged = f"s_{table.name}_{layouts.index((names, copies))}"
        batch = pa.table([*arrays, pa.array([part] * len(frame), pa.string())],
                         names=[*written, "_part"])  # fmt: skip
        with self._connection().cursor() as cursor:
            cursor.adbc_ingest(staged, batch, mode="create_append")
        self._staged[(table.name, part)] = (staged, names, copies)
        order = [copies.get(n, n) for n in key_columns(table) if n in names]
        self._order.setdefault(staged, order)
        self._unordered[(table.name, part)] = not in_key_order(frame, order)

    def has(self, table: sa.Table, part: str) -> bool:
        """Whether (``table``, ``part``) was handed to :meth:`stage` (written ahead or not)."""
        return (table.name, part) in self._builds

    def _connection(self):  # an ADBC DB-API connection
        if self._adbc is None:
            import adbc_driver_sqlite.dbapi as adbc_sqlite

            # Each ingest is one transaction of its own (the driver's, in autocommit).
            self._adbc = adbc_sqlite.connect(str(self._file), autocommit=True)
            with self._adbc.cursor() as cursor:  # scratch: no journal, no fsync
                cursor.execute("PRAGMA journal_mode=OFF")
                cursor.fetchall()
                cursor.execute("PRAGMA synchronous=OFF")
        return self._adbc

    @contextlib.contextmanager
    def attached(self, connection: sa.Connection) -> Iterator[None]:
        """The scratch file attached to ``connection`` for the transaction run inside."""
        if self._adbc is not None:
            self._adbc.close()
            self._adbc = None
        self._attached = True  # from now on, frames are inserted in the transaction
        if not self._staged:
            yield
            return
        raw = connection.connection.driver_connection
        raw.execute(f"ATTACH DATABASE ? AS {self._alias}", (str(self._file),))
        (cache,) = raw.execute("PRAGMA main.cache_size").fetchone()
        raw.execute(f"PRAGMA main.cache_size = {_PUBLISH_CACHE_KIB}")  # this connection only
        try:
            yield
        finally:
            raw.execute(f"PRAGMA main.cache_size = {int(cache)}")  # back to the pool as it was
            raw.execute(f"DETACH DATABASE {self._alias}")

    def insert(
        self, connection: sa.Connection, table: sa.Table, part: str, constants: dict | None = None
    ) -> None:
        """The staged rows of (``table``, ``part``) inserted, each with ``constants`` added."""
        self.insert_parts(connection, table, {part: constants or {}})

    def insert_parts(
        self, connection: sa.Connection, table: sa.Table, parts: dict[str, dict]
    ) -> None:
        """The staged rows of each part of ``table`` inserted with that part's constants
        (the same keys for every part): one statement for all the parts staged.

        No join picks each part's constants (a join probed per row cost more than the
        insert itself): the parts are an ``IN`` list and a constant that differs between
        parts a ``CASE`` on the part. Rows go in the target's key order (see ``stage``), so
        SQLite appends to its key and index B-trees instead of searching them row by row.
        """
        staged = {p: c for p, c in parts.items() if (table.name, p) in self._staged}
        for part, constants in parts.items():
            if part not in staged:
                frame = self._builds[(table.name, part)]()
                insert_frame(connection, table, frame.assign(**constants) if constants else frame)
        by_scratch: dict[str, dict[str, dict]] = {}
        for part, constants in staged.items():
            by_scratch.setdefault(self._staged[(table.name, part)][0], {})[part] = constants
        for group in by_scratch.values():
            self._insert_select(connection, table, group)

    def _insert_select(
        self, connection: sa.Connection, table: sa.Table, staged: dict[str, dict]
    ) -> None:
        """One ``INSERT … SELECT`` of parts staged in the same scratch table."""
        name, names, copies = self._staged[(table.name, next(iter(staged)))]
        quote = connection.dialect.identifier_preparer.quote
        values: dict[str, object] = {f"p{at}": part for at, part in enumerate(staged)}
        chosen = [f"s.{quote(copies.get(n, n))}" for n in names]
        for k, key in enumerate(next(iter(staged.values()))):
            given = [constants[key] for constants in staged.values()]
            if all(value == given[0] for value in given):
                chosen.append(f":c{k}")
                values[f"c{k}"] = given[0]
                continue
            cases = " ".join(f"WHEN :p{at} THEN :c{k}_{at}" for at in range(len(given)))
            chosen.append(f"CASE s._part {cases} END")
            values |= {f"c{k}_{at}": value for at, value in enumerate(given)}
        keys = list(next(iter(staged.values())))
        order = self._order.get(name, [])
        if any(self._unordered.get((table.name, part)) for part in staged) and order:
            ordered = f" ORDER BY s._part, {', '.join(f's.{quote(n)}' for n in order)}, s.rowid"
        else:
            ordered = ""  # staged in key order already: SQLite reads them in that order
        listed = ", ".join(f":p{at}" for at in range(len(staged)))
        connection.execute(
            sa.text(
                f"INSERT INTO main.{quote(table.name)} "
                f"({', '.join(quote(n) for n in [*names, *keys])}) "
                f"SELECT {', '.join(chosen)} FROM {self._alias}.{name} AS s "
                f"WHERE s._part IN ({listed}){ordered}"
            ),
            values,
        )

    def close(self) -> None:
        if self._adbc is not None:
            self._adbc.close()
            self._adbc = None
        if self._file is not None:
            for suffix in ("", "-journal", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{self._file}{suffix}")

    def __enter__(self) -> StagedLoads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
