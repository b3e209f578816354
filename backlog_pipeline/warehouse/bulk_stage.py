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

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from backlog_pipeline.warehouse.arrow_columns import arrow_column
from backlog_pipeline.warehouse.bulk import insert_frame

Build = Callable[[], pd.DataFrame]


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
        self._staged: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self._builds: dict[tuple[str, str], Build] = {}
        self._columns: dict[str, list[str]] = {}

    def stage(self, table: sa.Table, part: str, build: Build) -> None:
        """Write ``build()`` now where the warehouse has a bulk route ahead of the
        transaction; elsewhere keep ``build`` for :meth:`insert` to call then."""
        self._builds[(table.name, part)] = build
        if self._file is None or self._attached:
            return
        frame = build()
        names = [c.name for c in table.columns if c.name in frame.columns]
        arrays = [arrow_column(table, name, frame[name]) for name in names]
        if any(array is None for array in arrays):
            return  # inserted in the transaction, as before
        staged = f"s_{table.name}"
        known = self._columns.setdefault(staged, names)
        if known != names:
            return  # a part with other columns than the table's first: in the transaction
        batch = pa.table([*arrays, pa.array([part] * len(frame), pa.string())],
                         names=[*names, "_part"])  # fmt: skip
        with self._connection().cursor() as cursor:
            cursor.adbc_ingest(staged, batch, mode="create_append")
        self._staged[(table.name, part)] = (staged, names)

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
        try:
            yield
        finally:
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
        (the same keys for every part): one statement for all the parts staged."""
        staged = {p: c for p, c in parts.items() if (table.name, p) in self._staged}
        for part, constants in parts.items():
            if part not in staged:
                frame = self._builds[(table.name, part)]()
                insert_frame(connection, table, frame.assign(**constants) if constants else frame)
        if not staged:
            return
        name, names = self._staged[(table.name, next(iter(staged)))]
        keys = list(next(iter(staged.values())))
        quote = connection.dialect.identifier_preparer.quote
        rows = ", ".join(
            f"(:p{at}{''.join(f', :c{at}_{k}' for k in range(len(keys)))})"
            for at in range(len(staged))
        )
        values = {}
        for at, (part, constants) in enumerate(staged.items()):
            values[f"p{at}"] = part
            values |= {f"c{at}_{k}": constants[key] for k, key in enumerate(keys)}
        given = ", ".join(["_part", *(f"c{k}" for k in range(len(keys)))])
        targets = ", ".join(quote(n) for n in [*names, *keys])
        chosen = ", ".join(
            [*(f"s.{quote(n)}" for n in names), *(f"v.c{k}" for k in range(len(keys)))]
        )
        connection.execute(
            sa.text(
                f"WITH v({given}) AS (VALUES {rows}) "
                f"INSERT INTO main.{quote(table.name)} ({targets}) "
                f"SELECT {chosen} FROM {self._alias}.{name} AS s CROSS JOIN v "  # s outermost
                f"WHERE s._part = v._part"
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
