"""The commands the README gives, run as a reader would run them."""

import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline_tests.support import partition_key

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def run(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BACKLOG_")}
    environ |= {"BACKLOG_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    return subprocess.run(
        command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=600, check=False
    )


def test_readme_range_backfill_command_materializes_every_asset_in_one_run(tmp_path):
    months_2024 = f"{partition_key('2024-01')}...{partition_key('2024-12')}"
    result = run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "backlog_pipeline.definitions",
         "--select", "*", "--partition-range", months_2024],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'warehouse.sqlite'}")
    with engine.connect() as connection:
        periods = pd.read_sql(sa.text("SELECT period FROM backlog_flow"), connection)["period"]
    engine.dispose()
    assert sorted(periods) == [f"2024-{m:02d}" for m in range(1, 13)]
    assert (tmp_path / "data" / "output" / "2024-12" / "bookings_backlog_total.json").is_file()
    # One run: a single RUN_SUCCESS in the whole log.
    assert (result.stdout + result.stderr).count("RUN_SUCCESS") == 1


def test_backlog_close_prints_the_flow_and_where_it_went(tmp_path):
    result = run([str(BIN / "backlog-close")], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("period"))
    assert [line.split()[0] for line in lines[header + 1 : header + 25]] == [
        f"{year}-{month:02d}" for year in (2024, 2025) for month in range(1, 13)
    ]
    assert "Warehouse: sqlite:///" in result.stdout
    assert f"KPI documents: {tmp_path / 'data' / 'output'}" in result.stdout
    assert f"Board pack: {tmp_path / 'data' / 'output'}/<YYYY-MM>/board_pack.html" in result.stdout
    # The demo has EUR and GBP contracts: the flow shows their revaluation, month by month.
    assert lines[header].split()[8] == "fx_revaluation"
    june = next(line.split() for line in lines if line.startswith("2025-06"))
    assert june[8] == str(_demo_revaluation(tmp_path, "2025-06"))


def _demo_revaluation(tmp_path: Path, period: str) -> Decimal:
    """A month's revaluation from the published local figures and the demo's rates table,
    in ``Decimal`` (half up per contract and figure), apart from the code's integer route."""
    data = tmp_path / "data"
    warehouse = sa.create_engine(f"sqlite:///{data / 'warehouse.sqlite'}")
    erp = sa.create_engine(f"sqlite:///{data / 'demo' / 'erp.sqlite'}")
    with warehouse.connect() as connection, erp.connect() as rates_connection:
        rows = pd.read_sql(
            sa.text("SELECT * FROM contract_backlog WHERE period = :p AND currency != 'USD'"),
            connection,
            params={"p": period},
        )
        rates = pd.read_sql(sa.text("SELECT * FROM fx_rates"), rates_connection)
    warehouse.dispose()
    erp.dispose()
    rate = {(r.currency, r.month, kind): Decimal(getattr(r, kind))
            for r in rates.itertuples() for kind in ("average_rate", "closing_rate")}  # fmt: skip
    year, month = map(int, period.split("-"))
    before = f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"

    def cents(amount: Decimal) -> Decimal:
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    total = Decimal("0.00")
    for row in rows.itertuples():
        local = {name: Decimal(str(getattr(row, f"{name}_local"))) for name in FIGURES}
        average = rate[(row.currency, period, "average_rate")]
        explained = cents(local["opening"] * rate[(row.currency, before, "closing_rate")]) + sum(
            sign * cents(local[name] * average) for name, sign in MOVEMENTS.items()
        )
        total += cents(local["closing"] * rate[(row.currency, period, "closing_rate")]) - explained
    return total


FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")
MOVEMENTS = {"new_bookings": 1, "converted": -1, "lost": -1, "increases": 1, "decreases": -1}
