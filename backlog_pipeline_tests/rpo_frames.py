"""Small typed frames for the disclosure tests (issue 14), built directly in the canonical
shape: money in cents, months as indices (through ``periods``), dates as ``datetime64``."""

from __future__ import annotations

import pandas as pd

from backlog_pipeline.periods import parse_month


def contracts_of(*specs: tuple) -> pd.DataFrame:
    """Contracts from ``(contract_id, start, end)`` or ``(contract_id, start, end, extra)``
    tuples, dates as ``YYYY-MM-DD`` or None; ``extra`` may set ``signed``, ``customer_id``,
    ``product``, ``segment``, ``region`` (signed defaults to the start, else 2024-01-01)."""
    rows = []
    for spec in specs:
        contract_id, start, end = spec[:3]
        extra = spec[3] if len(spec) > 3 else {}
        rows.append(
            {
                "contract_id": contract_id,
                "customer_id": extra.get("customer_id", f"CUST-{contract_id}"),
                "customer_name": None,
                "signed_date": extra.get("signed", start or "2024-01-01"),
                "start_date": start,
                "end_date": end,
                "tcv": 0,
                "currency": "USD",
                "product": extra.get("product"),
                "segment": extra.get("segment"),
                "region": extra.get("region"),
            }
        )
    frame = pd.DataFrame(rows)
    for column in ("signed_date", "start_date", "end_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def rows_of(*specs: tuple[str, str, int]) -> pd.DataFrame:
    """Contract rows from ``(month YYYY-MM, contract_id, closing cents)``; the other flow
    figures 0 (the timing and the expedients read the closing only)."""
    return pd.DataFrame(
        {
            "period": [parse_month(month) for month, _, _ in specs],
            "contract_id": [contract_id for _, contract_id, _ in specs],
            "closing": [closing for _, _, closing in specs],
        }
    ).astype({"period": "int64", "closing": "int64"})


def plan_of(*specs: tuple[str, str, int]) -> pd.DataFrame:
    """A revenue plan from ``(contract_id, month YYYY-MM, cents)``."""
    return pd.DataFrame(
        {
            "contract_id": [contract_id for contract_id, _, _ in specs],
            "period": [parse_month(month) for _, month, _ in specs],
            "amount": [amount for _, _, amount in specs],
        },
        columns=["contract_id", "period", "amount"],
    ).astype({"period": "int64", "amount": "int64"})
