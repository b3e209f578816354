"""Incremental pulls of a SQL ERP into its Parquet snapshot (issue 18, incremental by default).

The query sent asks only for changed rows; the snapshot after a pull equals a full read;
deletions are caught by the count check or by the periodic reconciliation's digest.
"""

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.sources import sql, sql_arrow, sql_pull
from backlog_pipeline.sources.snapshot import carried_marks
from backlog_pipeline_tests.support import RecordingLog as Log

MODIFIED = {"last_modified": "changed_at"}


class _Cursor:
    def __init__(self, cursor, sent: list[str]) -> None:
        self.cursor, self.sent = cursor, sent

    def execute(self, statement, *args):
        self.sent.append(statement)
        return self.cursor.execute(statement, *args)

    def __getattr__(self, name):
        return getattr(self.cursor, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.cursor.__exit__(*exc)


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    """Every statement the ADBC driver is asked to run, as it is handed to its cursor."""
    statements: list[str] = []
    real = sql_arrow._connect

    class Connection:
        def __init__(self, connection) -> None:
            self.connection = connection

        def cursor(self):
            return _Cursor(self.connection.cursor(), statements)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.connection.__exit__(*exc)

    monkeypatch.setattr(sql_arrow, "_connect", lambda d, u: Connection(real(d, u)))
    return statements


def _line(n: int, period: str, amount: str, changed: str) -> dict:
    return {"line_id": f"L{n}", "contract_id": f"C{n % 3}", "period": period,
            "amount": amount, "changed_at": changed}  # fmt: skip


LINES = [_line(1, "2024-01", "100.00", "2024-01-31 10:00:00"),
         _line(2, "2024-02", "200.00", "2024-02-29 10:00:00"),
         _line(3, "2024-03", "300.00", "2024-03-31 10:00:00"),
         _line(4, "2024-03", "40.00", "2024-03-31 11:00:00")]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def erp(request, tmp_path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'erp.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = sa.create_engine(url)
    types = {"changed_at": sa.DateTime()} if request.param == "postgresql" else {}
    frame = pd.DataFrame(LINES)
    if request.param == "postgresql":
        frame["changed_at"] = pd.to_datetime(frame["changed_at"])
    frame.to_sql("recognition", engine, index=False, dtype=types)
    engine.dispose()
    return url


def run(sql_statement: str, url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(sql_statement)
    engine.dispose()


def pull(url: str, folder, columns=MODIFIED, **settings) -> sql_pull.Pulled:
    source = sql_pull.SqlSource(url, "ERP", sql.recognition_select(columns))
    pulled = sql_pull.pull_into(source, folder, "erp", sql_pull.PullSettings(**settings), Log())
    sql_pull.settle_mark(pulled, "erp", lambda: {"rows": len(pulled.rows)})
    return pulled


def by_id(pulled: sql_pull.Pulled) -> list[tuple]:
    frame = sql_arrow.to_frame(pulled.rows)
    return sorted(frame[["line_id", "period", "amount"]].itertuples(index=False, name=None))


def full_read(url: str, columns=MODIFIED) -> list[tuple]:
    raw, _ = sql.read_recognition(url, "ERP", columns)
    return sorted(raw[["line_id", "period", "amount"]].itertuples(index=False, name=None))


def test_the_query_sent_asks_only_for_rows_changed_since_the_mark(erp, tmp_path, sent):
    first = pull(erp, tmp_path / "snap")
    assert first.pull.full == "there is no snapshot yet" and first.fetched == 4
    assert first.pull.state.high_water_mark == "2024-03-31T11:00:00.000Z"
    # A late correction to January and a new April line, both stamped after the mark.
    run("UPDATE recognition SET amount = '90.00', changed_at = '2024-04-02 09:00:00' "
        "WHERE line_id = 'L1'", erp)  # fmt: skip
    run("INSERT INTO recognition VALUES ('L5', 'C2', '2024-04', '50.00', '2024-04-30 09:00:00')",
        erp)  # fmt: skip
    sent.clear()
    second = pull(erp, tmp_path / "snap")
    assert second.pull.full is None and second.pull.since == "2024-03-31T11:00:00.000Z"
    # The two changed rows and L4, stamped exactly at the mark (asked again on purpose: two
    # rows can share a time); not the five rows of the table.
    assert second.fetched == 3
    query = sent[-1]
    if erp.startswith("sqlite"):
        assert "julianday(source_rows.last_modified) >= julianday('2024-03-31T11:00:00.000Z')" in (
            query)  # fmt: skip
    else:
        assert (
            "CAST(source_rows.last_modified AS TIMESTAMP WITH TIME ZONE) >= "
            "CAST('2024-03-31T11:00:00.000Z' AS TIMESTAMP WITH TIME ZONE)"
        ) in query
    assert by_id(second) == full_read(erp)
    assert ("L1", "2024-01", "90.00") in by_id(second)
    assert second.pull.state.high_water_mark == "2024-04-30T09:00:00.000Z"


def test_nothing_changed_returns_the_boundary_row_and_keeps_the_carried_mark(erp, tmp_path):
    first = pull(erp, tmp_path / "snap")
    again = pull(erp, tmp_path / "snap")
    assert again.fetched == 1 and not again.pull.changed  # L4, stamped at the mark
    assert carried_marks(tmp_path / "snap" / "erp.parquet") == {"erp": {"rows": 4}}
    assert first.pull.changed


def test_without_a_modification_column_the_open_months_are_asked_for(tmp_path, sent):
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = sa.create_engine(url)
    pd.DataFrame(LINES).drop(columns="changed_at").to_sql("recognition", engine, index=False)
    engine.dispose()
    assert pull(url, tmp_path / "snap", columns={}).pull.full  # nothing to start from
    run("DELETE FROM recognition WHERE line_id = 'L4'", url)  # inside the open months
    run("INSERT INTO recognition VALUES ('L6', 'C0', '2024-03', '60.00')", url)
    sent.clear()
    second = pull(url, tmp_path / "snap", columns={}, open_from="2024-03")
    assert second.pull.full is None and second.fetched == 2  # L3 and L6, March on
    assert "CAST(source_rows.period AS TEXT) >= '2024-03'" in sent[-1]
    assert by_id(second) == full_read(url, {})
    # With nothing locked there is no open month to ask from: a full pull.
    assert "no month is closed (locked)" in pull(url, tmp_path / "snap", columns={}).pull.full


def test_a_deleted_row_of_an_old_month_is_caught_by_the_count(erp, tmp_path):
    pull(erp, tmp_path / "snap")
    run("DELETE FROM recognition WHERE line_id = 'L2'", erp)  # February, no new mark
    second = pull(erp, tmp_path / "snap")
    assert (
        second.pull.full == "reconciliation: the source has 3 rows, the snapshot 4 after the pull"
    )
    assert by_id(second) == full_read(erp) and len(second.rows) == 3


def test_a_deletion_hidden_by_an_insert_is_caught_by_the_periodic_reconciliation(erp, tmp_path):
    pull(erp, tmp_path / "snap")
    # One row deleted, one inserted with an old stamp: the count and the mark do not move.
    run("DELETE FROM recognition WHERE line_id = 'L2'", erp)
    run("INSERT INTO recognition VALUES ('L7', 'C1', '2024-02', '70.00', '2024-02-01 00:00:00')",
        erp)  # fmt: skip
    missed = pull(erp, tmp_path / "snap")
    assert missed.pull.full is None and missed.fetched == 1  # L4, at the mark
    assert ("L2", "2024-02", "200.00") in by_id(missed)  # the incremental pull cannot see it
    reconciled = pull(erp, tmp_path / "snap", reconcile_days=0)
    assert reconciled.pull.full.startswith("the periodic reconciliation")
    assert reconciled.pull.reconciliation.startswith("the source's content differs")
    assert by_id(reconciled) == full_read(erp)
    assert ("L2", "2024-02", "200.00") not in by_id(reconciled)
    agreed = pull(erp, tmp_path / "snap", reconcile_days=0)
    assert agreed.pull.reconciliation == "snapshot and source agree"
    assert not agreed.pull.changed  # the same rows: the carried mark stands
    # The reconciliation's time was kept: the next pull, within the days, is incremental.
    assert pull(erp, tmp_path / "snap").pull.full is None


def test_a_changed_mapping_or_source_starts_a_new_snapshot(tmp_path):
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = sa.create_engine(url)
    pd.DataFrame(LINES).to_sql("recognition", engine, index=False)
    engine.dispose()
    pull(url, tmp_path / "snap")
    moved = pull(url, tmp_path / "snap", columns={**MODIFIED, "amount": "amount"})
    assert moved.pull.full is None  # the same select: the mapping names the same column
    renamed = pull(url, tmp_path / "snap", columns={"last_modified": "period"})
    assert "mapping changed" in renamed.pull.full
    forced = pull(url, tmp_path / "snap", full_refresh=True)
    assert forced.pull.full == "BACKLOG_FULL_REFRESH is set"
