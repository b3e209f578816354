"""Random companies in four currencies: both routes of the revaluation agree exactly on
every contract row, contract rows sum to the flow, and every figure matches a plain Python
recomputation with ``Decimal`` (no numpy, no int64) of SPEC's conversion rule."""

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal, localcontext

import numpy as np
import pandas as pd
import pytest

from backlog_pipeline.accounting.currency import (
    MOVEMENT_SIGNS,
    REPORTING_COLUMNS,
    convert_contract_rows,
    ledger_amounts,
)
from backlog_pipeline.accounting.currency_flows import (
    converted_flow_by_currency,
    flow_by_currency,
    reporting_flow,
)
from backlog_pipeline.accounting.fx_checks import (
    currency_sum_discrepancies,
    local_flow_discrepancies,
    reporting_identity_discrepancies,
    revaluation_discrepancies,
    revaluation_second_route,
)
from backlog_pipeline.accounting.fx_rates import RATE_SCALE
from backlog_pipeline.accounting.fx_rates_needed import missing_rates
from backlog_pipeline.periods import parse_month
from backlog_pipeline_tests.fx_frames import local_rows

FIRST, LAST = "2024-01", "2024-08"
CURRENCIES = np.array(["USD", "EUR", "GBP", "JPY"], dtype=object)


def random_company(seed: int):
    rng = np.random.default_rng(seed)
    first, last = parse_month(FIRST), parse_month(LAST)
    n = 150
    ids = np.array([f"K{i:04d}" for i in range(n)], dtype=object)
    # Mostly ordinary amounts; one contract in ten of 10^11 to 10^15 cents, where cents ×
    # rate units pass int64 and only the split products stay exact.
    large = rng.random(n) < 0.1
    tcv = np.where(large, rng.integers(10**11, 10**15, n), rng.integers(0, 5_000_000, n))
    contracts = pd.DataFrame(
        {
            "contract_id": ids,
            "signed_month": rng.integers(first - 3, last + 1, n),
            "tcv": tcv,
            "currency": rng.choice(CURRENCIES, n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )
    k = 120
    who = rng.integers(0, n, k)
    kind = rng.choice(np.array(["increase", "decrease", "cancellation"], dtype=object), k)
    amount = pd.array((tcv[who] * rng.integers(1, 30, k) // 100).astype(np.int64), dtype="Int64")
    amount[(kind == "cancellation") & (rng.random(k) < 0.5)] = pd.NA  # full terminations
    changes = pd.DataFrame(
        {
            "contract_id": ids[who],
            "effective_month": contracts["signed_month"].to_numpy()[who] + rng.integers(0, 6, k),
            "kind": kind,
            "amount": amount,
        }
    )
    m = 900
    line_of = rng.integers(0, n + 5, m)  # a few lines of contracts that do not exist
    line_contract = np.append(ids, ["ORPHAN"])[np.minimum(line_of, n)]
    line_amount = tcv[np.minimum(line_of, n - 1)] * rng.integers(-5, 15, m) // 100
    carried = rng.random(m) < 0.3
    reporting_amount = line_amount * rng.integers(80, 140, m) // 100
    recognition = pd.DataFrame(
        {
            "line_id": [f"L{i}" for i in range(m)],
            "contract_id": line_contract,
            "period": rng.integers(first - 3, last + 1, m),
            "amount": line_amount.astype(np.int64),
            "amount_reporting": pd.array(
                np.where(carried, reporting_amount, 0).astype(np.int64), dtype="Int64"
            ),
        }
    )
    recognition.loc[~carried, "amount_reporting"] = pd.NA
    rate_rows = []
    for code, level in (("EUR", 1.1), ("GBP", 1.27), ("JPY", 0.0067)):
        for month in range(first - 4, last + 1):
            base = int(level * RATE_SCALE)
            average, closing = (int(base * rng.uniform(0.9, 1.1)) for _ in range(2))
            rate_rows.append((code, month, average, closing))
    rates = pd.DataFrame(rate_rows, columns=["currency", "month", "average_rate", "closing_rate"])
    return contracts, changes, recognition, rates


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def by_hand(rows: pd.DataFrame, rates: pd.DataFrame, contracts, recognition) -> list[dict]:
    """SPEC's conversion of each row, in Python integers and Decimal, row by row."""
    rate = {
        (code, int(month)): (Decimal(int(average)) / RATE_SCALE, Decimal(int(closing)) / RATE_SCALE)
        for code, month, average, closing in rates.itertuples(index=False)
    }
    currency_of = dict(zip(contracts["contract_id"], contracts["currency"], strict=True))
    ledger = defaultdict(lambda: [0, 0])
    for line in recognition.itertuples(index=False):
        if line.contract_id in currency_of and currency_of[line.contract_id] != "USD":
            if not pd.isna(line.amount_reporting):
                ledger[(line.contract_id, line.period)][0] += int(line.amount_reporting)
                ledger[(line.contract_id, line.period)][1] += int(line.amount)
    expected = []
    for row in rows.itertuples(index=False):
        local = {column: int(getattr(row, f"{column}_local")) for column in REPORTING_COLUMNS
                 if column != "fx_revaluation"}  # fmt: skip
        if row.currency == "USD":
            expected.append({**local, "fx_revaluation": 0})
            continue
        average, closing = rate[(row.currency, row.period)]
        previous = rate[(row.currency, row.period - 1)][1]
        from_ledger, ledger_local = ledger.get((row.contract_id, row.period), (0, 0))
        figures = {
            "opening": half_up(local["opening"] * previous),
            "closing": half_up(local["closing"] * closing),
        }
        for column in MOVEMENT_SIGNS:
            at_average = local[column] - (ledger_local if column == "converted" else 0)
            figures[column] = half_up(at_average * average)
        figures["converted"] += from_ledger
        figures["fx_revaluation"] = (
            figures["closing"]
            - figures["opening"]
            - sum(sign * figures[column] for column, sign in MOVEMENT_SIGNS.items())
        )
        expected.append(figures)
    return expected


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_companies_both_routes_agree_and_rows_sum_to_the_flow(seed):
    contracts, changes, recognition, rates = random_company(seed)
    local, flow_today = local_rows(contracts, changes, recognition, FIRST, LAST)
    assert missing_rates(local, rates, "USD") == []
    ledger = ledger_amounts(local, contracts, recognition, "USD")
    rows = convert_contract_rows(local, rates, "USD", ledger)
    assert (rows["currency"] != "USD").sum() > 50
    assert (rows[[f"{c}_local" for c in ("opening", "closing")]].abs() > 10**9).any().any()
    # Every figure as SPEC's rule gives it, computed row by row without numpy.
    with localcontext() as context:
        context.prec = 60
        expected = by_hand(rows, rates, contracts, recognition)
    for column in REPORTING_COLUMNS:
        assert rows[column].tolist() == [figures[column] for figures in expected], column
    # Second route, per contract row, exactly.
    second, whole = revaluation_second_route(rows, rates, "USD", ledger)
    assert whole.all()
    assert second.tolist() == rows["fx_revaluation"].tolist()
    months = list(range(parse_month(FIRST), parse_month(LAST) + 1))
    flow = reporting_flow(rows, months)
    assert revaluation_discrepancies(rows, rates, "USD", ledger, flow) == []
    # Contract rows sum to the flow, figure by figure (Python integers).
    for column in REPORTING_COLUMNS:
        sums = defaultdict(int)
        for period, value in zip(rows["period"], rows[column], strict=True):
            sums[int(period)] += int(value)
        assert flow[column].tolist() == [sums[month] for month in months], column
    assert reporting_identity_discrepancies(flow) == []
    assert flow["opening"].tolist()[1:] == flow["closing"].tolist()[:-1]
    assert currency_sum_discrepancies(flow, converted_flow_by_currency(rows, months, "USD")) == []
    # Each currency in its own currency, by both routes; their USD part is today's flow
    # of the USD contracts, and all local flows together are today's flow when added
    # regardless of currency (what compute_backlog gives).
    by_currency = flow_by_currency(local, months, "USD")
    assert local_flow_discrepancies(by_currency, contracts, changes, recognition) == []
    added = by_currency.groupby("period")[["opening", "closing"]].sum()
    assert added["closing"].tolist() == flow_today["closing"].tolist()
