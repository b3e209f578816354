"""A small company for the RPO disclosure's pipeline tests, every figure worked out by hand.

Closed 2024-01..2024-06 with the one-year expedient elected (duration from the start date),
an ERP revenue plan for P, and a budget of 2,000.00 a month from 2024-07 to 2025-06.
At the end of June 2024:

- W, 2024-01-01..2025-12-31, 24,000.00, 1,000.00 recognized a month: closes at 18,000.00,
  straight line 1,000.00 a month Jul 2024..Dec 2025: 12,000.00 within 12 months, 6,000.00 after.
- P, 2024-01-01..2025-03-31, 12,000.00, 1,000.00 a month: 6,000.00, by the plan 4,000.00 in
  July and 2,000.00 in August (straight line would spread it over 9 months).
- U, no dates, 5,000.00 signed 2024-03-10: 5,000.00 undated.
- N, 2024-02-01..2025-06-30, 1,000.00, 1,200.00 recognized in February: −200.00,
  over-recognized, on its own line.
- S1, 2024-01-01..2024-12-31 (exactly one year), 1,200.00, 100.00 a month: 600.00, excluded.
- S2, 2024-01-01..2025-01-01 (a year and a day), 1,300.00, 100.00 a month: 700.00, kept,
  100.00 a month July..January.
- F, 2024-05-01..2026-04-30, 2,000.00 signed 2024-05-02, flagged: 2,000.00, excluded with
  its reason.

closing 32,100.00; excluded 600.00 + 2,000.00 = 2,600.00; disclosed 29,500.00 = within
18,700.00 (12,000 + 6,000 + 700) + after 6,000.00 + undated 5,000.00 − over-recognized 200.00.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from backlog_pipeline_tests.support import contract, recognized

FLAG = "usage-based fees not yet earned (ASC 606-10-50-14(b))"
MONTHS = ("2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06")
CONTRACTS = [
    contract("W", "2024-01-05", "24000.00", start_date="2024-01-01", end_date="2025-12-31",
             product="Platform"),
    contract("P", "2024-01-05", "12000.00", start_date="2024-01-01", end_date="2025-03-31",
             product="Services"),
    contract("U", "2024-03-10", "5000.00"),
    contract("N", "2024-02-01", "1000.00", start_date="2024-02-01", end_date="2025-06-30"),
    contract("S1", "2024-01-05", "1200.00", start_date="2024-01-01", end_date="2024-12-31"),
    contract("S2", "2024-01-05", "1300.00", start_date="2024-01-01", end_date="2025-01-01"),
    contract("F", "2024-05-02", "2000.00", start_date="2024-05-01", end_date="2026-04-30",
             rpo_exclusion_reason=FLAG),
]  # fmt: skip
RECOGNITION = (
    recognized("W", *((m, "1000.00") for m in MONTHS))
    + recognized("P", *((m, "1000.00") for m in MONTHS))
    + recognized("N", ("2024-02", "1200.00"))
    + recognized("S1", *((m, "100.00") for m in MONTHS))
    + recognized("S2", *((m, "100.00") for m in MONTHS))
)
# P's plan: what was scheduled for each month, the months recognized included.
PLAN = [("P", m, "1000.00") for m in MONTHS] + [("P", "2024-07", "4000.00"),
                                                ("P", "2024-08", "2000.00")]  # fmt: skip


def write_plan(erp_sqlite: Path, plan: list[tuple[str, str, str]] = PLAN) -> None:
    """The plan as a table ``revenue_plan`` of the ERP database (replaced if there)."""
    engine = sa.create_engine(f"sqlite:///{erp_sqlite}")
    frame = pd.DataFrame(plan, columns=["contract_id", "period", "amount"])
    frame.to_sql("revenue_plan", engine, index=False, if_exists="replace")
    engine.dispose()


def write_budget(folder: Path) -> Path:
    """2,000.00 a month from 2024-07 to 2025-06: 24,000.00 over June's next 12 months."""
    months = pd.period_range("2024-07", "2025-06", freq="M").strftime("%Y-%m")
    path = folder / "budget.csv"
    pd.DataFrame({"month": months, "amount": "2000.00"}).to_csv(path, index=False)
    return path
