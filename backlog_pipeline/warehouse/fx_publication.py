"""The currency part of a publication: each currency's flow, the constant-currency view and
the rates each version used, written in the publication's own transaction, and what they
add to a month's fingerprint.

A month whose contracts are all in the reporting currency needs no rate, has no
revaluation and local figures equal to its reporting ones: its fingerprint is exactly the
one a warehouse published before currencies gave it, so upgrading never restates it.
A month with a contract in another currency also hashes its rows' currency and local
figures, its revaluation, the rates it read and its constant-currency figures: a later
change to one of those rates restates it, like any late data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.currency_close import CurrencyFigures, is_foreign
from backlog_pipeline.accounting.fx_rates import RATE_COLUMNS, rates_for_publication
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS, REPORTING_COLUMNS
from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.bulk import insert_rows
from backlog_pipeline.warehouse.records import flow_records
from backlog_pipeline.warehouse.schema import (
    LOCAL_COLUMNS,
    backlog_flow_by_currency_table,
    backlog_flow_constant_currency_table,
    publication_fx_rates_table,
)

# A foreign month's contract rows hash these too.
FX_HASHED = ("currency", "fx_revaluation", *LOCAL_COLUMNS)


def has_foreign_rows(rows: pd.DataFrame, reporting_currency: str | None) -> bool:
    """Whether a month's contract rows hold a contract in another currency."""
    if reporting_currency is None or "currency" not in rows or rows.empty:
        return False
    return bool(is_foreign(rows, reporting_currency).any())


def fx_digest(month: int, revaluation: int, figures: CurrencyFigures | None) -> bytes:
    """What a foreign month adds to its fingerprint beside its rows: the flow's
    revaluation, the rates the month read and its constant-currency figures."""
    digest = hashlib.sha256(f"fx_revaluation={int(revaluation)}".encode())
    if figures is not None:
        used = figures.rates_used[figures.rates_used["period"] == month]
        used = used.sort_values(["currency", "month"])[list(RATE_COLUMNS)]
        digest.update(used.to_csv(index=False).encode())
        constant = figures.constant[figures.constant["period"] == month]
        digest.update(constant[list(REPORTING_COLUMNS)].to_csv(index=False).encode())
    return digest.digest()


def contract_values(rows: pd.DataFrame, currency: str) -> dict[str, np.ndarray]:
    """A month's contract rows as published: their currency, reporting figures with the
    revaluation, and local figures. Rows computed in one currency (no ``currency`` or
    ``*_local`` columns) are in the reporting currency: local = reporting, revaluation 0."""
    values = {
        "currency": rows["currency"].astype(object).to_numpy()
        if "currency" in rows
        else np.full(len(rows), currency, dtype=object),
        **{column: rows[column].to_numpy() for column in FLOW_COLUMNS},
        "fx_revaluation": rows["fx_revaluation"].to_numpy()
        if "fx_revaluation" in rows
        else np.zeros(len(rows), dtype=np.int64),
        "net_change": (rows["closing"] - rows["opening"]).to_numpy(),
    }
    for column in FLOW_COLUMNS:
        local = f"{column}_local"
        values[local] = rows[local].to_numpy() if local in rows else values[column]
    return values


def _of_months(frame: pd.DataFrame, months: Iterable[int]) -> pd.DataFrame:
    return frame[frame["period"].isin(list(months))]


def replace_currency_tables(
    connection: sa.Connection,
    versions: dict[int, int],
    figures: CurrencyFigures | None,
    currency: str,
) -> None:
    """Each changed month's currency flows replaced, and the rates its new version used."""
    if figures is None:
        return
    labels = [month_label(month) for month in versions]
    for table in (backlog_flow_by_currency_table, backlog_flow_constant_currency_table):
        connection.execute(table.delete().where(table.c.period.in_(labels)))
    by_currency = _of_months(figures.by_currency, versions)
    insert_rows(
        connection, backlog_flow_by_currency_table, flow_records(by_currency, revaluation=False)
    )
    constant = flow_records(_of_months(figures.constant, versions), currency)
    for record in constant:
        record["constant_month"] = month_label(record["constant_month"])
    insert_rows(connection, backlog_flow_constant_currency_table, constant)
    used = figures.rates_used[figures.rates_used["period"].isin(list(versions))]
    published = rates_for_publication(used[list(RATE_COLUMNS)])
    published.insert(0, "period", [month_label(m) for m in used["period"]])
    published.insert(1, "version", [versions[int(m)] for m in used["period"]])
    insert_rows(connection, publication_fx_rates_table, published.to_dict("records"))
