"""A warehouse the first release wrote, upgraded in place to hold currencies.

The fixture (``first_release``) is three months of the hand dataset closed by release
0.1.0: January locked, March restated to version 2 by a late line of 50.00. After the
upgrade its months have an FX revaluation of 0.00 and local figures equal to their
reporting ones; a close of the same sources by this code finds every month unchanged (the
content digests did not move), so the lock and the versions stand as they were.
"""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from backlog_pipeline.warehouse.engine import create_warehouse_engine
from backlog_pipeline_tests.first_release import write_first_release_warehouse
from backlog_pipeline_tests.support import build, change, check_results, close, contract, table

# The sources the fixture was closed from (its backlog_source_records name every record).
CONTRACTS = [
    contract("C1", "2024-01-10", "12000.00"),
    contract("C2", "2024-02-03", "2400.50"),
    contract("C3", "2024-03-31", "1000.00"),
]
CHANGES = [
    change("X1", "C2", "2024-03-01", "increase", "600.00"),
    change("X2", "C9", "2024-03-05", "increase", "10.00"),  # no such contract: left out
]
RECOGNITION = [
    {"line_id": line, "contract_id": contract_id, "period": period, "amount": amount}
    for line, contract_id, period, amount in (
        ("L0", "C1", "2024-01", "1000.00"),
        ("L1", "C1", "2024-02", "1000.00"),
        ("L2", "C1", "2024-03", "1000.00"),
        ("L3", "C2", "2024-02", "200.25"),
        ("L4", "C2", "2024-03", "100.00"),
        ("L9", "C2", "2024-03", "50.00"),
    )
]
LOCAL = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")


def _money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_a_first_release_warehouse_gets_currencies_and_keeps_its_months(warehouse_url):
    write_first_release_warehouse(warehouse_url)
    create_warehouse_engine(warehouse_url).dispose()

    flow = table(warehouse_url, "backlog_flow")
    assert [_money(v) for v in flow["fx_revaluation"]] == [Decimal("0.00")] * 3
    versions = table(warehouse_url, "publication_versions")
    assert len(versions) == 4 and {_money(v) for v in versions["fx_revaluation"]} == {0}
    for name in ("contract_backlog", "contract_backlog_history"):
        rows = table(warehouse_url, name)
        assert len(rows) and set(rows["currency"]) == {"USD"}
        assert {_money(v) for v in rows["fx_revaluation"]} == {0}
        for figure in LOCAL:
            assert [_money(v) for v in rows[f"{figure}_local"]] == [
                _money(v) for v in rows[figure]
            ], (name, figure)
    # March's current row of C2 (version 2): 2,200.25 + 600 − 150 = 2,650.25 in both.
    rows = table(warehouse_url, "contract_backlog").set_index(["period", "contract_id"])
    assert _money(rows.loc[("2024-03", "C2"), "closing_local"]) == Decimal("2650.25")

    # Each month's flow as its one currency's, and as the constant view (January's rates:
    # with one currency any month's rates give the same figures).
    by_currency = table(warehouse_url, "backlog_flow_by_currency")
    assert list(zip(by_currency["period"], by_currency["currency"], strict=True)) == [
        ("2024-01", "USD"), ("2024-02", "USD"), ("2024-03", "USD")
    ]  # fmt: skip
    assert [_money(v) for v in by_currency["closing"]] == [_money(v) for v in flow["closing"]]
    constant = table(warehouse_url, "backlog_flow_constant_currency")
    assert list(constant["constant_month"]) == ["2024-01"] * 3
    assert set(constant["basis"]) == {"constant currency at 2024-01 rates (non-GAAP)"}
    assert [_money(v) for v in constant["closing"]] == [
        Decimal("11000.00"), Decimal("12200.25"), Decimal("12650.25")
    ]  # fmt: skip
    assert table(warehouse_url, "publication_fx_rates").empty


@pytest.mark.slow
def test_a_close_after_the_upgrade_finds_the_first_release_months_unchanged(
    tmp_path, monkeypatch, warehouse_url
):
    write_first_release_warehouse(warehouse_url)
    defs = build(
        tmp_path, monkeypatch, warehouse_url,
        contracts=CONTRACTS, changes=CHANGES, recognition=RECOGNITION,
    )  # fmt: skip
    result = close(defs, "2024-01", "2024-03")
    # January is locked: a digest that moved would fail the close.
    assert result.success
    evaluation = check_results(result)["matches_published"]
    assert evaluation.passed
    assert evaluation.metadata["months_restated"].value == {}
    versions = table(warehouse_url, "publication_versions")
    assert sorted(zip(versions["period"], versions["version"], strict=True)) == [
        ("2024-01", 1), ("2024-02", 1), ("2024-03", 1), ("2024-03", 2)
    ]  # fmt: skip
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as connection:
        locked = connection.execute(sa.text("SELECT period FROM period_locks")).scalars().all()
    engine.dispose()
    assert locked == ["2024-01"]
