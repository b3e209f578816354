"""A deterministic demo company: a CRM export (CSV) and an ERP database (SQLite).

The same seed gives byte-identical files on every machine, so the quick start, the tests
and a reader's own run all see the same figures. Recognition follows each contract's
remaining value and term, so the ERP agrees with the CRM the way a clean close would.
Most contracts are in USD, the reporting currency; a few are in EUR and GBP, with their
monthly rates in the ERP database's ``fx_rates`` table (see ``demo/fx.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from backlog_pipeline.demo.fx import draw_rates, write_rates
from backlog_pipeline.money import format_cents, percent_of, units_to_cents
from backlog_pipeline.periods import first_day, last_day, month_index, month_label, parse_month

DEMO_SEED = 20240101
DEMO_FIRST_MONTH = "2024-01"
DEMO_LAST_MONTH = "2025-12"
DEMO_VERSION = "2"  # 2: EUR and GBP contracts and the fx_rates table
DEMO_RATES_TABLE = "fx_rates"
FOREIGN_CURRENCIES = ("EUR", "GBP")
# No cancellation takes effect in this month, so the demo shows a zero cancellation line.
QUIET_MONTH = "2024-06"

_PRODUCTS = ("Platform", "Analytics", "Services")
_SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
_REGIONS = ("NA", "EMEA", "APAC")
_NAME_A = ("Blue", "North", "Silver", "Quiet", "Bright", "Iron", "Cedar", "Harbor", "Summit")
_NAME_B = ("Labs", "Works", "Logistics", "Foods", "Health", "Systems", "Retail", "Energy")
# (term name, share of contracts, months of service, months from signing to start)
_TERMS = (
    ("monthly-billed", 0.30, (12,), (0,)),
    ("annual", 0.30, (12,), (0, 1)),
    ("multi-year", 0.20, (24, 36), (0, 1)),
    ("future-start", 0.12, (12, 24), (2, 3, 4)),
    ("one-off", 0.08, (1, 2, 3), (0, 1)),
)


@dataclass(frozen=True)
class DemoPaths:
    crm_dir: Path
    erp_url: str
    first_month: str = DEMO_FIRST_MONTH
    last_month: str = DEMO_LAST_MONTH


@dataclass
class _Contract:
    contract_id: str
    customer_id: str
    customer_name: str
    signed: dt.date
    start_month: int
    term_months: int
    tcv_cents: int
    product: str
    segment: str
    region: str
    currency: str = "USD"
    changes: list[dict[str, str]] = field(default_factory=list)
    recognition: list[tuple[int, int]] = field(default_factory=list)


def _day_in(month: int, rng: random.Random) -> dt.date:
    return first_day(month) + dt.timedelta(days=rng.randrange(last_day(month).day))


def _new_contract(number: int, month: int, rng: random.Random) -> _Contract:
    term = rng.choices(_TERMS, weights=[t[1] for t in _TERMS])[0]
    name, _, lengths, delays = term
    term_months = rng.choice(lengths)
    monthly_fee = units_to_cents(rng.choice((500, 750, 1000, 1500, 2500, 4000, 8000)))
    if name == "one-off":
        tcv = units_to_cents(rng.randrange(5_000, 60_000)) + rng.choice((0, 25, 50, 99))
    else:
        tcv = monthly_fee * term_months
    customer = rng.randrange(1, 120)
    return _Contract(
        contract_id=f"C-{number:05d}",
        customer_id=f"CUST-{customer:04d}",
        customer_name=f"{_NAME_A[customer % len(_NAME_A)]} {_NAME_B[customer % len(_NAME_B)]}",
        signed=_day_in(month, rng),
        start_month=month + rng.choice(delays),
        term_months=term_months,
        tcv_cents=tcv,
        product="Services" if name == "one-off" else rng.choice(_PRODUCTS[:2]),
        segment=rng.choice(_SEGMENTS),
        region=rng.choice(_REGIONS),
    )


def _simulate(contract: _Contract, last_month: int, quiet_month: int, rng: random.Random) -> None:
    """Recognize the remaining value ratably and draw the changes along the way."""
    remaining = contract.tcv_cents
    end_month = contract.start_month + contract.term_months - 1
    signed_month = month_index(contract.signed.year, contract.signed.month)
    for month in range(signed_month, min(end_month, last_month) + 1):
        terminated = False
        if month > signed_month and rng.random() < 0.035 and remaining > 0:
            kind = rng.choices(
                ("increase", "decrease", "cancellation-partial", "cancellation-full"),
                weights=(0.40, 0.25, 0.15, 0.20),
            )[0]
            if kind.startswith("cancellation") and month == quiet_month:
                kind = "increase"
            amount = None
            if kind == "increase":
                amount = percent_of(remaining, rng.randrange(10, 40))
                remaining += amount
            elif kind in ("decrease", "cancellation-partial"):
                amount = percent_of(remaining, rng.randrange(5, 40))
                remaining -= amount
            else:
                terminated = True
            contract.changes.append(
                {
                    "effective_date": _day_in(month, rng).isoformat(),
                    "kind": kind.split("-")[0],
                    "amount": "" if amount is None else format_cents(amount),
                }
            )
        if month >= contract.start_month and remaining > 0:
            months_left = end_month - month + 1
            recognized = remaining if months_left == 1 else remaining // months_left
            contract.recognition.append((month, recognized))
            remaining -= recognized
        if terminated:
            return


def _draw_contracts(seed: int) -> list[_Contract]:
    """The USD contracts, then the EUR and GBP ones from a second draw of their own (so the
    USD contracts are the same as before the demo had other currencies)."""
    rng = random.Random(seed)
    first, last = parse_month(DEMO_FIRST_MONTH), parse_month(DEMO_LAST_MONTH)
    quiet = parse_month(QUIET_MONTH)
    contracts: list[_Contract] = []
    for month in range(first, last + 1):
        for _ in range(rng.randrange(8, 14)):
            contract = _new_contract(len(contracts) + 1, month, rng)
            _simulate(contract, last, quiet, rng)
            contracts.append(contract)
    foreign = random.Random(seed + 1)
    for month in range(first, last + 1):
        for _ in range(foreign.randrange(1, 4)):
            contract = _new_contract(len(contracts) + 1, month, foreign)
            contract.currency = foreign.choice(FOREIGN_CURRENCIES)
            _simulate(contract, last, quiet, foreign)
            contracts.append(contract)
    return contracts


def _write_crm(contracts: list[_Contract], crm_dir: Path) -> None:
    crm_dir.mkdir(parents=True, exist_ok=True)
    with open(crm_dir / "contracts.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["contract_id", "customer_id", "customer_name", "signed_date", "start_date",
             "end_date", "tcv", "currency", "product", "segment", "region", "updated_at"]
        )  # fmt: skip
        for c in contracts:
            end = last_day(c.start_month + c.term_months - 1)
            writer.writerow(
                [c.contract_id, c.customer_id, c.customer_name, c.signed.isoformat(),
                 first_day(c.start_month).isoformat(), end.isoformat(), format_cents(c.tcv_cents),
                 c.currency, c.product, c.segment, c.region, f"{c.signed.isoformat()}T09:00:00Z"]
            )  # fmt: skip
    with open(crm_dir / "contract_changes.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["change_id", "contract_id", "effective_date", "kind", "amount"])
        changes = sorted(
            ((ch["effective_date"], c.contract_id, ch) for c in contracts for ch in c.changes),
            key=lambda item: (item[0], item[1]),
        )
        for number, (_, contract_id, ch) in enumerate(changes, start=1):
            writer.writerow(
                [f"CHG-{number:05d}", contract_id, ch["effective_date"], ch["kind"], ch["amount"]]
            )


def _write_erp(contracts: list[_Contract], erp_path: Path) -> None:
    erp_path.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{erp_path}")
    metadata = sa.MetaData()
    recognition = sa.Table(
        "recognition",
        metadata,
        sa.Column("line_id", sa.String, primary_key=True),
        sa.Column("contract_id", sa.String, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        # Text keeps the ERP's two-decimal amounts exact in SQLite, which has no decimal type.
        sa.Column("amount", sa.String, nullable=False),
    )
    metadata.create_all(engine)
    lines = sorted(
        (month, c.contract_id, cents) for c in contracts for month, cents in c.recognition
    )
    with engine.begin() as connection:
        connection.execute(
            recognition.insert(),
            [
                {
                    "line_id": f"REV-{number:06d}",
                    "contract_id": contract_id,
                    "period": month_label(month),
                    "amount": format_cents(cents),
                }
                for number, (month, contract_id, cents) in enumerate(lines, start=1)
            ],
        )
    engine.dispose()


def generate_demo(target: Path, seed: int = DEMO_SEED) -> DemoPaths:
    """Write the demo company under ``target`` (``crm/`` CSV files and ``erp.sqlite``)."""
    contracts = _draw_contracts(seed)
    _write_crm(contracts, target / "crm")
    _write_erp(contracts, target / "erp.sqlite")
    write_rates(
        f"sqlite:///{target / 'erp.sqlite'}",
        DEMO_RATES_TABLE,
        draw_rates(seed, FOREIGN_CURRENCIES, parse_month(DEMO_FIRST_MONTH) - 1,
                   parse_month(DEMO_LAST_MONTH)),
    )  # fmt: skip
    return DemoPaths(crm_dir=target / "crm", erp_url=f"sqlite:///{target / 'erp.sqlite'}")


def ensure_demo(data_dir: Path) -> DemoPaths:
    """The demo under ``data_dir/demo``, generated on first use.

    Generated into a temporary folder and renamed into place, so two processes starting
    at once, or one killed half-way, never leave a half-written demo behind.
    """
    demo_dir = data_dir / "demo"
    marker = demo_dir / f".complete-v{DEMO_VERSION}"
    if not marker.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=data_dir))
        try:
            generate_demo(staging)
            (staging / marker.name).write_text(f"seed {DEMO_SEED}\n", encoding="utf-8")
            if demo_dir.exists() and not marker.exists():
                shutil.rmtree(demo_dir)
            try:
                os.replace(staging, demo_dir)
            except OSError:
                if not marker.exists():  # not a concurrent winner: a real failure
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return DemoPaths(crm_dir=demo_dir / "crm", erp_url=f"sqlite:///{demo_dir / 'erp.sqlite'}")
