"""A synthetic company of any size, in the demo's layout, for tests and benchmarks.

The same folder shape as :mod:`backlog_pipeline.demo.generate` (``crm/contracts.csv``,
``crm/contract_changes.csv`` and ``erp.sqlite`` with a ``recognition`` table of text
amounts), so the pipeline reads it with the default CSV CRM and SQL ERP settings
(``BACKLOG_CRM_DIR``, ``BACKLOG_ERP_URL``). Everything is drawn with numpy from one seed,
month by month over all contracts at once (:mod:`backlog_pipeline.demo.synthetic_draw`), so
a million contracts and their fifteen million recognition lines take a minute or two.

The company is clean by construction: recognition follows each contract's remaining value
over its term (never before the start, never after a termination, never above the value),
partial cancellations and decreases take a share of what is left, and every amount is a
whole number of cents. A fifth of the contracts are bundles recognized in two lines a month,
and one line in a hundred is posted larger and reversed in part in the same month (a
negative line), as ERPs post corrections. The pipeline's checks therefore pass, and any
figure that differs between two computations is a bug.

Same seed, same size, same numpy: byte-identical files. (numpy does not promise the
``Generator`` streams across its own versions.)
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backlog_pipeline.demo.synthetic_draw import Ledger, draw
from backlog_pipeline.money import cents_text
from backlog_pipeline.periods import first_days, month_label, month_labels, parse_month

SIZES = {"small": 1_000, "medium": 100_000, "large": 1_000_000}
SYNTHETIC_SEED = 20230101
SYNTHETIC_FIRST_MONTH = "2023-01"
SYNTHETIC_MONTHS = 36
_PRODUCTS = np.array(["Platform", "Analytics", "Services"], dtype=object)
_SEGMENTS = np.array(["SMB", "Mid-Market", "Enterprise"], dtype=object)
_REGIONS = np.array(["NA", "EMEA", "APAC"], dtype=object)
_NAME_A = np.array(["Blue", "North", "Silver", "Quiet", "Bright", "Iron", "Cedar", "Harbor"])
_NAME_B = np.array(["Labs", "Works", "Logistics", "Foods", "Health", "Systems", "Retail"])
_CHANGE_KINDS = np.array(["increase", "decrease", "cancellation", "cancellation"], dtype=object)
_ERP_BATCH = 200_000


@dataclass(frozen=True)
class CompanyPaths:
    crm_dir: Path
    erp_url: str
    first_month: str
    last_month: str
    contracts: int
    changes: int
    recognition_lines: int


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object)


def _dates(months: np.ndarray, days: np.ndarray) -> np.ndarray:
    return (first_days(months) + days).astype(str)


def _write_crm(ledger: Ledger, crm_dir: Path, width: int) -> int:
    n = len(ledger.tcv)
    contract_ids = _ids("C-", np.arange(1, n + 1), width)
    customer_ids = _ids("CUST-", ledger.customer, width)
    signed = _dates(ledger.signed_month, ledger.signed_day)
    end = (first_days(ledger.end_month + 1) - np.timedelta64(1, "D")).astype(str)
    contracts = pd.DataFrame(
        {
            "contract_id": contract_ids,
            "customer_id": customer_ids,
            "customer_name": np.char.add(
                np.char.add(_NAME_A[ledger.customer % len(_NAME_A)], " "),
                _NAME_B[ledger.customer % len(_NAME_B)],
            ),
            "signed_date": signed,
            "start_date": first_days(ledger.start_month).astype(str),
            "end_date": end,
            "tcv": cents_text(ledger.tcv),
            "currency": "USD",
            "product": _PRODUCTS[ledger.product],
            "segment": _SEGMENTS[ledger.segment],
            "region": _REGIONS[ledger.region],
            "updated_at": np.char.add(signed, "T09:00:00Z"),
        }
    )
    crm_dir.mkdir(parents=True, exist_ok=True)
    contracts.to_csv(crm_dir / "contracts.csv", index=False, lineterminator="\n")

    order = np.lexsort((ledger.change_contract, ledger.change_day, ledger.change_month))
    amount = ledger.change_amount[order]
    changes = pd.DataFrame(
        {
            "change_id": _ids("CHG-", np.arange(1, len(order) + 1), width),
            "contract_id": contract_ids[ledger.change_contract[order]],
            "effective_date": _dates(ledger.change_month[order], ledger.change_day[order]),
            "kind": _CHANGE_KINDS[ledger.change_kind[order]],
            "amount": np.where(amount < 0, "", cents_text(np.maximum(amount, 0))),
        }
    )
    changes.to_csv(crm_dir / "contract_changes.csv", index=False, lineterminator="\n")
    return len(changes)


def _write_erp(ledger: Ledger, erp_path: Path, width: int) -> int:
    erp_path.unlink(missing_ok=True)
    connection = sqlite3.connect(erp_path)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        # The demo's DDL (demo/generate.py): text amounts keep the ERP's cents exact.
        connection.execute(
            "CREATE TABLE recognition (line_id VARCHAR NOT NULL, contract_id VARCHAR NOT NULL, "
            "period VARCHAR(7) NOT NULL, amount VARCHAR NOT NULL, PRIMARY KEY (line_id))"
        )
        total = len(ledger.line_amount)
        line_width = max(len(str(total)), 8)
        for start in range(0, total, _ERP_BATCH):
            stop = min(start + _ERP_BATCH, total)
            numbers = np.arange(start + 1, stop + 1)
            rows = zip(
                _ids("REV-", numbers, line_width).tolist(),
                np.char.add("C-", np.char.zfill(
                    (ledger.line_contract[start:stop] + 1).astype(str), width)).tolist(),
                month_labels(ledger.line_month[start:stop]).tolist(),
                cents_text(ledger.line_amount[start:stop]).tolist(),
                strict=True,
            )  # fmt: skip
            connection.executemany("INSERT INTO recognition VALUES (?, ?, ?, ?)", rows)
        connection.commit()
    finally:
        connection.close()
    return total


def generate_company(
    target: Path,
    contracts: int,
    seed: int = SYNTHETIC_SEED,
    first_month: str = SYNTHETIC_FIRST_MONTH,
    months: int = SYNTHETIC_MONTHS,
) -> CompanyPaths:
    """Write a company of ``contracts`` contracts signed over ``months`` months under ``target``."""
    first = parse_month(first_month)
    rng = np.random.default_rng(seed)
    ledger = draw(contracts, first, months, rng)
    width = max(len(str(contracts)), 5)
    target.mkdir(parents=True, exist_ok=True)
    changes = _write_crm(ledger, target / "crm", width)
    lines = _write_erp(ledger, target / "erp.sqlite", width)
    return CompanyPaths(
        crm_dir=target / "crm",
        erp_url=f"sqlite:///{target / 'erp.sqlite'}",
        first_month=month_label(first),
        last_month=month_label(first + months - 1),
        contracts=contracts,
        changes=changes,
        recognition_lines=lines,
    )


def company_digest(paths: CompanyPaths) -> str:
    """A digest of the company's content: the CSV bytes and the ERP rows in line order.

    For the tests, which hold the generator to its promise of the same files per seed.
    """
    digest = hashlib.sha256()
    for name in ("contracts.csv", "contract_changes.csv"):
        digest.update((paths.crm_dir / name).read_bytes())
    connection = sqlite3.connect(paths.erp_url.removeprefix("sqlite:///"))
    try:
        for row in connection.execute("SELECT * FROM recognition ORDER BY line_id"):
            digest.update("\x1f".join(row).encode() + b"\n")
    finally:
        connection.close()
    return digest.hexdigest()


def main() -> None:
    """``python -m backlog_pipeline.demo.synthetic SIZE TARGET`` writes a company."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("size", help=f"{', '.join(SIZES)} or a number of contracts")
    parser.add_argument("target", type=Path)
    parser.add_argument("--seed", type=int, default=SYNTHETIC_SEED)
    arguments = parser.parse_args()
    count = SIZES.get(arguments.size) or int(arguments.size)
    started = time.perf_counter()
    paths = generate_company(arguments.target, count, arguments.seed)
    print(
        f"{paths.contracts} contracts, {paths.changes} changes, {paths.recognition_lines} "
        f"recognition lines, {paths.first_month}..{paths.last_month} in "
        f"{time.perf_counter() - started:.1f}s under {os.fspath(arguments.target)}"
    )


if __name__ == "__main__":
    main()
