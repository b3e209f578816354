"""Any SQL ERP: a table or a query, columns mapped by setting, on SQLite and PostgreSQL."""

from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.sources import sql
from backlog_pipeline.sources.canonical import SourceError, parse_recognition

# An ERP's own names, one of them a reserved word and one with a space: both must be quoted.
ERP_ROWS = pd.DataFrame(
    {
        "Journal Line": ["J1", "J2", "J3"],
        "order": ["C1", "C1", "C2"],
        "posting_month": ["2024-01", "2024-02", "2024-02"],
        "value": [Decimal("1000.00"), Decimal("-20.50"), Decimal("7.25")],
        "changed": ["2024-02-03 10:00:00", "2024-03-01 09:00:00", "2024-02-15 00:00:00"],
    }
)
COLUMNS = {
    "line_id": "Journal Line",
    "contract_id": "order",
    "period": "posting_month",
    "amount": "value",
    "last_modified": "changed",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def erp_url(request, tmp_path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'erp.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = sa.create_engine(url)
    ERP_ROWS.to_sql("gl_revenue", engine, index=False, dtype={"value": sa.Numeric(18, 2)})
    engine.dispose()
    return url


def test_a_mapped_table_reads_into_the_canonical_columns(erp_url):
    raw, mark = sql.read_recognition(erp_url, "ERP", COLUMNS, table="gl_revenue")
    assert list(raw.columns) == ["line_id", "contract_id", "period", "amount", "last_modified"]
    parsed = parse_recognition(raw, "ERP")
    assert parsed.quarantine.empty
    assert parsed.rows["line_id"].tolist() == ["J1", "J2", "J3"]
    assert parsed.rows["amount"].tolist() == [100_000, -2_050, 725]
    assert mark == "2024-03-01T09:00:00.000Z"


def test_a_query_is_wrapped_and_its_columns_mapped(erp_url):
    query = "SELECT * FROM gl_revenue WHERE \"order\" = 'C1';"
    raw, _ = sql.read_recognition(erp_url, "ERP", COLUMNS, query=query)
    assert raw["line_id"].tolist() == ["J1", "J2"]
    assert raw["contract_id"].tolist() == ["C1", "C1"]


def test_unmapped_columns_keep_their_canonical_names_and_no_mark(tmp_path):
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = sa.create_engine(url)
    pd.DataFrame(
        {"line_id": ["L1"], "contract_id": ["C1"], "period": ["2024-01"], "amount": [12.5]}
    ).to_sql("recognition", engine, index=False)
    engine.dispose()
    raw, mark = sql.read_recognition(url, "ERP", {}, table="recognition")
    assert parse_recognition(raw, "ERP").rows["amount"].tolist() == [1250]
    assert mark is None


def test_a_missing_column_names_the_source(tmp_path):
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = sa.create_engine(url)
    ERP_ROWS.to_sql("gl_revenue", engine, index=False, dtype={"value": sa.Numeric(18, 2)})
    engine.dispose()
    with pytest.raises(SourceError, match=r"ERP db: cannot read recognition: .*no such column"):
        sql.read_recognition(url, "ERP db", {**COLUMNS, "amount": "amt"}, table="gl_revenue")


def test_identifiers_are_quoted_by_sqlalchemy_not_formatted():
    statement = sql.recognition_select(COLUMNS, table="erp.gl_revenue")
    text = str(statement.compile(dialect=sa.dialects.postgresql.dialect()))
    assert '"Journal Line" AS line_id' in text and '"order" AS contract_id' in text
    assert "FROM erp.gl_revenue" in text
