"""A digest of each month's published content, so a rerun of an unchanged month makes no new
version (``versions``) and a late change to a closed month is seen (``late_data_scan``)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from backlog_pipeline.accounting.currency_close import CurrencyFigures
from backlog_pipeline.accounting.rollforward import FLOW_COLUMNS
from backlog_pipeline.warehouse.fx_publication import FX_HASHED, fx_digest, has_foreign_rows

_HASHED = ("contract_id", *FLOW_COLUMNS)


def month_fingerprints(
    flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    reporting_currency: str | None = None,
    figures: CurrencyFigures | None = None,
) -> dict[int, str]:
    """A digest of each month's published content: its flow figures and its contract rows
    (and, for a month with a contract in another currency than ``reporting_currency``, its
    currency content: see ``fx_publication``).

    Equal digests mean the same figures to the cent, so a rerun of an unchanged month makes
    no new version. Each month's rows are hashed in contract order with pandas' stable row
    hash. Contract rows come ordered by month and contract (see ``contract_backlog``), so
    a month is a slice, sorted only if it is not in order already: a backfill's millions of
    rows are never copied whole.
    """
    periods = contract_rows["period"].to_numpy(np.int64)
    if len(periods) and not (periods[1:] >= periods[:-1]).all():
        contract_rows = contract_rows.sort_values("period", kind="stable")
        periods = contract_rows["period"].to_numpy(np.int64)
    revaluations = flow["fx_revaluation"].astype(int).tolist() if "fx_revaluation" in flow else None
    result = {}
    for at, (month, figures_of_month) in enumerate(
        zip(
            flow["period"].astype(int).tolist(),
            flow[list(FLOW_COLUMNS)].itertuples(index=False),
            strict=True,
        )
    ):
        digest = hashlib.sha256(",".join(str(int(v)) for v in figures_of_month).encode())
        start, stop = periods.searchsorted(month, "left"), periods.searchsorted(month, "right")
        month_rows = contract_rows.iloc[start:stop]
        foreign = has_foreign_rows(month_rows, reporting_currency)
        hashed_columns = [*_HASHED, *(FX_HASHED if foreign else ())]
        rows = month_rows[hashed_columns].astype(
            {"contract_id": str, **({"currency": str} if foreign else {})}
        )
        if not rows["contract_id"].is_monotonic_increasing:
            rows = rows.sort_values("contract_id", kind="stable")
        hashed = pd.util.hash_pandas_object(rows, index=False, categorize=False).to_numpy()
        digest.update(hashed.tobytes())
        if foreign:
            digest.update(fx_digest(month, revaluations[at] if revaluations else 0, figures))
        result[month] = digest.hexdigest()
    return result
