"""The evidence shown with a check's result stays retrievable for that run (revision 0005)."""

import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.periods import parse_month
from backlog_pipeline.warehouse.engine import open_warehouse
from backlog_pipeline.warehouse.evidence import evidence_query, flagged_periods, replace_exceptions


def _found(*records: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": [parse_month(month) for month, _, _ in records],
            "source": "erp_recognition",
            "record_id": [record for _, record, _ in records],
            "contract_id": "C9",
            "amount": [cents for _, _, cents in records],
            "reason": "no such contract",
        }
    )


def test_a_runs_evidence_outlives_the_next_evaluation(tmp_path):
    engine = open_warehouse(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    scope = (None, parse_month("2024-06"))
    first = _found(("2024-03", "L1", 5000), ("2024-04", "L2", 700))
    replace_exceptions(engine, "orphans", "WARN", "erp_recognition", first, "run-1", scope)
    # The next run finds only L2: L1 was fixed. Then a clean run finds nothing.
    second = _found(("2024-04", "L2", 700))
    replace_exceptions(engine, "orphans", "WARN", "erp_recognition", second, "run-2", scope)
    with engine.connect() as connection:
        shown = pd.read_sql(sa.text(evidence_query("orphans", "run-1")), connection)
    assert sorted(shown["record_id"]) == ["L1", "L2"]  # what run-1's result showed
    assert flagged_periods(engine, "orphans") == ["2024-04"]  # what is current
    replace_exceptions(engine, "orphans", "WARN", "erp_recognition", second[:0], "run-3", scope)
    assert flagged_periods(engine, "orphans") == []
    with engine.connect() as connection:
        again = pd.read_sql(sa.text(evidence_query("orphans", "run-2")), connection)
    assert again["record_id"].tolist() == ["L2"]
    assert again["superseded_at"].notna().all()
    engine.dispose()
