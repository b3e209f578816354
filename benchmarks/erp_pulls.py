"""Full against incremental pulls of the synthetic ERP, and the CSV export's read.

    python -m benchmarks.erp_pulls --size medium [--postgres-url postgresql+psycopg2://...]

The company is generated as ``benchmarks.run`` does (and kept under ``--workdir``); the
ERP's recognition table is copied and given a ``changed_at`` column stamped on the 28th
of each line's month (a second per line), mapped as ``last_modified``. Timed in this
process, one after the other: the whole table through SQLAlchemy and through ADBC, a first
(full) pull into the snapshot, an incremental pull after a late correction of
``--changed`` lines of an old month (the rows the source returned are printed), the same
without a modification column (the months after a lock), and the periodic reconciliation
(a full pull, its content compared with the snapshot's).
"""

from __future__ import annotations

import argparse
import io
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import sqlalchemy as sa

from backlog_pipeline.demo.synthetic import SYNTHETIC_SEED
from backlog_pipeline.sources import sql, sql_arrow, sql_pull
from backlog_pipeline.sources.csv_file import read_file, read_rows
from backlog_pipeline.sources.csv_records import read_records
from benchmarks.run import _company

STAMPED = {"last_modified": "changed_at"}


class _Quiet:
    def info(self, msg: str) -> None:
        pass

    warning = info


def _timed(label: str, work: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = work()
    print(f"  {label:<58} {time.perf_counter() - started:8.2f} s", flush=True)
    return result


def _stamped_sqlite(company: Path, folder: Path) -> str:
    path = folder / "erp.sqlite"
    shutil.copy(company / "erp.sqlite", path)
    connection = sqlite3.connect(path)
    connection.execute("ALTER TABLE recognition ADD COLUMN changed_at TEXT")
    connection.execute(  # a second of the 28th per line, as a ledger's posting times spread
        "UPDATE recognition SET changed_at = period || '-28 ' || printf('%02d:%02d:%02d', "
        "(rowid / 3600) % 24, (rowid / 60) % 60, rowid % 60)"
    )
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def _to_postgres(sqlite_url: str, url: str) -> str:
    """The stamped table copied into PostgreSQL (COPY), amounts as NUMERIC(18,2)."""
    source = sa.create_engine(sqlite_url)
    target = sa.create_engine(url)
    with target.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS recognition")
        connection.exec_driver_sql(
            "CREATE TABLE recognition (line_id TEXT PRIMARY KEY, contract_id TEXT, period TEXT, "
            "amount NUMERIC(18,2), changed_at TIMESTAMP)"
        )
        cursor = connection.connection.cursor()
        with tempfile.TemporaryFile("w+") as buffer, source.connect() as reader:
            rows = reader.exec_driver_sql("SELECT * FROM recognition")
            for row in rows:
                buffer.write("\t".join(map(str, row)) + "\n")
            buffer.seek(0)
            cursor.copy_expert("COPY recognition FROM STDIN", buffer)
    source.dispose()
    target.dispose()
    return url


def _late_correction(url: str, lines: int) -> None:
    """``lines`` lines of the second month corrected (+1.00) and stamped after every other."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        first = connection.exec_driver_sql("SELECT min(period) FROM recognition").scalar()
        month = f"{first[:5]}{int(first[5:7]) + 1:02d}"
        amount = "CAST(CAST(amount AS NUMERIC) + 1 AS TEXT)" if "sqlite" in url else "amount + 1"
        connection.exec_driver_sql(
            f"UPDATE recognition SET amount = {amount}, changed_at = '2099-01-02 03:04:05' "
            f"WHERE line_id IN (SELECT line_id FROM recognition WHERE period = '{month}' "
            f"ORDER BY line_id LIMIT {lines})"
        )
    engine.dispose()


def _pull(url: str, folder: Path, columns: dict, **settings: object) -> sql_pull.Pulled:
    source = sql_pull.SqlSource(url, "ERP", sql.recognition_select(columns))
    pulled = sql_pull.pull_into(source, folder, "erp", sql_pull.PullSettings(**settings), _Quiet())
    sql_pull.settle_mark(pulled, "erp", None)
    return pulled


def pulls(url: str, folder: Path, changed: int) -> None:
    """The measurements of one ERP database, printed."""
    select = sql.recognition_select(STAMPED)
    table = _timed("whole table through SQLAlchemy (to Arrow text)",
                   lambda: sql.read_sqlalchemy(url, "ERP", select, _Quiet()))  # fmt: skip
    print(f"  {'rows':<58} {len(table):8d}")
    _timed("whole table through ADBC (to Arrow text)",
           lambda: sql_arrow.read_adbc(url, select, "ERP", _Quiet()))  # fmt: skip
    read = sql_arrow.read_adbc(url, select, "ERP", _Quiet())
    _timed("the ADBC table as raw frames (to_frame)", lambda: list(sql.frame_batches(read)))
    snap = folder / f"snapshots-{sa.make_url(url).get_backend_name()}"
    shutil.rmtree(snap, ignore_errors=True)
    _timed("first pull: full, into the Parquet snapshot", lambda: _pull(url, snap, STAMPED))
    _late_correction(url, changed)
    done = _timed(f"incremental pull after {changed} late corrections",
                  lambda: _pull(url, snap, STAMPED))  # fmt: skip
    print(f"  {'  ERP rows returned by the source':<58} {done.fetched:8d}   ({done.how})")
    periods = folder / f"periods-{sa.make_url(url).get_backend_name()}"
    shutil.rmtree(periods, ignore_errors=True)
    month = str(pc.max(_pull(url, periods, {}).rows.column("period")))[:7]
    done = _timed(f"incremental pull without a modification column ({month} on)",
                  lambda: _pull(url, periods, {}, open_from=month))  # fmt: skip
    print(f"  {'  ERP rows returned by the source':<58} {done.fetched:8d}   ({done.how})")
    done = _timed("periodic reconciliation (full pull, contents compared)",
                  lambda: _pull(url, snap, STAMPED, reconcile_days=0))  # fmt: skip
    print(f"  {'  ':<58} {'':8}   ({done.how})")


def csv_reads(company: Path) -> None:
    path = company / "crm" / "contracts.csv"
    data = path.read_bytes()
    frame = _timed("contracts.csv: pyarrow fast path (read_file)", lambda: read_file(path, "CRM"))
    print(f"  {'rows':<58} {len(frame):8d}")
    _timed("contracts.csv: the strict reader, record by record",
           lambda: read_records(data, "contracts.csv"))  # fmt: skip
    _timed("contracts.csv: read_rows", lambda: read_rows(data, "contracts.csv"))
    _timed("contracts.csv: pandas' C parser, as the fast path read before",
           lambda: pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                               na_filter=False))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--workdir", type=Path, default=Path("bench-work"))
    parser.add_argument("--changed", type=int, default=1_000)
    parser.add_argument("--postgres-url", help="also measure the ERP on this PostgreSQL")
    arguments = parser.parse_args()
    company, _ = _company(arguments.workdir, arguments.size, SYNTHETIC_SEED)
    folder = arguments.workdir / f"erp-pulls-{arguments.size}"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"CSV export ({arguments.size})")
    csv_reads(company)
    sqlite_url = _stamped_sqlite(company, folder)
    print(f"ERP on SQLite ({arguments.size})")
    pulls(sqlite_url, folder, arguments.changed)
    if arguments.postgres_url:
        print(f"ERP on PostgreSQL ({arguments.size})")
        pulls(_to_postgres(_stamped_sqlite(company, folder), arguments.postgres_url), folder,
              arguments.changed)  # fmt: skip


if __name__ == "__main__":
    main()
