"""ADBC reads (issue 18, Arrow in): the same frames as SQLAlchemy's, and the fallback."""

from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.sources import sql, sql_arrow
from backlog_pipeline.sources.canonical import parse_recognition
from backlog_pipeline_tests.support import RecordingLog as Log

COLUMNS = {"line_id": "line", "contract_id": "contract", "period": "month", "amount": "value",
           "last_modified": "changed"}  # fmt: skip
ROWS = pd.DataFrame(
    {
        "line": ["J1", "J2", "J3", "J4", "J5", None, "J7"],
        "contract": ["C1", "C1", "C2", None, "C3", "C3", "C4"],
        "month": ["2024-01", "2024-02", "2024-02", "2024-03", "2024-13", "2024-03", "2024-04"],
        "value": ["1000.00", "-20.50", "7.2500", "1.00", "3.00", "4.00", "12.345"],
        "changed": ["2024-02-03 10:00:00", None, "2024-02-15 00:00:00", "2024-03-01 09:00:00",
                    "2024-03-01 09:00:00", "2024-03-02 09:00:00", "2024-04-02 09:00:00"],
    }
)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def erp_url(request, tmp_path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'erp.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = sa.create_engine(url)
    # NUMERIC(18,4) on PostgreSQL (text on SQLite): 7.2500 is exact cents, 12.345 is not.
    types = {"value": sa.Numeric(18, 4)} if request.param == "postgresql" else {}
    ROWS.to_sql("gl_revenue", engine, index=False, dtype=types)
    engine.dispose()
    return url


def _select() -> sa.Select:
    return sql.recognition_select(COLUMNS, table="gl_revenue")


def test_adbc_and_sqlalchemy_reads_give_identical_frames(erp_url):
    log = Log()
    arrow = sql_arrow.read_adbc(erp_url, _select(), "ERP", log)
    assert arrow is not None, log.lines  # ADBC did read it
    assert "reading through ADBC" in log.lines[0]
    streamed = sql.read_sqlalchemy(erp_url, "ERP", _select(), log)
    by_adbc, by_sqlalchemy = sql_arrow.to_frame(arrow), sql_arrow.to_frame(streamed)
    pd.testing.assert_frame_equal(by_adbc, by_sqlalchemy)
    parsed = [parse_recognition(frame, "ERP") for frame in (by_adbc, by_sqlalchemy)]
    pd.testing.assert_frame_equal(parsed[0].rows, parsed[1].rows)
    pd.testing.assert_frame_equal(parsed[0].quarantine, parsed[1].quarantine)
    # What the strict rules make of them, by hand: J1, J2 kept; J4 (no contract), J5 (month
    # 13), the line without id and J7 (a tenth of a cent) set aside. J3's 7.2500 is 7.25
    # from a NUMERIC(18,4) column, but text with four decimals is refused.
    numeric = erp_url.startswith("postgresql")
    assert parsed[0].rows["amount"].tolist() == [100_000, -2_050, *([725] if numeric else [])]
    refused = ["amount", "contract_id", "line_id", "period", *([] if numeric else ["amount"])]
    assert sorted(parsed[0].quarantine["field"]) == sorted(refused)
    # On PostgreSQL the amounts were NUMERIC: never a float on either path.
    if numeric:
        assert sql_arrow.decimal_columns(arrow) == ["amount"]
        assert by_adbc["amount"].tolist()[-1] == Decimal("12.3450")


def test_a_dialect_without_a_driver_reads_through_sqlalchemy(monkeypatch):
    url = "mssql+pyodbc://erp_reader:s3cret@erp.example/ledger?driver=ODBC+Driver+18"
    assert sql_arrow.adbc_target(url) is None
    taken = []
    monkeypatch.setattr(sql, "read_sqlalchemy", lambda *args: taken.append(args[0]) or "read")
    log = Log()
    assert sql.read_select(url, "ERP", _select(), log) == "read"
    assert taken == [url]
    assert log.lines == ["ERP: no ADBC driver for mssql; reading through SQLAlchemy"]


def test_an_adbc_error_falls_back_to_sqlalchemy_and_says_so(erp_url, monkeypatch):
    def broken(driver, uri):
        raise RuntimeError("IO: [libpq] connection refused (for the test)")

    monkeypatch.setattr(sql_arrow, "_connect", broken)
    log = Log()
    table = sql.read_select(erp_url, "ERP", _select(), log)
    assert any("ADBC read failed (IO: [libpq] connection refused" in line for line in log.lines)
    assert any("reading through SQLAlchemy" in line for line in log.lines[1:])
    assert table.column("line_id").to_pylist()[:3] == ["J1", "J2", "J3"]


def test_the_adbc_uri_carries_the_password_and_the_log_does_not(monkeypatch):
    url = "postgresql+psycopg2://reader:s3cret@127.0.0.1:1/erp?sslmode=disable"
    assert sql_arrow.adbc_target(url) == (
        "postgresql", "postgresql://reader:s3cret@127.0.0.1:1/erp?sslmode=disable")  # fmt: skip
    seen = []

    def refused(driver, uri):
        seen.append(uri)
        raise RuntimeError("connection refused")

    monkeypatch.setattr(sql_arrow, "_connect", refused)
    log = Log()
    assert sql_arrow.read_adbc(url, _select(), "ERP", log) is None
    assert seen and "s3cret" in seen[0] and not any("s3cret" in line for line in log.lines)


def test_sqlite_numbers_stored_as_reals_are_read_exactly_through_sqlalchemy(tmp_path):
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # no column types: values keep their storage class
        connection.exec_driver_sql(
            "CREATE TABLE recognition (line_id, contract_id, period, amount)"
        )
        connection.exec_driver_sql(
            "INSERT INTO recognition VALUES ('L1', 'C1', '2024-01', '12.30'), "
            "('L2', 'C1', '2024-01', 12345678.91), ('L3', 'C1', '2024-01', 0.1 + 0.2)"
        )
    engine.dispose()
    log = Log()
    raw, _ = sql.read_recognition(url, "ERP", {}, log=log)
    assert any("stored as numbers" in line for line in log.lines)
    # ADBC would have written 12345678.91 as 1.234568e+07; SQLAlchemy gives the double.
    assert raw["amount"].tolist() == ["12.30", "12345678.91", "0.30000000000000004"]
    parsed = parse_recognition(raw, "ERP")
    assert parsed.rows["amount"].tolist() == [1230, 1_234_567_891]
    assert parsed.quarantine["record_id"].tolist() == ["L3"]
