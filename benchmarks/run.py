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
- ``close 1 month``: ``backlog-close`` of the last month, sources to published warehouse
  tables and JSON, into a new SQLite warehouse;
- ``backfill``: ``backlog-close`` of every month in one run, into a new SQLite warehouse,
  whose published flow must equal the reference's.
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
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from backlog_pipeline.demo.synthetic import (
    SIZES,
    SYNTHETIC_FIRST_MONTH,
    SYNTHETIC_MONTHS,
    SYNTHETIC_SEED,
)
from backlog_pipeline.periods import month_label, parse_month

FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")
STEPS = ("generate", "read", "core", "close", "backfill")
# Targets for the large size on a 2-core, 24 GiB machine.
TARGET_CORE_RATIO = 2.0
TARGET_BACKFILL_S = 600
TARGET_CLOSE_S = 120
TARGET_RSS_MIB = 6 * 1024


def _clean_environment() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BACKLOG_", "DAGSTER_"))}
    return environ | {"PYTHONWARNINGS": "ignore"}


def measure(command: list[str], log: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and exit status of one process (output to ``log``)."""
    started = time.perf_counter()
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=_clean_environment()
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, process.returncode


def _task(task: list[str], result: Path, log: Path) -> dict:
    command = [sys.executable, "-m", "benchmarks.measure", "--result", str(result), *task]
    result.unlink(missing_ok=True)
    seconds, rss, code = measure(command, log)
    if code != 0 or not result.is_file():
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"{' '.join(task)} failed ({code}); see {log}:\n{tail}")
    return {"wall_s": seconds, "peak_rss_mib": rss, **json.loads(result.read_text())}


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
    seconds, rss, code = measure(command, folder / "generate.log")
    if code != 0:
        raise RuntimeError(f"generating {size} failed; see {folder / 'generate.log'}")
    generated = {"wall_s": seconds, "peak_rss_mib": rss,
                 "summary": (folder / "generate.log").read_text().strip()}  # fmt: skip
    marker.write_text(json.dumps(generated))
    return company, generated


def _published_flow(warehouse: Path) -> tuple[dict[int, dict[str, int]], dict[int, int]]:
    engine = sa.create_engine(f"sqlite:///{warehouse}")
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


def _differences(published: dict, reference: dict, rows: dict, months: list[int]) -> list[str]:
    found = []
    for month in months:
        want = reference[month]
        got = published.get(month)
        if got is None:
            found.append(f"{month_label(month)} not published")
            continue
        found += [
            f"{month_label(month)} {name}: published {got[name]}, reference {want[name]}"
            for name in FIGURES
            if got[name] != want[name]
        ]
        if rows.get(month, 0) != want["contract_rows"]:
            found.append(
                f"{month_label(month)}: {rows.get(month, 0)} contract rows, "
                f"reference {want['contract_rows']}"
            )
    return found


def run_size(size: str, workdir: Path, seed: int, repeat: int, steps: set[str]) -> dict:
    first = parse_month(SYNTHETIC_FIRST_MONTH)
    last = first + SYNTHETIC_MONTHS - 1
    months = (month_label(first), month_label(last))
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
    reference = results.get("core_duckdb", {}).get("flow")
    for step, (start, stop) in (("close", (last, last)), ("backfill", (first, last))):
        if step not in steps:
            continue
        data_dir = folder / f"{step}-data"
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir()
        outcome = _task(
            ["close", str(company), str(data_dir), month_label(start), month_label(stop),
             "--months", *months],
            folder / f"{step}.json",
            folder / f"{step}.log",
        )  # fmt: skip
        if outcome["exit_code"] != 0:
            raise RuntimeError(f"{size} {step} failed; see {folder / f'{step}.log'}")
        published, rows = _published_flow(data_dir / "warehouse.sqlite")
        if reference is not None:
            wanted = range(start, stop + 1)
            reference_months = {int(k): v for k, v in reference.items()}
            found = _differences(published, reference_months, rows, list(wanted))
            if found:
                raise AssertionError(f"{size} {step}: published ≠ reference: {found[:5]}")
            outcome["equal_to_reference"] = True
        document = data_dir / "output" / month_label(stop) / "bookings_backlog_total.json"
        outcome["documents_written"] = document.is_file()
        outcome["contract_rows_published"] = sum(rows.values())
        outcome["warehouse_mib"] = (data_dir / "warehouse.sqlite").stat().st_size / 2**20
        results[step] = outcome
        print(f"[{size}] {step} {outcome['wall_s']:.1f}s", flush=True)
        shutil.rmtree(data_dir / "staging", ignore_errors=True)
    return results


def _row(size: dict, label: str, entry: dict | None, seconds: float | None = None) -> str:
    if not entry:
        return ""
    wall = seconds if seconds is not None else entry["wall_s"]
    return (
        f"| {size['size']} | {size['contracts']:,} | {size.get('lines', 0):,} | {label} "
        f"| {wall:.2f} | {entry['peak_rss_mib']:,.0f} |"
    )


def table(all_results: dict[str, dict]) -> str:
    lines = [
        "| size | contracts | recognition lines | measurement | wall s | peak RSS MiB |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for size in (s for s in SIZES if s in all_results):
        result = all_results[size]
        for label, key in (("generate company", "generate"), ("read+parse sources", "read")):
            lines.append(_row(result, label, result.get(key)))
        for engine, label in (("ours", "core flow, ours"), ("duckdb", "core flow, DuckDB")):
            entry = result.get(f"core_{engine}")
            if entry:
                lines.append(_row(result, f"{label}: first run", entry, entry["seconds"][0]))
                lines.append(_row(result, f"{label}: best of {len(entry['seconds'])}", entry,
                                  min(entry["seconds"])))  # fmt: skip
        lines.append(_row(result, "close 1 month, end to end", result.get("close")))
        lines.append(
            _row(result, f"backfill {SYNTHETIC_MONTHS} months, one run", result.get("backfill"))
        )
    lines = [line for line in lines if line]
    lines += ["", "| size | ratio | value |", "|---|---|---:|"]
    for size in (s for s in SIZES if s in all_results):
        result = all_results[size]
        if "core_ours" in result and "core_duckdb" in result:
            ours, duck = result["core_ours"], result["core_duckdb"]
            ratio = ours["seconds"][0] / duck["seconds"][0]
            lines.append(f"| {size} | core time, ours ÷ DuckDB, first runs | {ratio:.2f} |")
            ratio = min(ours["seconds"]) / min(duck["seconds"])
            lines.append(f"| {size} | core time, ours ÷ DuckDB, best runs | {ratio:.2f} |")
            lines.append(
                f"| {size} | core peak RSS, ours ÷ DuckDB | "
                f"{ours['peak_rss_mib'] / duck['peak_rss_mib']:.2f} |"
            )
            lines.append(
                f"| {size} | core equal to the reference to the cent | "
                f"{'yes' if result['core_equal'] and not result['core_rows_differing'] else 'NO'} |"
            )
    if "medium" in all_results and "large" in all_results:
        medium, large = all_results["medium"], all_results["large"]
        scale = large.get("lines", 1) / max(medium.get("lines", 1), 1)
        lines.append(f"| medium → large | recognition lines | ×{scale:.1f} |")
        for key in ("read", "close", "backfill"):
            if medium.get(key) and large.get(key):
                growth = large[key]["wall_s"] / medium[key]["wall_s"]
                lines.append(f"| medium → large | {key} time | ×{growth:.1f} |")
        if medium.get("core_ours") and large.get("core_ours"):
            growth = min(large["core_ours"]["seconds"]) / min(medium["core_ours"]["seconds"])
            lines.append(f"| medium → large | core time (ours) | ×{growth:.1f} |")
    return "\n".join(lines)


def targets(all_results: dict[str, dict]) -> list[str]:
    large = all_results.get("large")
    if not large:
        return []
    verdicts = []

    def verdict(name: str, ok: bool, detail: str) -> None:
        verdicts.append(f"{'met' if ok else 'NOT met'}: {name} ({detail})")

    if large.get("core_ours") and large.get("core_duckdb"):
        ratio = large["core_ours"]["seconds"][0] / large["core_duckdb"]["seconds"][0]
        verdict("core ≤ 2× DuckDB (first runs)", ratio <= TARGET_CORE_RATIO, f"{ratio:.2f}×")
    if large.get("backfill"):
        seconds = large["backfill"]["wall_s"]
        verdict("backfill ≤ 10 min", seconds <= TARGET_BACKFILL_S, f"{seconds:.0f}s")
    if large.get("close"):
        seconds = large["close"]["wall_s"]
        verdict("one month's close ≤ 2 min", seconds <= TARGET_CLOSE_S, f"{seconds:.0f}s")
    peaks = {key: large[key]["peak_rss_mib"] for key in ("read", "core_ours", "close", "backfill")
             if large.get(key)}  # fmt: skip
    if peaks:
        worst = max(peaks, key=peaks.get)
        verdict("peak RSS < 6 GiB", peaks[worst] < TARGET_RSS_MIB,
                f"highest {peaks[worst]:,.0f} MiB in {worst}")  # fmt: skip
    medium = all_results.get("medium")
    if medium:
        scale = large.get("lines", 1) / max(medium.get("lines", 1), 1)
        for key in ("close", "backfill"):
            if medium.get(key) and large.get(key):
                growth = large[key]["wall_s"] / medium[key]["wall_s"]
                verdict(f"{key} time grows at most linearly", growth <= scale * 1.05,
                        f"×{growth:.1f} for ×{scale:.1f} the data")  # fmt: skip
    return verdicts


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
    arguments = parser.parse_args(argv)
    workdir = arguments.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stored = workdir / "results.json"
    all_results = json.loads(stored.read_text()) if stored.is_file() else {}
    steps = set(arguments.steps)
    for size in arguments.sizes:
        result = run_size(size, workdir, arguments.seed, arguments.repeat, steps)
        all_results[size] = {**all_results.get(size, {}), **result, "machine": machine()}
        stored.write_text(json.dumps(all_results, indent=1))
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
