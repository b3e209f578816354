"""A synthetic company of any size, in the demo's layout, for tests and benchmarks.

The same folder shape as :mod:`backlog_pipeline.demo.generate` (``crm/contracts.csv``,
``crm/contract_changes.csv`` and ``erp.sqlite`` with a ``recognition`` table of text
amounts), so the pipeline reads it with the default CSV CRM and SQL ERP settings
(``BACKLOG_CRM_DIR``, ``BACKLOG_ERP_URL``). Everything is drawn with numpy from one seed,
month by month over all contracts at once, so a million contracts and their fifteen
million recognition lines take a minute or two rather than an hour.

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

from backlog_pipeline.money import cents_text, percent_of, units_to_cents
from backlog_pipeline.periods import first_days, month_label, month_labels, parse_month

SIZES = {"small": 1_000, "medium": 100_000, "large": 1_000_000}
SYNTHETIC_SEED = 20230101
SYNTHETIC_FIRST_MONTH = "2023-01"
SYNTHETIC_MONTHS = 36
# (share of contracts, months of service, months from signing to start): the demo's mix
# with more multi-year contracts. With the bundles below, a contract has about 15 lines.
_TERMS = (
    (0.20, (12,), (0,)),  # monthly-billed
    (0.25, (12, 24), (0, 1)),  # annual and two-year
    (0.40, (24, 36, 48), (0, 1)),  # multi-year
    (0.10, (12, 24), (2, 3, 4)),  # future-start
    (0.05, (1, 2, 3), (0, 1)),  # one-off
)
_ONE_OFF = 4
_MONTHLY_FEES = units_to_cents(np.array([500, 750, 1000, 1500, 2500, 4000, 8000], dtype=np.int64))
_PRODUCTS = np.array(["Platform", "Analytics", "Services"], dtype=object)
_SEGMENTS = np.array(["SMB", "Mid-Market", "Enterprise"], dtype=object)
_REGIONS = np.array(["NA", "EMEA", "APAC"], dtype=object)
_NAME_A = np.array(["Blue", "North", "Silver", "Quiet", "Bright", "Iron", "Cedar", "Harbor"])
_NAME_B = np.array(["Labs", "Works", "Logistics", "Foods", "Health", "Systems", "Retail"])
_CHANGE_RATE = 0.035  # chance of a change in a month of service after the signing month
_CHANGE_KINDS = np.array(["increase", "decrease", "cancellation", "cancellation"], dtype=object)
_CHANGE_WEIGHTS = (0.40, 0.25, 0.15, 0.20)  # increase, decrease, partial and full cancellation
_BUNDLE_RATE = 0.20  # contracts with two performance obligations: two lines a month
_REVERSAL_RATE = 0.01  # share of recognition lines posted as a larger line and a reversal
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


_CHANGE_FIELDS = ("change_contract", "change_month", "change_day", "change_kind", "change_amount")
_LINE_FIELDS = ("line_contract", "line_month", "line_amount")


@dataclass
class _Ledger:
    """The drawn company, every column a numpy array."""

    signed_month: np.ndarray
    signed_day: np.ndarray
    start_month: np.ndarray
    end_month: np.ndarray
    tcv: np.ndarray
    customer: np.ndarray
    product: np.ndarray
    segment: np.ndarray
    region: np.ndarray
    change_contract: np.ndarray
    change_month: np.ndarray
    change_day: np.ndarray
    change_kind: np.ndarray
    change_amount: np.ndarray  # -1: none (a full termination)
    line_contract: np.ndarray
    line_month: np.ndarray
    line_amount: np.ndarray


def _days_in(months: np.ndarray) -> np.ndarray:
    return (first_days(months + 1) - first_days(months)).astype(np.int64)


def _day_in(months: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(months)) * _days_in(months)).astype(np.int64)


def _draw_contracts(n: int, first: int, last: int, rng: np.random.Generator) -> dict:
    """The contracts' columns, sorted by signing."""
    signed_month = np.sort(rng.integers(first, last + 1, n))
    signed_day = _day_in(signed_month, rng)
    order = np.lexsort((signed_day, signed_month))
    signed_month, signed_day = signed_month[order], signed_day[order]
    term_kind = rng.choice(len(_TERMS), size=n, p=[t[0] for t in _TERMS])
    term = np.zeros(n, dtype=np.int64)
    delay = np.zeros(n, dtype=np.int64)
    for kind, (_, lengths, delays) in enumerate(_TERMS):
        chosen = term_kind == kind
        term[chosen] = rng.choice(np.array(lengths), size=int(chosen.sum()))
        delay[chosen] = rng.choice(np.array(delays), size=int(chosen.sum()))
    start_month = signed_month + delay
    fee = rng.choice(_MONTHLY_FEES, size=n)
    one_off = term_kind == _ONE_OFF
    one_off_value = units_to_cents(rng.integers(5_000, 60_000, n)) + rng.choice(
        [0, 25, 50, 99], size=n
    )
    return {
        "signed_month": signed_month,
        "signed_day": signed_day,
        "start_month": start_month,
        "end_month": start_month + term - 1,
        "tcv": np.where(one_off, one_off_value, fee * term),
        "customer": rng.integers(1, max(n // 8, 2), n),
        "product": np.where(one_off, 2, rng.integers(0, 2, n)),
        "segment": rng.integers(0, 3, n),
        "region": rng.integers(0, 3, n),
    }


def _simulate(contracts: dict, first: int, last: int, rng: np.random.Generator) -> tuple:
    """Month by month over all contracts: the changes drawn and the lines recognized."""
    signed_month, start_month, end_month = (
        contracts["signed_month"], contracts["start_month"], contracts["end_month"]
    )  # fmt: skip
    remaining = contracts["tcv"].copy()
    terminated = np.zeros(len(remaining), dtype=bool)
    changes: list[tuple[np.ndarray, ...]] = []
    lines: list[tuple[np.ndarray, ...]] = []
    for month in range(first, last + 1):
        # Contracts are sorted by signing: those signed by this month are a prefix.
        signed = int(np.searchsorted(signed_month, month, side="right"))
        alive = ~terminated[:signed] & (month <= end_month[:signed])
        candidates = np.flatnonzero(
            alive & (month > signed_month[:signed]) & (remaining[:signed] > 0)
        )
        drawn = candidates[rng.random(len(candidates)) < _CHANGE_RATE]
        kind = rng.choice(4, size=len(drawn), p=_CHANGE_WEIGHTS)
        share = np.where(
            kind == 0, rng.integers(10, 40, len(drawn)), rng.integers(5, 40, len(drawn))
        )
        amount = percent_of(remaining[drawn], share)
        amount = np.where(kind == 3, -1, amount)
        remaining[drawn] += np.where(kind == 0, amount, np.where(kind == 3, 0, -amount))
        changes.append((drawn, np.full(len(drawn), month), _day_in(np.full(len(drawn), month), rng),
                        kind, amount))  # fmt: skip

        serving = np.flatnonzero(alive & (month >= start_month[:signed]) & (remaining[:signed] > 0))
        months_left = end_month[serving] - month + 1
        recognized = np.where(
            months_left == 1, remaining[serving], remaining[serving] // months_left
        )
        remaining[serving] -= recognized
        lines.append((serving, np.full(len(serving), month), recognized))
        terminated[drawn[kind == 3]] = True
    return (
        tuple(np.concatenate(column) for column in zip(*changes, strict=True)),
        tuple(np.concatenate(column) for column in zip(*lines, strict=True)),
    )


def _split_and_correct(
    line_contract: np.ndarray,
    line_month: np.ndarray,
    line_amount: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bundles in two lines a month, and some lines posted larger and reversed in part."""
    # Bundles recognize each month's amount in two lines, one per performance obligation.
    bundle = rng.random(n) < _BUNDLE_RATE
    split = np.flatnonzero(bundle[line_contract] & (line_amount >= 2))
    second = line_amount[split] - line_amount[split] // 2
    line_amount = line_amount.copy()
    line_amount[split] -= second
    line_contract = np.insert(line_contract, split + 1, line_contract[split])
    line_month = np.insert(line_month, split + 1, line_month[split])
    line_amount = np.insert(line_amount, split + 1, second)
    # Corrections: some lines are posted as a larger amount and a reversal in the same month.
    corrected = np.flatnonzero(rng.random(len(line_amount)) < _REVERSAL_RATE)
    reversal = line_amount[corrected] // 3 + 1
    line_amount[corrected] += reversal
    at = corrected + 1  # each reversal right after its line
    line_contract = np.insert(line_contract, at, line_contract[corrected])
    line_month = np.insert(line_month, at, line_month[corrected])
    line_amount = np.insert(line_amount, at, -reversal)
    return line_contract, line_month, line_amount


def _draw(n: int, first: int, months: int, rng: np.random.Generator) -> _Ledger:
    last = first + months - 1
    contracts = _draw_contracts(n, first, last, rng)
    changes, lines = _simulate(contracts, first, last, rng)
    lines = _split_and_correct(*lines, n, rng)
    return _Ledger(
        **contracts,
        **dict(zip(_CHANGE_FIELDS, changes, strict=True)),
        **dict(zip(_LINE_FIELDS, lines, strict=True)),
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object)


def _dates(months: np.ndarray, days: np.ndarray) -> np.ndarray:
    return (first_days(months) + days).astype(str)


def _write_crm(ledger: _Ledger, crm_dir: Path, width: int) -> int:
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


def _write_erp(ledger: _Ledger, erp_path: Path, width: int) -> int:
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
    ledger = _draw(contracts, first, months, rng)
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
