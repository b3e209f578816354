"""The bulk route ahead of the publishing transaction: exact money text, refusals, and the
rows a table gets equal to those the plain inserts give."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.money import MAX_ABS_CENTS
from backlog_pipeline.warehouse.arrow_columns import cents_text
from backlog_pipeline.warehouse.bulk import insert_frame
from backlog_pipeline.warehouse.bulk_stage import StagedLoads
from backlog_pipeline.warehouse.engine import create_warehouse_engine
from backlog_pipeline.warehouse.schema import (
    LOCAL_COLUMNS,
    backlog_source_records_table,
    contract_backlog_table,
)

EDGES = [0, 1, -1, 5, -5, 99, -99, 100, -100, 101, -101, 1234567, -1234567,
         MAX_ABS_CENTS, -MAX_ABS_CENTS]  # fmt: skip
BY_HAND = ["0.00", "0.01", "-0.01", "0.05", "-0.05", "0.99", "-0.99", "1.00", "-1.00",
           "1.01", "-1.01", "12345.67", "-12345.67", "9999999999999999.99",
           "-9999999999999999.99"]  # fmt: skip


def test_cents_become_the_canonical_two_decimal_text():
    null = np.zeros(len(EDGES), dtype=bool)
    null[2] = True
    text = cents_text(np.array(EDGES, dtype=np.int64), null).to_pylist()
    assert text == [None if i == 2 else value for i, value in enumerate(BY_HAND)]
    assert [Decimal(v) * 100 for v in BY_HAND] == EDGES  # the text is the figure exactly


def _rows(n: int, figure: int) -> pd.DataFrame:
    figures = {name: np.full(n, figure, dtype=np.int64) for name in
               ("opening", "new_bookings", "converted", "lost", "increases", "decreases",
                "fx_revaluation", "closing", "net_change", *LOCAL_COLUMNS)}  # fmt: skip
    ids = pd.Series([f"C-{i:05d}" for i in range(n)], dtype=object)
    currency = pd.Categorical(["USD"] * n)
    return pd.DataFrame({"period": "2025-12", "contract_id": ids, "currency": currency, **figures})


def _published(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as connection:
        return pd.read_sql(sa.text("SELECT * FROM contract_backlog ORDER BY contract_id"),
                           connection)  # fmt: skip


def test_staged_rows_equal_the_plain_inserts_to_the_text(tmp_path):
    rows = _rows(3_000, -MAX_ABS_CENTS)
    plain = create_warehouse_engine(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    with plain.begin() as connection:
        insert_frame(connection, contract_backlog_table, rows)
    staged = create_warehouse_engine(f"sqlite:///{tmp_path / 'staged.sqlite'}")
    with StagedLoads(staged) as loads:
        loads.stage(contract_backlog_table, "2025-12", lambda: rows)
        assert loads._staged, "taken by the bulk route"
        with staged.connect() as connection, loads.attached(connection), connection.begin():
            loads.insert(connection, contract_backlog_table, "2025-12")
    pd.testing.assert_frame_equal(_published(staged), _published(plain))
    assert _published(staged)["closing"].iloc[0] == "-9999999999999999.99"
    assert not [p for p in tmp_path.iterdir() if ".bulk-" in p.name]


def test_a_figure_beyond_numeric_18_2_is_refused_before_anything_is_written(tmp_path):
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with (
        StagedLoads(engine) as loads,
        pytest.raises(
            ValueError, match=r"contract_backlog.opening: 10000000000000000.00 does not fit"
        ),
    ):
        loads.stage(contract_backlog_table, "2025-12", lambda: _rows(10, MAX_ABS_CENTS + 1))
    assert _published(engine).empty


def test_an_in_memory_warehouse_inserts_in_the_transaction():
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    contract_backlog_table.metadata.create_all(engine, tables=[contract_backlog_table])
    with StagedLoads(engine) as loads:
        loads.stage(contract_backlog_table, "2025-12", lambda: _rows(5, 12345))
        assert not loads._staged
        with engine.connect() as connection, loads.attached(connection), connection.begin():
            loads.insert(connection, contract_backlog_table, "2025-12")
    assert _published(engine)["opening"].tolist() == ["123.45"] * 5


def test_copy_in_csv_keeps_money_texts_and_nulls_exact_on_postgresql(postgres_url):
    engine = create_warehouse_engine(postgres_url)
    records = pd.DataFrame(
        {
            "period": "2025-12",
            "version": 1,
            "contract_id": ["C-1", 'C,"2"', "C-3\\n", ""],
            "figure": "converted",
            "source": "erp_recognition",
            "record_id": ["L-1", "L-2", "", "L\t4"],
            "amount": pd.array([-MAX_ABS_CENTS, -5, None, 100], dtype="Int64"),
        }
    )
    with engine.begin() as connection:
        insert_frame(connection, backlog_source_records_table, records)
    with engine.connect() as connection:
        back = (
            connection.execute(sa.select(backlog_source_records_table).order_by("id"))
            .mappings()
            .all()
        )
    assert [row["contract_id"] for row in back] == ["C-1", 'C,"2"', "C-3\\n", ""]
    assert [row["record_id"] for row in back] == ["L-1", "L-2", "", "L\t4"]
    assert [row["amount"] for row in back] == [
        Decimal("-9999999999999999.99"), Decimal("-0.05"), None, Decimal("1.00")
    ]  # fmt: skip
    engine.dispose()


def test_cents_text_agrees_with_the_python_route_over_random_figures():
    from backlog_pipeline.money import cents_text as python_text

    cents = np.random.default_rng(18).integers(-MAX_ABS_CENTS, MAX_ABS_CENTS, 20_000)
    assert cents_text(cents).to_pylist() == python_text(cents).tolist()


def _records(ids: list[str], period: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": period,
            "contract_id": pd.Series(ids, dtype=object),
            "figure": "converted",
            "source": "erp_recognition",
            "record_id": [f"L-{period}-{i}" for i in range(len(ids))],
            "amount": pd.array([i * 101 - 50 for i in range(len(ids))], dtype="Int64"),
        }
    )


def _all_records(engine: sa.Engine, order: str) -> list[tuple]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(
            "SELECT period, version, contract_id, figure, source, record_id, amount "
            f"FROM backlog_source_records ORDER BY {order}")))  # fmt: skip


def test_parts_get_their_own_constants_and_go_in_in_key_order(tmp_path):
    """Two months of records, contract ids out of order, each with its version: the rows
    equal the plain inserts', and the staged ones were inserted in the index's order."""
    parts = {
        "2025-11": (_records(["C-9", "C-1", "C-5", "C-1"], "2025-11"), 3),
        "2025-12": (_records(["C-2", "C-8", "C-2"], "2025-12"), 1),
    }
    plain = create_warehouse_engine(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    with plain.begin() as connection:
        for records, version in parts.values():
            insert_frame(connection, backlog_source_records_table, records.assign(version=version))
    staged = create_warehouse_engine(f"sqlite:///{tmp_path / 'staged.sqlite'}")
    with StagedLoads(staged) as loads:
        for part, (records, _) in parts.items():
            loads.stage(backlog_source_records_table, part, lambda records=records: records)
        with staged.connect() as connection, loads.attached(connection), connection.begin():
            versions = {part: {"version": v} for part, (_, v) in parts.items()}
            loads.insert_parts(connection, backlog_source_records_table, versions)
    everything = "period, version, contract_id, record_id"
    assert _all_records(staged, everything) == _all_records(plain, everything)
    inserted = [(r[0], r[2], r[5]) for r in _all_records(staged, "id")]
    assert inserted == [
        ("2025-11", "C-1", "L-2025-11-1"),
        ("2025-11", "C-1", "L-2025-11-3"),
        ("2025-11", "C-5", "L-2025-11-2"),
        ("2025-11", "C-9", "L-2025-11-0"),
        ("2025-12", "C-2", "L-2025-12-0"),
        ("2025-12", "C-2", "L-2025-12-2"),
        ("2025-12", "C-8", "L-2025-12-1"),
    ]  # fmt: skip  (a contract's records in the order they were staged)
    with staged.connect() as connection:
        cache = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    assert cache == -2000, "the publishing connection's cache is put back as it was"


def test_a_money_column_equal_to_another_is_staged_once_and_published_as_its_own(tmp_path):
    """November's local figures equal its reporting ones (staged once); December's differ:
    each month's rows come out as the plain inserts write them."""
    november = _rows(50, 1234).assign(period="2025-11")
    december = _rows(50, 1234).assign(opening_local=np.arange(50, dtype=np.int64) - 25)
    plain = create_warehouse_engine(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    with plain.begin() as connection:
        for rows in (november, december):
            insert_frame(connection, contract_backlog_table, rows)
    staged = create_warehouse_engine(f"sqlite:///{tmp_path / 'staged.sqlite'}")
    with StagedLoads(staged) as loads:
        for rows in (november, december):
            loads.stage(contract_backlog_table, rows["period"].iloc[0], lambda rows=rows: rows)
        assert len({scratch for scratch, _, _ in loads._staged.values()}) == 2
        with staged.connect() as connection, loads.attached(connection), connection.begin():
            loads.insert_parts(connection, contract_backlog_table, {"2025-11": {}, "2025-12": {}})
    order = "ORDER BY period, contract_id"
    with plain.connect() as a, staged.connect() as b:
        expected = pd.read_sql(sa.text(f"SELECT * FROM contract_backlog {order}"), a)
        got = pd.read_sql(sa.text(f"SELECT * FROM contract_backlog {order}"), b)
    pd.testing.assert_frame_equal(got, expected)
    assert got["opening_local"].iloc[-1] == "0.24" and got["closing_local"].iloc[-1] == "12.34"
