"""What the currency conversion of a backfill costs, step by step, at any size.

    python -m benchmarks.currency SIZE [--foreign 0.3] [--ledger]

``SIZE`` is ``small``, ``medium``, ``large`` or a number of contracts. The synthetic
company of :mod:`backlog_pipeline.demo.synthetic` (same seed, 36 months) is drawn in
memory, without writing and reading its files, and a share of its contracts (``--foreign``,
two thirds EUR, one third GBP) is taken to be in another currency with random rates of ten
decimals. ``--ledger`` gives every recognition line of those contracts an amount in the
reporting currency too. After ``compute_backlog`` (not part of the conversion) each step is
timed (wall and CPU: the CPU time is what it costs on a machine that is not shared)
and the process's peak RSS printed after it; run under ``/usr/bin/time -v`` for the
whole process.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.currency import (
    convert_contract_rows,
    ledger_amounts,
    with_currency,
)
from backlog_pipeline.accounting.currency_flows import (
    constant_currency_flow,
    converted_flow_by_currency,
    flow_by_currency,
    reporting_flow,
)
from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.accounting.fx_checks import (
    currency_sum_discrepancies,
    local_flow_discrepancies,
    reporting_identity_discrepancies,
    revaluation_discrepancies,
)
from backlog_pipeline.accounting.fx_rates import RATE_SCALE
from backlog_pipeline.accounting.fx_rates_needed import missing_rates
from backlog_pipeline.demo import synthetic
from backlog_pipeline.periods import parse_month


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _company(contracts: int, foreign: float, with_ledger: bool) -> tuple[pd.DataFrame, ...]:
    first = parse_month(synthetic.SYNTHETIC_FIRST_MONTH)
    rng = np.random.default_rng(synthetic.SYNTHETIC_SEED)
    drawn = synthetic._draw(contracts, first, synthetic.SYNTHETIC_MONTHS, rng)
    ids = np.array([f"C-{i:07d}" for i in range(1, contracts + 1)], dtype=object)
    share = np.random.default_rng(1).random(contracts)
    currency = np.where(
        share < foreign * 2 / 3, "EUR", np.where(share < foreign, "GBP", "USD")
    ).astype(object)
    amount = pd.array(drawn.change_amount, dtype="Int64")
    amount[drawn.change_amount < 0] = pd.NA
    typed = (
        pd.DataFrame(
            {"contract_id": ids, "signed_month": drawn.signed_month, "tcv": drawn.tcv,
             "currency": currency}
        ),
        pd.DataFrame(
            {"contract_id": ids[drawn.change_contract], "effective_month": drawn.change_month,
             "kind": synthetic._CHANGE_KINDS[drawn.change_kind], "amount": amount}
        ),
        pd.DataFrame(
            {"contract_id": ids[drawn.line_contract], "period": drawn.line_month,
             "amount": drawn.line_amount}
        ),
    )  # fmt: skip
    if with_ledger:
        lines = typed[2]
        in_foreign = currency[drawn.line_contract] != "USD"
        booked = pd.array(drawn.line_amount * 11 // 10, dtype="Int64")
        booked[~in_foreign] = pd.NA
        lines["amount_reporting"] = booked
    return typed


def _rates(first: int, last: int) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = []
    for code, level in (("EUR", 1.08), ("GBP", 1.27)):
        for month in range(first - 1, last + 1):
            average, closing = (int(level * rng.uniform(0.95, 1.05) * 10**6) for _ in range(2))
            rows.append((code, month, average * (RATE_SCALE // 10**6) + 1234,
                         closing * (RATE_SCALE // 10**6) + 5678))  # fmt: skip
    return pd.DataFrame(rows, columns=["currency", "month", "average_rate", "closing_rate"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.currency", description=__doc__)
    parser.add_argument("size")
    parser.add_argument("--foreign", type=float, default=0.3)
    parser.add_argument("--ledger", action="store_true")
    arguments = parser.parse_args()
    contracts = synthetic.SIZES.get(arguments.size) or int(arguments.size)
    started = time.perf_counter()
    frames = _company(contracts, arguments.foreign, arguments.ledger)
    first = parse_month(synthetic.SYNTHETIC_FIRST_MONTH)
    last = first + synthetic.SYNTHETIC_MONTHS - 1
    months = list(range(first, last + 1))
    rates = _rates(first, last)
    print(f"company drawn: {time.perf_counter() - started:.1f}s, peak {_peak_mib():.0f} MiB")
    started = time.perf_counter()
    rows, _ = compute_backlog(*frames, first, last)
    print(f"compute_backlog: {len(rows)} contract rows, {time.perf_counter() - started:.1f}s, "
          f"peak {_peak_mib():.0f} MiB")  # fmt: skip
    results = {}
    steps = {
        "with_currency": lambda: with_currency(rows, frames[0]),
        "missing_rates": lambda: missing_rates(results["with_currency"], rates, "USD"),
        "ledger_amounts": lambda: ledger_amounts(
            results["with_currency"], frames[0], frames[2], "USD"
        ),
        "convert_contract_rows": lambda: convert_contract_rows(
            results["with_currency"], rates, "USD", results["ledger_amounts"]
        ),
        "reporting_flow": lambda: reporting_flow(results["convert_contract_rows"], months),
        "flow_by_currency": lambda: flow_by_currency(results["with_currency"], months, "USD"),
        "converted_flow_by_currency": lambda: converted_flow_by_currency(
            results["convert_contract_rows"], months, "USD"
        ),
        "check revaluation (second route)": lambda: revaluation_discrepancies(
            results["convert_contract_rows"],
            rates,
            "USD",
            results["ledger_amounts"],
            results["reporting_flow"],
        ),
        "check currency sums + identity": lambda: (
            currency_sum_discrepancies(
                results["reporting_flow"], results["converted_flow_by_currency"]
            )
            + reporting_identity_discrepancies(results["reporting_flow"])
        ),
        "check local flows (both routes)": lambda: local_flow_discrepancies(
            results["flow_by_currency"], *frames
        ),
        "constant_currency_flow": lambda: constant_currency_flow(
            results["with_currency"], rates, "USD", first, months
        ),
    }
    for name, step in steps.items():
        started, cpu = time.perf_counter(), time.process_time()
        results[name] = step()
        problems = results[name] if isinstance(results[name], list) else None
        note = f", {len(problems)} problem(s)" if problems is not None else ""
        print(
            f"{name}: {time.perf_counter() - started:.2f}s wall, "
            f"{time.process_time() - cpu:.2f}s CPU, peak {_peak_mib():.0f} MiB{note}"
        )
    converted = results["convert_contract_rows"]
    print(
        f"{int((converted['currency'] != 'USD').sum())} of {len(converted)} rows in EUR/GBP; "
        f"Σ fx_revaluation {int(converted['fx_revaluation'].sum())} cents"
    )


if __name__ == "__main__":
    main()
