"""The warehouse schema changes only by migrations, and upgrades keep every published row."""

import subprocess
import sys
from decimal import Decimal

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from backlog_pipeline.periods import parse_month
from backlog_pipeline.warehouse.engine import create_warehouse_engine
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.migrate import current_revision, head
from backlog_pipeline.warehouse.reads import current_versions
from backlog_pipeline.warehouse.schema import metadata
from backlog_pipeline_tests.first_release import first_release_rows, write_first_release_warehouse


def _schema_differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), metadata)


def test_a_new_warehouse_gets_exactly_the_schema_the_code_defines(warehouse_url):
    # A table or column added to schema.py without a migration shows up here as a difference.
    engine = create_warehouse_engine(warehouse_url)
    with engine.connect() as connection:
        assert current_revision(connection) == head()
    assert _schema_differences(engine) == []
    engine.dispose()


def test_a_first_release_warehouse_is_upgraded_in_place_and_keeps_every_row(warehouse_url):
    write_first_release_warehouse(warehouse_url)
    before = sa.create_engine(warehouse_url)
    with before.connect() as connection:
        assert current_revision(connection) is None  # the first release had no migrations
    before.dispose()

    engine = create_warehouse_engine(warehouse_url)
    with engine.connect() as connection:
        assert current_revision(connection) == head()
        # Every row the first release wrote is still there, figures exact to the cent.
        for name, rows in first_release_rows().items():
            table = metadata.tables[name]
            stored = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            assert stored == len(rows), name
        flow = {
            row.period: row.closing
            for row in connection.execute(sa.select(metadata.tables["backlog_flow"]))
        }
        assert {p: Decimal(str(c)) for p, c in flow.items()} == {
            "2024-01": Decimal("11000.00"),
            "2024-02": Decimal("12200.25"),
            "2024-03": Decimal("12650.25"),  # version 2: the late line of 50.00 restated March
        }
        versions = current_versions(connection, [parse_month(m) for m in flow])
        assert {month: v.version for month, v in versions.items()} == {
            parse_month("2024-01"): 1,
            parse_month("2024-02"): 1,
            parse_month("2024-03"): 2,
        }
        held = locks(connection, [parse_month("2024-01")])
        assert held[parse_month("2024-01")].locked_by == "Jane Roe (CFO)"
        history = connection.execute(
            sa.select(metadata.tables["contract_backlog_history"].c.version).distinct()
        ).scalars()
        assert list(history) == [1]
    assert _schema_differences(engine) == []
    engine.dispose()


def test_processes_opening_a_new_warehouse_at_once_migrate_it_once(warehouse_url):
    # The multiprocess executor's steps open the warehouse at the same moment.
    script = (
        "import sys; from backlog_pipeline.warehouse.engine import create_warehouse_engine; "
        "create_warehouse_engine(sys.argv[1]).dispose()"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, warehouse_url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for process in processes:
        _, error = process.communicate(timeout=120)
        assert process.returncode == 0, error.decode()
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as connection:
        assert current_revision(connection) == head()
    assert _schema_differences(engine) == []
    engine.dispose()


def _sqlite_values(url: str, query: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.exec_driver_sql(query)]
    engine.dispose()
    return rows


def test_a_first_release_sqlite_warehouse_gets_exact_text_money(tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    write_first_release_warehouse(url)
    # The first release stored doubles: 70,368,744,177,663.99 is still exact as one (below
    # 2**46 units), 9,999,999,999,999,999.99 was already stored as 1e16.
    raw = sa.create_engine(url)
    with raw.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE contract_backlog SET closing = 70368744177663.99 "
            "WHERE period = '2024-01' AND contract_id = 'C1'"
        )
        connection.exec_driver_sql(
            "UPDATE contract_backlog SET opening = 9999999999999999.99 "
            "WHERE period = '2024-01' AND contract_id = 'C1'"
        )
        kinds = connection.exec_driver_sql("SELECT DISTINCT typeof(closing) FROM backlog_flow")
        assert {kind for (kind,) in kinds} <= {"real", "integer"}
    raw.dispose()

    create_warehouse_engine(url).dispose()
    for table, column in (
        ("backlog_flow", "closing"), ("backlog_flow", "net_change_pct"),
        ("contract_backlog", "lost"), ("publication_versions", "opening"),
        ("contract_backlog_history", "converted"), ("backlog_source_records", "amount"),
        ("backlog_exceptions", "amount"),
    ):  # fmt: skip
        kinds = _sqlite_values(url, f"SELECT DISTINCT typeof({column}) FROM {table}")
        assert {kind for (kind,) in kinds} <= {"text", "null"}, (table, column)
    assert _sqlite_values(url, "SELECT period, closing, net_change_pct FROM backlog_flow") == [
        ("2024-01", "11000.00", None),
        ("2024-02", "12200.25", "10.91"),  # 1200.25 / 11000.00 = 10.911 %
        ("2024-03", "12650.25", "3.69"),  # 450.00 / 12200.25 = 3.688 %
    ]
    c1 = _sqlite_values(
        url, "SELECT opening, closing FROM contract_backlog WHERE period = '2024-01' "
        "AND contract_id = 'C1'",
    )  # fmt: skip
    assert c1 == [("10000000000000000.00", "70368744177663.99")]
    assert _sqlite_values(url, "SELECT amount FROM backlog_exceptions ORDER BY id")[0] == ("10.00",)
    indexes = {name for (name,) in _sqlite_values(url, "SELECT name FROM sqlite_master "
                                                   "WHERE type = 'index'")}  # fmt: skip
    assert {"ix_backlog_exceptions_check_period", "ix_backlog_source_records_month"} <= indexes
    # The published rows read back through the tables are the same Decimals as before.
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        closings = dict(
            connection.execute(
                sa.select(metadata.tables["backlog_flow"].c["period", "closing"])
            ).all()
        )
    engine.dispose()
    assert closings["2024-02"] == Decimal("12200.25")


def test_the_sqlite_money_migration_goes_back_down(tmp_path):
    from alembic import command

    from backlog_pipeline.warehouse.migrate import _config

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    write_first_release_warehouse(url)
    engine = create_warehouse_engine(url)
    with engine.begin() as connection:
        command.downgrade(_config(connection), "0001")
    engine.dispose()
    kinds = _sqlite_values(url, "SELECT DISTINCT typeof(closing) FROM contract_backlog")
    assert {kind for (kind,) in kinds} <= {"real", "integer"}
    assert _sqlite_values(url, "SELECT closing FROM backlog_flow WHERE period = '2024-02'") == [
        (12200.25,)
    ]
