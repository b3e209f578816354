"""Where one close spends its time and memory, step by step.

    python -m benchmarks.steps COMPANY DATA_DIR FIRST LAST

``COMPANY`` is a synthetic company folder (``benchmarks.run`` keeps them under its workdir,
``<size>-<seed>/company``); ``DATA_DIR`` a new folder for the warehouse and staging;
``FIRST``/``LAST`` months as ``YYYY-MM``. The close runs as ``backlog-close`` runs it (one
process, steps one after another); the process's RSS is sampled every 0.2 s and cut by each
step's start and end in the run's event log.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import warnings
from pathlib import Path

from backlog_pipeline.demo.synthetic import SYNTHETIC_FIRST_MONTH, SYNTHETIC_MONTHS
from backlog_pipeline.periods import month_label, parse_month

_SAMPLE_SECONDS = 0.2


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _step_rows(
    entries: list, samples: list[tuple[float, float]], started: float
) -> list[tuple[float, float, float, str]]:
    """(start, duration, peak RSS, step) of each step, from the run's event log."""
    starts: dict[str, float] = {}
    rows = []
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif (
            event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts
        ):
            begin = starts[event.step_key]
            # A step shorter than the sampling interval gets the samples beside it.
            window = (begin - _SAMPLE_SECONDS, entry.timestamp + _SAMPLE_SECONDS)
            peak = max((rss for at, rss in samples if window[0] <= at <= window[1]), default=0)
            failed = " FAILED" if event.event_type_value == "STEP_FAILURE" else ""
            rows.append((begin - started, entry.timestamp - begin, peak, event.step_key + failed))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.steps", description=__doc__)
    parser.add_argument("company", type=Path)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("first")
    parser.add_argument("last")
    arguments = parser.parse_args()
    company, data_dir = arguments.company.resolve(), arguments.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "BACKLOG_DATA_DIR": str(data_dir),
            "BACKLOG_CRM_DIR": str(company / "crm"),
            "BACKLOG_ERP_URL": f"sqlite:///{company / 'erp.sqlite'}",
            "BACKLOG_WAREHOUSE_URL": f"sqlite:///{data_dir / 'warehouse.sqlite'}",
            "BACKLOG_START_MONTH": SYNTHETIC_FIRST_MONTH,
            "BACKLOG_END_MONTH": month_label(
                parse_month(SYNTHETIC_FIRST_MONTH) + SYNTHETIC_MONTHS - 1
            ),
        }
    )
    samples: list[tuple[float, float]] = []

    def sample() -> None:
        while True:
            samples.append((time.time(), _rss_mib()))
            time.sleep(_SAMPLE_SECONDS)

    threading.Thread(target=sample, daemon=True).start()
    warnings.filterwarnings("ignore")
    import dagster as dg

    from backlog_pipeline.defs.jobs import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
    from backlog_pipeline.periods import partition_key

    instance = dg.DagsterInstance.ephemeral()
    started = time.time()
    result = dg.execute_job(
        dg.build_reconstructable_job("backlog_pipeline.cli.close", "close_job"),
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        tags={
            PARTITION_RANGE_START_TAG: partition_key(parse_month(arguments.first)),
            PARTITION_RANGE_END_TAG: partition_key(parse_month(arguments.last)),
        },
        raise_on_error=False,
    )
    total = time.time() - started
    rows = _step_rows(instance.all_logs(result.run_id), samples, started)
    print(f"{'start s':>8} {'took s':>8} {'peak RSS MiB':>13}  step")
    for begin, took, peak, step in sorted(rows):
        print(f"{begin:8.1f} {took:8.1f} {peak:13,.0f}  {step}")
    print(
        f"total {total:.1f} s, success {result.success}, peak {max(r for _, r in samples):,.0f} MiB"
    )


if __name__ == "__main__":
    main()
