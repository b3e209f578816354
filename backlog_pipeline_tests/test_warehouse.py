"""The warehouse under the conditions the multiprocess executor creates."""

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from backlog_pipeline.warehouse import create_warehouse_engine, redacted


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
