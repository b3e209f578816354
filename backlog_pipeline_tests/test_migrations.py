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
