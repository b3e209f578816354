"""Money at the edge of NUMERIC(18,2), exact on SQLite and PostgreSQL, and never wrapped.

The largest figure a NUMERIC(18,2) column holds is 9,999,999,999,999,999.99; a double
holds only about 15–16 significant digits, so SQLite's own NUMERIC (a double) would store
10,000,000,000,000,000 for it.
"""

import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import simplejson
import sqlalchemy as sa

from backlog_pipeline.accounting.as_of import total_closing_as_of_months
from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.cli import months
from backlog_pipeline.money import AmountsTooLargeError, exact_sum, two_decimals
from backlog_pipeline.periods import parse_month
from backlog_pipeline.warehouse.schema import backlog_flow_table, contract_backlog_table
from backlog_pipeline_tests.support import (
    build,
    close,
    contract,
    frames,
    read,
    recognized,
)

LARGEST = Decimal("9999999999999999.99")


def test_exact_sum_does_not_wrap_where_int64_does():
    values = np.array([2**62, 2**62, 5], dtype=np.int64)
    assert exact_sum(values) == 2**63 + 5
    assert values.sum() < 0  # int64 wraps around
    assert exact_sum(np.array([-(2**62), -(2**62), -5], dtype=np.int64)) == -(2**63) - 5


def test_two_decimals_refuses_instead_of_rounding_or_wrapping():
    assert two_decimals("9999999999999999.99") == LARGEST
    assert str(two_decimals(Decimal("12.5000"))) == "12.50"
    for bad, reason in (
        ("10000000000000000.00", "does not fit NUMERIC(18,2)"),
        ("-10000000000000000", "does not fit NUMERIC(18,2)"),
        ("0.005", "not a whole number of cents"),
        ("NaN", "not a finite number"),
    ):
        with pytest.raises(ValueError, match=re.escape(reason)):
            two_decimals(bad)


def test_amounts_whose_sums_could_wrap_int64_are_refused_by_both_routes():
    # Ten contracts of 9,999,999,999,999,999.99: 10^17 in all, more than int64's
    # 92,233,720,368,547,758.07 in cents. Before the guard January's new bookings wrapped
    # around to a negative figure.
    contracts, changes, recognition = frames(
        [contract(f"C{i}", "2024-01-10", str(LARGEST)) for i in range(10)], [], []
    )
    january = parse_month("2024-01")
    with pytest.raises(
        AmountsTooLargeError, match=re.escape("crm_contracts tcv 99999999999999999.90")
    ):
        compute_backlog(contracts, changes, recognition, january, january)
    with pytest.raises(AmountsTooLargeError, match=re.escape("92233720368547758.07")):
        total_closing_as_of_months(contracts, changes, recognition, [january])


def _money_columns(url: str, table: sa.Table, period: str) -> dict[str, Decimal]:
    """The row of ``period`` as SQLAlchemy reads it through the table's types."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        row = connection.execute(sa.select(table).where(table.c.period == period)).mappings()
        found = dict(row.first())
    engine.dispose()
    return found


@pytest.mark.slow
def test_the_largest_figure_round_trips_through_tables_json_and_backlog_months(
    tmp_path, monkeypatch, warehouse_url, capsys
):
    # C1 books 9,999,999,999,999,999.99 in January and converts 0.01 in February:
    # February opens at the largest figure and closes 0.01 lower.
    defs = build(
        tmp_path, monkeypatch, warehouse_url,
        contracts=[contract("C1", "2024-01-10", str(LARGEST))], changes=[],
        recognition=recognized("C1", ("2024-02", "0.01")),
    )  # fmt: skip
    assert close(defs, "2024-01", "2024-02").success
    january = _money_columns(warehouse_url, backlog_flow_table, "2024-01")
    assert (january["new_bookings"], january["closing"]) == (LARGEST, LARGEST)
    february = _money_columns(warehouse_url, backlog_flow_table, "2024-02")
    assert february["opening"] == LARGEST
    assert february["closing"] == Decimal("9999999999999999.98")
    assert february["net_change"] == Decimal("-0.01")
    assert _money_columns(warehouse_url, contract_backlog_table, "2024-01")["closing"] == LARGEST
    # Raw SQL gets the exact figure too: SQLite's text, PostgreSQL's numeric.
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as connection:
        raw = connection.execute(
            sa.text("SELECT closing FROM backlog_flow WHERE period = '2024-01'")
        ).scalar_one()
    engine.dispose()
    assert Decimal(raw) == LARGEST

    document = tmp_path / "data" / "output" / "2024-01" / "bookings_backlog_changes.json"
    assert '"endingBackLogValue": 9999999999999999.99' in document.read_text()
    parsed = simplejson.loads(document.read_text(), use_decimal=True)
    assert parsed["endingBackLogValue"] == LARGEST

    capsys.readouterr()
    assert months.main(["versions", "2024-01"]) == 0
    assert "9999999999999999.99" in capsys.readouterr().out
    assert months.main(["trace", "2024-01", "--contract", "C1"]) == 0
    assert capsys.readouterr().out.count("9999999999999999.99") >= 2  # the flow and the row


@pytest.mark.slow
@pytest.mark.parametrize(
    ("contracts", "refusal"),
    [
        # 9,999,999,999,999,999.99 + 0.01 booked in January: 10^16 new bookings.
        (
            [contract("C1", "2024-01-10", str(LARGEST)), contract("C2", "2024-01-11", "0.01")],
            "2024-01 new_bookings = 10000000000000000.00 does not fit NUMERIC(18,2)",
        ),
        # February opens at 0.01 and books 9,999,999,999,999,999.98: it closes at the
        # largest figure, which fits, but its net change is 999,999,999,999,999,998 times
        # the opening: +99,999,999,999,999,999,800%.
        (
            [
                contract("C1", "2024-01-10", "0.01"),
                contract("C2", "2024-02-11", "9999999999999999.98"),
            ],
            "2024-02 net_change_pct = 99999999999999999800.00 does not fit NUMERIC(18,2)",
        ),
    ],
)
def test_a_figure_beyond_numeric_18_2_fails_naming_month_and_figure(
    tmp_path, monkeypatch, warehouse_url, contracts, refusal
):
    defs = build(
        tmp_path, monkeypatch, warehouse_url, contracts=contracts, changes=[], recognition=[]
    )
    result = close(defs, "2024-01", "2024-02")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "publish_warehouse_tables"
    message = failure.step_failure_data.error.message
    assert refusal in message and "Nothing was written" in message
    assert read(warehouse_url, "SELECT * FROM backlog_flow").empty


@pytest.mark.slow
def test_sqlite_money_is_stored_as_canonical_text(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    assert close(build(tmp_path, monkeypatch, url), "2024-01", "2024-06").success
    # Hand figures (support.EXPECTED): February closes at 12200.25, January opens at 0.
    flow = read(url, "SELECT period, typeof(closing) AS kind, closing, opening FROM backlog_flow")
    assert set(flow["kind"]) == {"text"}
    february = flow.set_index("period").loc["2024-02"]
    assert (february["closing"], flow.set_index("period").loc["2024-01", "opening"]) == (
        "12200.25",
        "0.00",
    )
    rows = read(url, "SELECT DISTINCT typeof(closing) AS kind FROM contract_backlog")
    assert rows["kind"].tolist() == ["text"]
    records = read(url, "SELECT DISTINCT typeof(amount) AS kind FROM backlog_source_records")
    assert set(records["kind"]) <= {"text", "null"}
    # pandas turns Decimal into float unless told not to (on PostgreSQL as well).
    flow = pd.read_sql(sa.select(backlog_flow_table), url, coerce_float=False)
    assert flow.set_index("period").loc["2024-02", "closing"] == Decimal("12200.25")
    assert isinstance(flow["closing"][0], Decimal)
