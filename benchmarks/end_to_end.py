"""Sources to warehouse, ours against the lean peer, in the same run: each in a fresh process.

On SQLite (the demo's layout) and, with ``--postgres URL``, with the ERP table and the
warehouse on that PostgreSQL (the ERP copied there first, untimed). For each backend:

- ``peer``: :mod:`benchmarks.peer`, every month, sources to warehouse;
- ``close``: ``backlog-close`` of the last month into a new warehouse (a first, full close);
- ``backfill``: ``backlog-close`` of every month in one run into a new warehouse;
- ``again``: the last month closed again on the backfill's warehouse and staging, as a
  monthly close runs once the history is there (after an incremental pull, where the
  sources pull incrementally).

Every published month must equal the peer's flow to the cent, with as many contract rows,
or the benchmark fails.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from backlog_pipeline.periods import month_label, parse_month
from benchmarks.reference import FIGURES

ERP_SCHEMA, WAREHOUSE_SCHEMA, PEER_SCHEMA = "bench_erp", "bench_warehouse", "bench_peer"
CLOSES = ("close", "backfill", "again")
Task = Callable[[list[str], Path, Path], dict]


def _with_schema(url: str, schema: str) -> str:
    return str(sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}))


def _reset_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as the URI libpq (and so ADBC) takes."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def copy_erp_to_postgres(company: Path, url: str) -> None:
    """The synthetic ERP table in ``bench_erp`` of that database, as it is in SQLite."""
    import adbc_driver_postgresql.dbapi as postgres
    import adbc_driver_sqlite.dbapi as sqlite

    _reset_schema(url, ERP_SCHEMA)
    with sqlite.connect(str(company / "erp.sqlite")) as source, source.cursor() as read:
        read.execute("SELECT * FROM recognition")
        with postgres.connect(_libpq(url)) as target, target.cursor() as write:
            write.adbc_ingest("recognition", read.fetch_record_batch(), mode="create",
                              db_schema_name=ERP_SCHEMA)  # fmt: skip
            target.commit()


def published_flow(url: str) -> tuple[dict[int, dict[str, int]], dict[int, int]]:
    """The published flow in cents and the contract rows of each month."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        flow = connection.execute(sa.text(f"SELECT period, {', '.join(FIGURES)} FROM backlog_flow"))
        figures = {
            parse_month(period): {
                name: int(Decimal(str(value)).scaleb(2))
                for name, value in zip(FIGURES, values, strict=True)
            }
            for period, *values in flow
        }
        counts = connection.execute(
            sa.text("SELECT period, count(*) FROM contract_backlog GROUP BY period")
        )
        rows = {parse_month(period): count for period, count in counts}
    engine.dispose()
    return figures, rows


def differences(published: dict, reference: dict, rows: dict, months: list[int]) -> list[str]:
    found = []
    for month in months:
        want, got = reference[month], published.get(month)
        if got is None:
            found.append(f"{month_label(month)} not published")
            continue
        found += [
            f"{month_label(month)} {name}: published {got[name]}, peer {want[name]}"
            for name in FIGURES
            if got[name] != want[name]
        ]
        if rows.get(month, 0) != want["contract_rows"]:
            found.append(f"{month_label(month)}: {rows.get(month, 0)} contract rows, "
                         f"peer {want['contract_rows']}")  # fmt: skip
    return found


def _erp_rows_returned(log: Path) -> int | None:
    """The ERP rows the source returned, where the close's log says (incremental pulls)."""
    found = re.findall(
        r"(\d[\d,]*) (?:ERP |recognition )?rows? (?:returned|pulled)", log.read_text()
    )
    return int(found[-1].replace(",", "")) if found else None


def run_backend(
    task: Task,
    company: Path,
    folder: Path,
    steps: set[str],
    postgres: str | None,
    progress: Callable[[dict], None] = lambda results: None,
) -> dict:
    """Peer and closes on one backend (SQLite unless ``postgres``); results by step name,
    each handed to ``progress`` as soon as it is measured (a large run takes long)."""
    first = parse_month("2023-01")
    last = first + 35
    months = (month_label(first), month_label(last))
    tag = "_pg" if postgres else ""
    results: dict = {}
    erp = f"sqlite:///{company / 'erp.sqlite'}"
    if postgres:
        copy_erp_to_postgres(company, postgres)
        erp = _with_schema(postgres, ERP_SCHEMA)
    if "peer" in steps:
        if postgres:
            _reset_schema(postgres, PEER_SCHEMA)
            peer_erp = f"{_libpq(postgres)}#{ERP_SCHEMA}.recognition"
            peer_warehouse = f"{_libpq(postgres)}#{PEER_SCHEMA}"
        else:
            peer_erp, peer_warehouse = f"{erp}#recognition", f"sqlite:///{folder / 'peer.sqlite'}"
            (folder / "peer.sqlite").unlink(missing_ok=True)
        results[f"peer{tag}"] = task(
            ["peer", str(company), peer_erp, peer_warehouse, str(first), str(last)],
            folder / f"peer{tag}.json", folder / f"peer{tag}.log",
        )  # fmt: skip
        print(f"[{folder.name}] peer{tag} {results[f'peer{tag}']['wall_s']:.1f}s", flush=True)
        progress(results)
    peer = results.get(f"peer{tag}", {}).get("flow")
    for step in (s for s in CLOSES if s in steps):
        start = first if step == "backfill" else last
        data_dir = folder / f"{'backfill' if step == 'again' else step}{tag}-data"
        if step != "again":
            shutil.rmtree(data_dir, ignore_errors=True)
            data_dir.mkdir()
            if postgres:
                _reset_schema(postgres, WAREHOUSE_SCHEMA)
        warehouse = (_with_schema(postgres, WAREHOUSE_SCHEMA) if postgres
                     else f"sqlite:///{data_dir / 'warehouse.sqlite'}")  # fmt: skip
        log = folder / f"{step}{tag}.log"
        outcome = task(
            ["close", str(company), str(data_dir), month_label(start), month_label(last),
             "--months", *months, "--erp-url", erp, "--warehouse-url", warehouse],
            folder / f"{step}{tag}.json", log,
        )  # fmt: skip
        if outcome["exit_code"] != 0:
            raise RuntimeError(f"{step}{tag} failed; see {log}")
        published, rows = published_flow(warehouse)
        if peer is not None:
            peer_months = {int(k): v for k, v in peer.items()}
            found = differences(published, peer_months, rows, list(range(start, last + 1)))
            if found:
                raise AssertionError(f"{step}{tag}: published ≠ peer: {found[:5]}")
            outcome["equal_to_peer"] = True
        document = data_dir / "output" / month_label(last) / "bookings_backlog_total.json"
        outcome["documents_written"] = document.is_file()
        outcome["contract_rows_published"] = sum(rows.values())
        outcome["erp_rows_returned"] = _erp_rows_returned(log)
        results[f"{step}{tag}"] = outcome
        print(f"[{folder.name}] {step}{tag} {outcome['wall_s']:.1f}s", flush=True)
        progress(results)
    for step in ("close", "backfill"):
        shutil.rmtree(folder / f"{step}{tag}-data" / "staging", ignore_errors=True)
    return results
