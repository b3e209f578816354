"""The warehouse under the conditions the multiprocess executor creates."""

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from backlog_pipeline.warehouse.engine import create_warehouse_engine, redacted


def test_parallel_steps_creating_the_tables_at_once_all_succeed(warehouse_url):
    # Dagster runs the three source steps in parallel; each opens the warehouse first.
    with ThreadPoolExecutor(max_workers=8) as pool:
        engines = list(pool.map(lambda _: create_warehouse_engine(warehouse_url), range(8)))
    tables = set(sa.inspect(engines[0]).get_table_names())
    assert {"backlog_flow", "contract_backlog", "source_quarantine"} <= tables
    for engine in engines:
        engine.dispose()


def test_a_password_in_the_url_is_masked():
    shown = redacted("postgresql+psycopg2://finance:s3cr3t-pw@db.example:5432/close")
    assert "s3cr3t-pw" not in shown and "finance:***@db.example" in shown


def test_bulk_rows_read_back_exactly_as_the_decimal_records_path_writes_them(warehouse_url):
    from decimal import Decimal

    import pandas as pd

    from backlog_pipeline.warehouse.bulk import insert_rows
    from backlog_pipeline.warehouse.schema import (
        LOCAL_COLUMNS,
        backlog_exceptions_table,
        contract_backlog_table,
    )

    # Up to 13 significant digits: SQLite keeps NUMERIC as a double (15 exact digits).
    cents = [0, 1, 10, -10, 1250, -99_999_999_999_99, 9_999_999_999_999, 12_218_75]
    ids = ["C-1", "tab\there", "new\nline", "back\\slash", "quote'\"", "ünï", "", "C-8"]
    figures = ("opening", "new_bookings", "converted", "lost", "increases", "decreases",
               "fx_revaluation", "closing", "net_change", *LOCAL_COLUMNS)  # fmt: skip
    frame = pd.DataFrame(
        {"period": "2024-01", "contract_id": ids, "currency": "USD"} | dict.fromkeys(figures, cents)
    )
    engine = create_warehouse_engine(warehouse_url)
    records = [
        {"period": "2024-02", "contract_id": i, "currency": "USD"}
        | {name: Decimal(c).scaleb(-2) for name in frame.columns[3:]}
        for i, c in zip(ids, cents, strict=True)
    ]
    exceptions = pd.DataFrame(
        {"check_name": "x", "severity": "WARN", "asset": "a", "period": [None, "2024-01"],
         "source": "s", "record_id": [None, "R"], "contract_id": None,
         "amount": pd.array([None, -5], dtype="Int64"), "reason": "r", "run_id": "run",
         "detected_at": pd.Timestamp("2024-01-02T03:04:05Z").to_pydatetime()}
    )  # fmt: skip
    with engine.begin() as connection:
        insert_rows(connection, contract_backlog_table, frame)
        insert_rows(connection, contract_backlog_table, records)
        insert_rows(connection, backlog_exceptions_table, exceptions)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(contract_backlog_table).order_by(contract_backlog_table.c.period)
        ).all()
        found = connection.execute(
            sa.select(backlog_exceptions_table).order_by(backlog_exceptions_table.c.id)
        ).all()
    engine.dispose()
    bulk = {row.contract_id: row for row in rows if row.period == "2024-01"}
    plain = {row.contract_id: row for row in rows if row.period == "2024-02"}
    assert set(bulk) == set(plain) == set(ids)
    for contract_id, amount in zip(ids, cents, strict=True):
        assert bulk[contract_id].closing == Decimal(amount).scaleb(-2)
        assert bulk[contract_id][3:] == plain[contract_id][3:]
    assert [(row.period, row.record_id, row.amount) for row in found] == [
        (None, None, None), ("2024-01", "R", Decimal("-0.05"))
    ]  # fmt: skip
    assert found[0].detected_at.replace(tzinfo=None) == pd.Timestamp("2024-01-02T03:04:05")
