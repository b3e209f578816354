"""A real close after an incremental pull (issue 18): a late change to an old month's line,
stamped by the ERP, is the only row asked for and restates that month."""

import pytest
import sqlalchemy as sa

from backlog_pipeline.sources.snapshot import Snapshot
from backlog_pipeline.warehouse.reads import current_source_marks
from backlog_pipeline_tests.support import EXPECTED, build, close, closings, load_definitions, money

pytestmark = pytest.mark.slow


def _stamp_lines(erp: str) -> None:
    """The ERP stamps each line when it was last changed: the 28th of its month."""
    engine = sa.create_engine(erp)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE recognition ADD COLUMN changed_at TEXT")
        connection.exec_driver_sql("UPDATE recognition SET changed_at = period || '-28 12:00:00'")
    engine.dispose()


def _pull_metadata(result) -> dict[str, object]:
    # One materialization per month of the run, all of the one read.
    materialization = result.asset_materializations_for_node("erp_recognition")[0]
    return {key: value.value for key, value in materialization.metadata.items()}


def test_a_late_change_to_an_old_month_is_pulled_alone_and_restates_it(tmp_path, monkeypatch):
    warehouse = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    build(tmp_path, monkeypatch, warehouse)
    erp = f"sqlite:///{tmp_path / 'sources' / 'erp.sqlite'}"
    _stamp_lines(erp)
    monkeypatch.setenv("BACKLOG_ERP_COLUMNS", "last_modified=changed_at")
    defs = load_definitions()
    first = close(defs, "2024-01", "2024-06")
    assert first.success
    assert _pull_metadata(first)["pull"] == "full: there is no snapshot yet"

    # March's C2 line is corrected in July, 300.00 -> 350.00: 50 more converted in March.
    engine = sa.create_engine(erp)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE recognition SET amount = '350.00', changed_at = '2024-07-02 09:00:00' "
            "WHERE contract_id = 'C2' AND period = '2024-03'"
        )
    engine.dispose()
    again = close(defs, "2024-03")
    assert again.success
    pulled = _pull_metadata(again)
    # Asked from April's mark (the latest stamp): the corrected line and C1's April line,
    # stamped exactly at the mark; not the six lines of the table.
    assert pulled["pull"] == "incremental: 2 changed row(s) since 2024-04-28T12:00:00.000Z"
    assert pulled["fetched_rows"] == 2 and pulled["source_copy_rows"] == 6
    march = money(EXPECTED["2024-03"][6]) - money("50.00")
    assert closings(warehouse)["2024-03"] == march
    # Publication recorded the mark the snapshot carries, computed when it was written.
    snapshot = Snapshot(tmp_path / "data" / "sources" / "erp-recognition.parquet", "", "")
    carried = snapshot.state().marks["erp_recognition"]
    assert carried["rows"] == 6 and carried["total"] == "4550.25"  # 4 × 1000 + 200.25 + 350
    assert any(marks["erp_recognition"] == carried for marks in current_source_marks(
        sa.create_engine(warehouse)))  # fmt: skip
