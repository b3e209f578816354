"""The lean end-to-end peer: what a data team would write instead of the close.

Sources to warehouse for every month, with the libraries made for moving data: the ERP
table read into Arrow with ADBC, the CSV export read with pyarrow's reader (amounts as
exact decimals), the flow and contract rows of all months in DuckDB SQL (the independent
reference of :mod:`benchmarks.reference`, written from SPEC.md), and both written to the
warehouse with ADBC ingest (SQLite, or PostgreSQL's ``COPY`` under the driver). Money
stays exact: decimals in, integer cents in SQL, two-decimal text out. No checks, no
versions, no lineage, no documents: the floor the close is measured against.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pv

from benchmarks.reference import FIGURES, reference_flow

ERP_COLUMNS = "contract_id, period, amount"


def _adbc(url: str):  # an ADBC DB-API connection, SQLite file or PostgreSQL URI
    if url.startswith("postgresql"):
        import adbc_driver_postgresql.dbapi as driver

        return driver.connect(url)
    import adbc_driver_sqlite.dbapi as driver

    return driver.connect(url.removeprefix("sqlite:///"))


def read_erp(url: str, table: str) -> pa.Table:
    """The recognition lines as Arrow, straight from the database driver."""
    with _adbc(url) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT {ERP_COLUMNS} FROM {table}")
        return cursor.fetch_arrow_table()


def read_crm(folder: Path) -> tuple[pa.Table, pa.Table]:
    """Contracts and changes from the CSV export; amounts as DECIMAL(18,2), never floats."""
    money = pa.decimal128(18, 2)
    contracts = pv.read_csv(
        folder / "contracts.csv",
        convert_options=pv.ConvertOptions(
            include_columns=["contract_id", "signed_date", "tcv"],
            column_types={"tcv": money, "signed_date": pa.date32()},
        ),
    )
    changes = pv.read_csv(
        folder / "contract_changes.csv",
        convert_options=pv.ConvertOptions(
            include_columns=["contract_id", "effective_date", "kind", "amount"],
            column_types={"amount": money, "effective_date": pa.date32()},
        ),
    )
    return contracts, changes


def flow_in_sql(
    contracts: pa.Table, changes: pa.Table, lines: pa.Table, first: int, last: int
) -> tuple[duckdb.DuckDBPyConnection, dict[int, dict[str, int]]]:
    """The reference's flow of every month, from the raw Arrow tables (parsed in SQL)."""
    connection = duckdb.connect()
    connection.register("raw_contracts", contracts)
    connection.register("raw_changes", changes)
    connection.register("raw_lines", lines)
    connection.execute("""
        CREATE TEMP VIEW contracts AS SELECT contract_id,
            year(signed_date) * 12 + month(signed_date) - 1 AS signed_month,
            (tcv * 100)::BIGINT AS tcv FROM raw_contracts;
        CREATE TEMP VIEW changes AS SELECT contract_id,
            year(effective_date) * 12 + month(effective_date) - 1 AS effective_month,
            kind, (amount * 100)::BIGINT AS amount FROM raw_changes;
        CREATE TEMP VIEW recognition AS SELECT contract_id,
            CAST(left(period, 4) AS BIGINT) * 12 + CAST(right(period, 2) AS BIGINT) - 1
                AS period,
            (CAST(amount AS DECIMAL(18, 2)) * 100)::BIGINT AS amount FROM raw_lines;
    """)
    return connection, reference_flow(connection, first, last)


def _text(column: str) -> str:
    return f"({column}::DECIMAL(18, 0) * 0.01::DECIMAL(3, 2))::VARCHAR AS {column}"


def _label(column: str) -> str:
    return f"printf('%04d-%02d', {column} // 12, {column} % 12 + 1) AS {column}"


def write_warehouse(connection: duckdb.DuckDBPyConnection, url: str, prefix: str) -> int:
    """The flow and the contract rows ingested as new tables (``url#schema`` on
    PostgreSQL); the contract rows written."""
    figures = ", ".join(_text(name) for name in FIGURES)
    flow = connection.sql(f"""
        SELECT {_label("period")}, {figures} FROM (
            SELECT period, {", ".join(f"sum({n})::BIGINT AS {n}" for n in FIGURES)}
            FROM reference_rows GROUP BY period) ORDER BY period
    """).to_arrow_table()
    rows = connection.sql(
        f"SELECT {_label('period')}, contract_id, {figures} FROM reference_rows"
    ).to_arrow_reader(1_000_000)
    url, _, schema = url.partition("#")  # PostgreSQL: the schema written to
    where = {"db_schema_name": schema} if schema else {}
    with _adbc(url) as target:
        with target.cursor() as cursor:
            written = cursor.adbc_ingest(f"{prefix}contract_backlog", rows, mode="replace", **where)
            cursor.adbc_ingest(f"{prefix}backlog_flow", flow, mode="replace", **where)
        target.commit()
    return written


def run(
    company: Path, erp_url: str, erp_table: str, warehouse_url: str, first: int, last: int
) -> dict:
    """Every step timed; the flow (cents) for the comparison with ours."""
    timings = {}
    started = time.perf_counter()
    lines = read_erp(erp_url, erp_table)
    timings["read_erp_adbc"] = time.perf_counter() - started
    mark = time.perf_counter()
    contracts, changes = read_crm(company / "crm")
    timings["read_csv_pyarrow"] = time.perf_counter() - mark
    mark = time.perf_counter()
    connection, flow = flow_in_sql(contracts, changes, lines, first, last)
    timings["flow_duckdb"] = time.perf_counter() - mark
    del lines, contracts, changes
    mark = time.perf_counter()
    written = write_warehouse(connection, warehouse_url, "peer_")
    timings["write_adbc_ingest"] = time.perf_counter() - mark
    timings["end_to_end"] = time.perf_counter() - started
    return {"timings": timings, "flow": flow, "contract_rows_written": written}
