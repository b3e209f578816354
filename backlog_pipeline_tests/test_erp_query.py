"""BACKLOG_ERP_QUERY is one SELECT, read in a read-only transaction (issue 12, smaller).

``SELECT 1; DROP TABLE x`` used to pass a check of its first word and run on PostgreSQL.
"""

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.config import SettingsError, load_settings
from backlog_pipeline.sources.canonical import SourceError
from backlog_pipeline.sources.sql import read_recognition


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELECT * FROM recognition; DROP TABLE recognition", "must be one statement; it has 2"),
        ("DELETE FROM recognition", "must be a SELECT (or WITH ... SELECT); it is delete"),
        ("select 1; -- and a comment", None),
        ("SELECT line_id FROM recognition WHERE note = 'a;b'", None),
        ("WITH r AS (SELECT * FROM recognition) SELECT * FROM r;", None),
    ],
)
def test_the_query_setting_is_parsed_as_one_select(tmp_path, query, reason):
    environ = {"BACKLOG_DATA_DIR": str(tmp_path), "BACKLOG_ERP_QUERY": query}
    if reason is None:
        assert load_settings(environ).erp_query == query
        return
    with pytest.raises(SettingsError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        load_settings(environ)


def test_a_query_that_writes_is_refused_by_the_read_only_transaction(postgres_url):
    engine = sa.create_engine(postgres_url)
    lines = pd.DataFrame({"line_id": ["L1"], "contract_id": ["C1"], "period": ["2024-01"],
                          "amount": ["1.00"]})  # fmt: skip
    lines.to_sql("recognition", engine, index=False)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION wipe() RETURNS int LANGUAGE sql AS 'DELETE FROM recognition; SELECT 1'"
        )
    # One SELECT to a parser, but the function it calls deletes every line.
    query = "SELECT line_id, contract_id, period, amount FROM recognition WHERE wipe() = 1"
    with pytest.raises(SourceError, match="read-only transaction"):
        read_recognition(postgres_url, "test ERP", {}, query=query)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM recognition").scalar() == 1
    engine.dispose()


def test_sqlite_reads_with_query_only(tmp_path, monkeypatch):
    from backlog_pipeline.sources import sql, sql_arrow

    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = sa.create_engine(url)
    pd.DataFrame({"line_id": ["L1"], "contract_id": ["C1"], "period": ["2024-01"],
                  "amount": ["1.00"]}).to_sql("recognition", engine, index=False)  # fmt: skip
    engine.dispose()
    # ADBC opens the file read-only.
    assert sql_arrow.adbc_target(url) == ("sqlite", f"file:{tmp_path / 'erp.sqlite'}?mode=ro")
    # The SQLAlchemy path (taken on any ADBC error) sets query_only before reading.
    seen = []
    real = sql.stream_batches

    def batches(connection, select):
        seen.append(connection.exec_driver_sql("PRAGMA query_only").scalar())
        return real(connection, select)

    monkeypatch.setattr(sql, "read_adbc", lambda *args: None)
    monkeypatch.setattr(sql, "stream_batches", batches)
    frame, _ = read_recognition(url, "test ERP", {})
    assert frame["line_id"].tolist() == ["L1"] and seen == [1]
