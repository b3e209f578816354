"""Time the disclosure's accounting (issue 14) on synthetic frames of any size.

    /usr/bin/time -v python -m benchmarks.disclosure month --contracts 1000000 [--plan]
    /usr/bin/time -v python -m benchmarks.disclosure backfill --rows 13400000 [--plan]

``month``: one month's contract rows, one per contract (every contract holding backlog, a
harder month than a real one); ``backfill``: ``--rows`` contract rows spread over 36 months
(the large company's backfill has 13.4M). Contracts have start and end dates (5% without an
end), terms of 1 to 60 months, 10 contracts a customer; 1% of the rows over-recognized.
``--plan``: an ERP revenue plan for 60% of the contracts, one line a month over the term,
which does not sum to the backlog (every planned row is scaled: the slow path).

Prints the wall time of each step; peak memory is the whole process's, from ``time -v``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.expedients import apply_exclusions, contract_exclusions
from backlog_pipeline.accounting.lookup import RowContracts
from backlog_pipeline.accounting.ratios import aging, concentration
from backlog_pipeline.accounting.slices import FIGURES, backlog_slices
from backlog_pipeline.accounting.timing import split_backlog, timing_discrepancies
from backlog_pipeline.periods import parse_month

_FIRST = "2023-01"
_TERMS = np.array([1, 3, 12, 12, 24, 24, 36, 36, 48, 60])


def _contracts(count: int, rng: np.random.Generator) -> pd.DataFrame:
    start = np.datetime64("2021-01", "M") + rng.integers(0, 60, count)
    term = rng.choice(_TERMS, count)
    end = (start + term).astype("datetime64[D]") - np.timedelta64(1, "D")
    end[rng.random(count) < 0.05] = np.datetime64("NaT")
    ids = np.array([f"C{n:08d}" for n in range(count)], dtype=object)
    return pd.DataFrame(
        {
            "contract_id": ids,
            "customer_id": np.array([f"K{n // 10:07d}" for n in range(count)], dtype=object),
            "signed_date": pd.to_datetime(start.astype("datetime64[D]")) - pd.Timedelta(days=20),
            "start_date": pd.to_datetime(start.astype("datetime64[D]")),
            "end_date": pd.to_datetime(end),
            "product": rng.choice(np.array(["Platform", "Services", None], object), count),
            "segment": rng.choice(np.array(["SMB", "Mid-Market", "Enterprise"], object), count),
            "region": rng.choice(np.array(["NA", "EMEA", "APAC"], object), count),
        }
    )


def _rows(
    contracts: pd.DataFrame, count: int, months: int, rng: np.random.Generator
) -> pd.DataFrame:
    first = parse_month(_FIRST)
    if months == 1:
        contract = np.arange(count) % len(contracts)
        period = np.full(count, first, dtype=np.int64)
    else:
        period = np.sort(rng.integers(first, first + months, count))
        contract = rng.integers(0, len(contracts), count)
    closing = rng.integers(1, 50_000_000, count)
    closing[rng.random(count) < 0.01] *= -1
    frame = {"period": period, "contract_id": contracts["contract_id"].to_numpy()[contract]}
    for name in FIGURES:
        frame[name] = closing if name == "closing" else np.zeros(count, dtype=np.int64)
    return pd.DataFrame(frame)


def _plan(contracts: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    planned = np.flatnonzero(rng.random(len(contracts)) < 0.6)
    start = contracts["start_date"].to_numpy().astype("datetime64[M]")[planned]
    term = rng.choice(_TERMS, len(planned))
    line_contract = np.repeat(planned, term)
    step = np.arange(len(line_contract)) - np.repeat(np.cumsum(term) - term, term)
    months_after_first = (np.repeat(start, term) - np.datetime64(_FIRST, "M")).astype(np.int64)
    first = parse_month(_FIRST) + months_after_first
    return pd.DataFrame(
        {
            "contract_id": contracts["contract_id"].to_numpy()[line_contract],
            "period": first + step,
            "amount": rng.integers(0, 5_000_000, len(line_contract)),
        }
    )


def _step(name: str, started: float) -> float:
    now = time.perf_counter()
    print(f"{name:<28} {now - started:8.1f} s", flush=True)
    return now


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.disclosure", description=__doc__)
    parser.add_argument("shape", choices=("month", "backfill"))
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=13_400_000)
    parser.add_argument("--plan", action="store_true")
    arguments = parser.parse_args()
    rng = np.random.default_rng(14)
    started = time.perf_counter()
    contracts = _contracts(arguments.contracts, rng)
    months = 1 if arguments.shape == "month" else 36
    count = arguments.contracts if months == 1 else arguments.rows
    rows = _rows(contracts, count, months, rng)
    plan = _plan(contracts, rng) if arguments.plan else None
    lines = 0 if plan is None else len(plan)
    print(f"{len(contracts)} contracts, {len(rows)} rows, {months} month(s), {lines} plan lines")
    at = _step("synthetic frames", started)
    lookup = RowContracts.of(rows, contracts)
    at = _step("contract lookup (once)", at)
    exclusions = contract_exclusions(contracts, short_contract_expedient=True)
    excluded = apply_exclusions(rows, exclusions, lookup)
    at = _step("exclusions", at)
    timing = split_backlog(rows, lookup, plan, disclosed=~excluded.excluded)
    at = _step("timing (split_backlog)", at)
    assert timing_discrepancies(timing) == []
    at = _step("timing check", at)
    backlog_slices(rows, lookup)
    at = _step("slices (4 dimensions)", at)
    concentration(rows, lookup)
    aging(rows, lookup)
    at = _step("concentration + aging", at)
    _step("total", started)


if __name__ == "__main__":
    main()
