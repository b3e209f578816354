"""One measurement in a process of its own: ``python -m benchmarks.measure TASK ... RESULT``.

Each task writes a JSON result file; the parent (:mod:`benchmarks.run`) times the process
and reads its peak RSS, so one measurement never inherits another's memory.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time
from pathlib import Path


def _status_mib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak so far) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(company: Path, frames_path: Path) -> dict:
    """Read and parse the sources as the source assets do, each part timed; keep the frames."""
    from backlog_pipeline.accounting.activity import ROLL_FORWARD_INPUTS
    from backlog_pipeline.defs.resources import CrmExport, ErpDatabase
    from backlog_pipeline.sources.canonical import (
        parse_contract_changes,
        parse_contracts,
        parse_recognition,
    )

    crm = CrmExport(directory=str(company / "crm"))
    erp = ErpDatabase(url=f"sqlite:///{company / 'erp.sqlite'}")
    timings, frames = {}, {}
    for name, read, parse in (
        ("contracts", lambda: crm.read("contracts", None).raw,
         lambda raw: parse_contracts(raw, crm.describe(), "USD")),
        ("changes", lambda: crm.read("contract_changes", None).raw,
         lambda raw: parse_contract_changes(raw, crm.describe())),
    ):  # fmt: skip
        started = time.perf_counter()
        raw = read()
        timings[f"read_{name}"] = time.perf_counter() - started
        started = time.perf_counter()
        parsed = parse(raw)
        timings[f"parse_{name}"] = time.perf_counter() - started
        assert parsed.quarantine.empty, parsed.quarantine.head()
        frames[name] = parsed.rows
        del raw
    # The ERP as the source asset reads it: streamed, each batch mapped as it arrives.
    started = time.perf_counter()
    _, parsed = erp.read_parsed(None, lambda raw: parse_recognition(raw, erp.describe()))
    timings["read_and_parse_recognition"] = time.perf_counter() - started
    assert parsed.quarantine.empty, parsed.quarantine.head()
    frames["recognition"] = parsed.rows
    rows = {name: len(frame) for name, frame in frames.items()}
    # The core gets what the pipeline's roll-forward step loads: only the columns it reads.
    frames = {name: frames[name][list(ROLL_FORWARD_INPUTS[name])] for name in frames}
    with open(frames_path, "wb") as stream:
        pickle.dump(frames, stream, protocol=pickle.HIGHEST_PROTOCOL)
    return {
        "timings": timings,
        "rows": rows,
        "peak_rss_mib": _status_mib("VmHWM"),
    }


def core(frames_path: Path, first: int, last: int, engine: str, repeat: int) -> dict:
    """The core computation, ours or the DuckDB reference, timed ``repeat`` times."""
    from backlog_pipeline.accounting.flow import compute_backlog
    from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS

    with open(frames_path, "rb") as stream:
        frames = pickle.load(stream)
    contracts, changes, recognition = frames["contracts"], frames["changes"], frames["recognition"]
    result: dict = {"input_rss_mib": _status_mib("VmRSS"), "seconds": []}
    if engine == "ours":
        for _ in range(repeat):
            started = time.perf_counter()
            rows, flow = compute_backlog(contracts, changes, recognition, first, last)
            result["seconds"].append(time.perf_counter() - started)
            result["peak_rss_mib"] = _status_mib("VmHWM")
            counts = rows.groupby("period").size()
            result["flow"] = {
                int(row["period"]): {"contract_rows": int(counts.get(row["period"], 0))}
                | {figure: int(row[figure]) for figure in FLOW_COLUMNS}
                for _, row in flow.iterrows()
            }
            del rows, flow
        return result
    from benchmarks.reference import connect, reference_flow, rows_differing

    for _ in range(repeat):
        started = time.perf_counter()
        connection = connect(contracts, changes, recognition)
        result["flow"] = reference_flow(connection, first, last)
        result["seconds"].append(time.perf_counter() - started)
        result["peak_rss_mib"] = _status_mib("VmHWM")
    # Untimed: every contract row of ours against the reference's, figure by figure.
    rows, _ = compute_backlog(contracts, changes, recognition, first, last)
    result["contract_rows_differing"] = rows_differing(connection, rows)
    result["contract_rows_compared"] = len(rows)
    return result


def peer(company: Path, erp_url: str, warehouse_url: str, first: int, last: int) -> dict:
    """The lean peer (:mod:`benchmarks.peer`), sources to warehouse, every month."""
    from benchmarks.peer import run

    erp, _, table = erp_url.partition("#")
    result = run(company, erp, table or "recognition", warehouse_url, first, last)
    return result | {"peak_rss_mib": _status_mib("VmHWM")}


def close(
    company: Path,
    data_dir: Path,
    first: str,
    last: str,
    months: tuple[str, str],
    erp_url: str | None = None,
    warehouse_url: str | None = None,
) -> dict:
    """``backlog-close --from first --to last`` on the company: sources to warehouse and JSON."""
    os.environ.update(
        {
            "BACKLOG_DATA_DIR": str(data_dir),
            "BACKLOG_CRM_DIR": str(company / "crm"),
            "BACKLOG_ERP_URL": erp_url or f"sqlite:///{company / 'erp.sqlite'}",
            "BACKLOG_WAREHOUSE_URL": warehouse_url or f"sqlite:///{data_dir / 'warehouse.sqlite'}",
            "BACKLOG_START_MONTH": months[0],
            "BACKLOG_END_MONTH": months[1],
        }
    )
    from backlog_pipeline.cli.close import main

    started = time.perf_counter()
    code = main(["--from", first, "--to", last])
    return {
        "exit_code": code,
        "seconds_in_close": time.perf_counter() - started,
        "peak_rss_mib": _status_mib("VmHWM"),
        "board_pack_s": _step_seconds("report__board_pack"),
    }


def _step_seconds(step: str) -> float | None:
    """How long ``step`` of the close's run took (its start to its success, from the run's
    events in the instance the close recorded it in): the board pack's images, timed apart."""
    import dagster as dg

    instance = dg.DagsterInstance.get()  # DAGSTER_HOME, as the close set it
    runs = instance.get_runs(limit=1)
    if not runs:
        return None
    times: dict = {}
    for event in instance.all_logs(runs[0].run_id):
        if event.step_key == step and event.dagster_event_type in (
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.STEP_SUCCESS,
        ):
            times[event.dagster_event_type] = event.timestamp
    if len(times) != 2:
        return None
    return times[dg.DagsterEventType.STEP_SUCCESS] - times[dg.DagsterEventType.STEP_START]


def main() -> None:
    parser = argparse.ArgumentParser()
    tasks = parser.add_subparsers(dest="task", required=True)
    task = tasks.add_parser("prepare")
    task.add_argument("company", type=Path)
    task.add_argument("frames", type=Path)
    task = tasks.add_parser("core")
    task.add_argument("frames", type=Path)
    task.add_argument("first", type=int)
    task.add_argument("last", type=int)
    task.add_argument("engine", choices=("ours", "duckdb"))
    task.add_argument("--repeat", type=int, default=1)
    task = tasks.add_parser("close")
    task.add_argument("company", type=Path)
    task.add_argument("data_dir", type=Path)
    task.add_argument("first")
    task.add_argument("last")
    task.add_argument("--months", nargs=2, required=True)
    task.add_argument("--erp-url")
    task.add_argument("--warehouse-url")
    task = tasks.add_parser("peer")
    task.add_argument("company", type=Path)
    task.add_argument("erp_url", help="SQLAlchemy-style URL, then #table")
    task.add_argument("warehouse_url")
    task.add_argument("first", type=int)
    task.add_argument("last", type=int)
    parser.add_argument("--result", type=Path, required=True)
    arguments = parser.parse_args()
    if arguments.task == "prepare":
        result = prepare(arguments.company, arguments.frames)
    elif arguments.task == "core":
        result = core(
            arguments.frames, arguments.first, arguments.last, arguments.engine, arguments.repeat
        )
    elif arguments.task == "peer":
        result = peer(
            arguments.company, arguments.erp_url, arguments.warehouse_url, arguments.first,
            arguments.last,
        )  # fmt: skip
    else:
        result = close(
            arguments.company, arguments.data_dir, arguments.first, arguments.last,
            tuple(arguments.months), arguments.erp_url, arguments.warehouse_url,
        )  # fmt: skip
    arguments.result.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
