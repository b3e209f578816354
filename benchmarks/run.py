"""Benchmark the close at the synthetic company's sizes and print a table.

    python -m benchmarks.run --sizes small medium large

For each size: the company is generated once (and kept under ``--workdir``), then each
measurement runs in a fresh Python process, timed from the outside, its peak RSS read from
the kernel (``wait4``):

- ``read+parse``: the three sources read and parsed as the source assets do;
- ``core ours`` / ``core DuckDB``: the flow of all months from the parsed sources (the
  columns the pipeline's roll-forward step loads), our pandas code against the SQL
  reference (:mod:`benchmarks.reference`), which must agree to the cent on every figure of
  every month and on every contract row;
- ``peer``, ``close``, ``backfill``, ``again``: sources to warehouse, the lean peer
  (ADBC, pyarrow, DuckDB) and ours, in the same run, on SQLite and (``--postgres URL``)
  PostgreSQL; ours must equal the peer to the cent (:mod:`benchmarks.end_to_end`).

Our times are printed as ratios to the peer's (:mod:`benchmarks.report`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from backlog_pipeline.demo.synthetic import (
    SIZES,
    SYNTHETIC_FIRST_MONTH,
    SYNTHETIC_MONTHS,
    SYNTHETIC_SEED,
)
from backlog_pipeline.periods import parse_month
from benchmarks.end_to_end import run_backend
from benchmarks.report import table, targets

STEPS = ("generate", "read", "core", "peer", "close", "backfill", "again")


def _clean_environment() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BACKLOG_", "DAGSTER_"))}
    return environ | {"PYTHONWARNINGS": "ignore"}


def measure(command: list[str], log: Path) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS in MiB, exit status and CPU seconds (user + system, every
    thread) of one process (output to ``log``): on a shared machine the CPU time says what
    the wall time cannot."""
    started = time.perf_counter()
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=_clean_environment()
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, usage.ru_maxrss / 1024, process.returncode, cpu


def _task(task: list[str], result: Path, log: Path) -> dict:
    command = [sys.executable, "-m", "benchmarks.measure", "--result", str(result), *task]
    result.unlink(missing_ok=True)
    seconds, rss, code, cpu = measure(command, log)
    if code != 0 or not result.is_file():
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"{' '.join(task)} failed ({code}); see {log}:\n{tail}")
    return {"wall_s": seconds, "peak_rss_mib": rss, "cpu_s": cpu, **json.loads(result.read_text())}


def _company(workdir: Path, size: str, seed: int) -> tuple[Path, dict | None]:
    """The company folder, generated now (and measured) unless it is there already."""
    folder = workdir / f"{size}-{seed}"
    company = folder / "company"
    marker = folder / "generated.json"
    if marker.is_file():
        return company, json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "backlog_pipeline.demo.synthetic", size, str(company),
               "--seed", str(seed)]  # fmt: skip
    seconds, rss, code, _ = measure(command, folder / "generate.log")
    if code != 0:
        raise RuntimeError(f"generating {size} failed; see {folder / 'generate.log'}")
    generated = {"wall_s": seconds, "peak_rss_mib": rss,
                 "summary": (folder / "generate.log").read_text().strip()}  # fmt: skip
    marker.write_text(json.dumps(generated))
    return company, generated


def run_size(
    size: str,
    workdir: Path,
    seed: int,
    repeat: int,
    steps: set[str],
    postgres: str | None,
    save: Callable[[dict], None],
) -> dict:
    first = parse_month(SYNTHETIC_FIRST_MONTH)
    last = first + SYNTHETIC_MONTHS - 1
    company, generated = _company(workdir, size, seed)
    folder = company.parent
    results: dict = {"size": size, "contracts": SIZES[size], "generate": generated}
    print(f"[{size}] {generated['summary'] if generated else ''}", flush=True)
    frames = folder / "frames.pkl"
    if steps & {"read", "core"}:
        results["read"] = _task(
            ["prepare", str(company), str(frames)], folder / "read.json", folder / "read.log"
        )
        results["lines"] = results["read"]["rows"]["recognition"]
        print(f"[{size}] read+parse {results['read']['wall_s']:.1f}s", flush=True)
    if "core" in steps:
        for engine in ("ours", "duckdb"):
            results[f"core_{engine}"] = _task(
                ["core", str(frames), str(first), str(last), engine, "--repeat", str(repeat)],
                folder / f"core_{engine}.json",
                folder / f"core_{engine}.log",
            )
            print(f"[{size}] core {engine} {results[f'core_{engine}']['seconds']}", flush=True)
        ours, reference = results["core_ours"]["flow"], results["core_duckdb"]["flow"]
        results["core_equal"] = ours == reference
        results["core_rows_differing"] = results["core_duckdb"]["contract_rows_differing"]
        if not results["core_equal"] or results["core_rows_differing"]:
            raise AssertionError(f"{size}: our flow differs from the DuckDB reference")
    save(results)
    results |= run_backend(_task, company, folder, steps, None, lambda r: save(results | r))
    if postgres:
        results |= run_backend(_task, company, folder, steps, postgres, lambda r: save(results | r))
    return results


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=["small", "medium"])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--workdir", type=Path, default=Path("backlog_data/benchmarks"))
    parser.add_argument("--seed", type=int, default=SYNTHETIC_SEED)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each core computation")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run the peer and the closes with the ERP and warehouse on this PostgreSQL "
        "(schemas bench_erp, bench_warehouse, bench_peer are replaced)",
    )
    arguments = parser.parse_args(argv)
    workdir = arguments.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stored = workdir / "results.json"
    all_results = json.loads(stored.read_text()) if stored.is_file() else {}
    steps = set(arguments.steps)
    for size in arguments.sizes:

        def save(result: dict, size: str = size) -> None:
            # Read again: another size may be measured in another process meanwhile.
            if stored.is_file():
                all_results.update(json.loads(stored.read_text()))
            all_results[size] = {**all_results.get(size, {}), **result, "machine": machine()}
            stored.write_text(json.dumps(all_results, indent=1))

        save(run_size(size, workdir, arguments.seed, arguments.repeat, steps, arguments.postgres,
                      save))  # fmt: skip
    print(f"\nMachine: {machine()}\n")
    print(table({size: all_results[size] for size in SIZES if size in all_results}))
    verdicts = targets(all_results)
    if verdicts:
        print("\nTargets (large):")
        for line in verdicts:
            print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
