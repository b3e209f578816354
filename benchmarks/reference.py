"""An independent reference for the core computation: the flow in DuckDB SQL.

Written from SPEC.md, not from the pandas code: the contract-month ledger with window
functions (a termination closes its segment, the next segment starts from 0), the months in
between carried forward as rows of their own, and the flow as the sum of those rows. It
reads the same canonical frames the pipeline computes from, in the same process.
"""

from __future__ import annotations

import duckdb
import pandas as pd

FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")

_ROWS = """
CREATE OR REPLACE TEMP TABLE reference_rows AS
WITH known AS (SELECT contract_id, signed_month, tcv FROM contracts),
events AS (
    SELECT contract_id, signed_month AS period, tcv AS new_bookings, 0::BIGINT AS converted,
           0::BIGINT AS partial_lost, 0::BIGINT AS increases, 0::BIGINT AS decreases,
           0 AS terminations
    FROM known
    UNION ALL
    SELECT contract_id, period, 0, amount, 0, 0, 0, 0
    FROM recognition SEMI JOIN known USING (contract_id)
    UNION ALL
    SELECT contract_id, effective_month, 0, 0,
           CASE WHEN kind = 'cancellation' THEN coalesce(amount, 0) ELSE 0 END,
           CASE WHEN kind = 'increase' THEN amount ELSE 0 END,
           CASE WHEN kind = 'decrease' THEN amount ELSE 0 END,
           CASE WHEN kind = 'cancellation' AND amount IS NULL THEN 1 ELSE 0 END
    FROM changes SEMI JOIN known USING (contract_id)
),
activity AS (
    SELECT contract_id, period, sum(new_bookings) AS new_bookings,
           sum(converted) AS converted, sum(partial_lost) AS partial_lost,
           sum(increases) AS increases, sum(decreases) AS decreases,
           sum(terminations) AS terminations
    FROM events GROUP BY contract_id, period
),
segmented AS (
    SELECT *, new_bookings - converted - partial_lost + increases - decreases AS delta,
           coalesce(sum((terminations > 0)::INT) OVER (
               PARTITION BY contract_id ORDER BY period
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS segment
    FROM activity
),
running AS (
    SELECT *, sum(delta) OVER (
        PARTITION BY contract_id, segment ORDER BY period ROWS UNBOUNDED PRECEDING) AS total
    FROM segmented
),
ledger AS (
    SELECT contract_id, period, new_bookings, converted, increases, decreases,
           partial_lost + CASE WHEN terminations > 0 THEN total ELSE 0 END AS lost,
           CASE WHEN terminations > 0 THEN 0 ELSE total END AS closing
    FROM running
),
ordered AS (
    SELECT *, coalesce(lag(closing) OVER w, 0) AS opening, lead(period) OVER w AS next_period
    FROM ledger WINDOW w AS (PARTITION BY contract_id ORDER BY period)
)
SELECT period, contract_id, opening, new_bookings, converted, lost, increases, decreases,
       closing
FROM ordered WHERE period BETWEEN $first AND $last
UNION ALL
SELECT unnest(range(greatest(period + 1, $first),
                    least(coalesce(next_period, $last + 1), $last + 1))) AS period,
       contract_id, closing, 0, 0, 0, 0, 0, closing
FROM ordered WHERE closing <> 0
"""

_FLOW = """
SELECT period, count(*) AS contract_rows, {sums}
FROM reference_rows GROUP BY period ORDER BY period
""".format(sums=", ".join(f"sum({figure})::BIGINT AS {figure}" for figure in FIGURES))


def connect(
    contracts: pd.DataFrame, changes: pd.DataFrame, recognition: pd.DataFrame
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that sees the three canonical frames as tables."""
    connection = duckdb.connect()
    connection.register("contracts", contracts[["contract_id", "signed_month", "tcv"]])
    connection.register("changes", changes[["contract_id", "effective_month", "kind", "amount"]])
    connection.register("recognition", recognition[["contract_id", "period", "amount"]])
    return connection


def reference_flow(
    connection: duckdb.DuckDBPyConnection, first: int, last: int
) -> dict[int, dict[str, int]]:
    """Per month: the seven figures in cents and the number of contract rows."""
    connection.execute(_ROWS, {"first": first, "last": last})
    flow = {
        month: dict.fromkeys(("contract_rows", *FIGURES), 0) for month in range(first, last + 1)
    }
    for period, rows, *figures in connection.execute(_FLOW).fetchall():
        flow[int(period)] = {"contract_rows": int(rows)} | {
            figure: int(value) for figure, value in zip(FIGURES, figures, strict=True)
        }
    return flow


def rows_differing(connection: duckdb.DuckDBPyConnection, ours: pd.DataFrame) -> int:
    """Contract rows present on one side only, or with any figure different."""
    connection.register("ours", ours[["period", "contract_id", *FIGURES]])
    columns = ", ".join(("period", "contract_id", *FIGURES))
    query = f"""
        SELECT count(*) FROM (
            (SELECT {columns} FROM ours EXCEPT ALL SELECT {columns} FROM reference_rows)
            UNION ALL
            (SELECT {columns} FROM reference_rows EXCEPT ALL SELECT {columns} FROM ours)
        )
    """
    return int(connection.execute(query).fetchone()[0])
