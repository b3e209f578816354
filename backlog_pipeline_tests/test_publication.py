"""Versioned publication straight through its API, on SQLite and PostgreSQL.

Figures come from the hand-worked dataset of ``test_pipeline``; what is asserted is how
versions, history, locks and failures leave the warehouse.
"""

import threading
from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.accounting.lineage import source_records
from backlog_pipeline.periods import parse_month
from backlog_pipeline.warehouse import locks
from backlog_pipeline.warehouse import versions as publication
from backlog_pipeline.warehouse.bulk_stage import StagedLoads
from backlog_pipeline.warehouse.engine import create_warehouse_engine
from backlog_pipeline_tests.support import CHANGES, CONTRACTS, RECOGNITION, frames, money

M = parse_month
MONTHS = [M("2024-01"), M("2024-02"), M("2024-03")]


def computed(recognition: list[dict] = RECOGNITION) -> tuple[pd.DataFrame, ...]:
    contracts, changes, lines = frames(CONTRACTS, CHANGES, recognition)
    rows, flow = compute_backlog(contracts, changes, lines, MONTHS[0], MONTHS[-1])
    return flow, rows, source_records(contracts, changes, lines)


def publish(url_or_engine: sa.Engine, run_id: str, recognition: list[dict] = RECOGNITION):
    flow, rows, records = computed(recognition)
    stamp = publication.RunStamp(
        run_id, "test", {"erp_recognition": {"rows": 1}}, datetime.now(UTC)
    )
    return publication.publish_versions(url_or_engine, MONTHS, flow, rows, records, "USD", stamp)


def read(engine: sa.Engine, name: str) -> pd.DataFrame:
    with engine.connect() as connection:
        frame = pd.read_sql(sa.text(f"SELECT * FROM {name}"), connection)
    keys = [key for key in ("period", "version", "contract_id", "id") if key in frame]
    return frame.sort_values(keys).reset_index(drop=True)


LATE = [*RECOGNITION, {"line_id": "L", "contract_id": "C2", "period": "2024-03", "amount": "1.00"}]


def test_versions_only_where_figures_change(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    first = publish(engine, "run-1")
    assert [(o.status, o.version) for o in first] == [("first", 1)] * 3
    again = publish(engine, "run-2")
    assert [(o.status, o.version) for o in again] == [("unchanged", 1)] * 3
    restated = publish(engine, "run-3", LATE)
    assert [(o.status, o.version) for o in restated] == [
        ("unchanged", 1), ("unchanged", 1), ("restated", 2)
    ]  # fmt: skip
    versions = read(engine, "publication_versions")
    assert list(versions["run_id"]) == ["run-1", "run-1", "run-1", "run-3"]
    # March v1 closed at 12500.25; the late 1.00 line makes it 12499.25.
    march = versions[versions["period"] == "2024-03"]
    assert [money(v) for v in march["closing"]] == [money("12500.25"), money("12499.25")]
    # The restated month's source records are kept per version; v2 has the late line.
    records = read(engine, "backlog_source_records")
    march_lines = records[(records["period"] == "2024-03") & (records["figure"] == "converted")]
    assert sorted(march_lines[march_lines["version"] == 2]["record_id"]) == [
        "C1-2024-03-2", "C2-2024-03-1", "L"
    ]  # fmt: skip
    assert "L" not in set(march_lines[march_lines["version"] == 1]["record_id"])
    engine.dispose()


def test_a_failure_between_tables_leaves_the_previous_publication_whole(warehouse_url, monkeypatch):
    engine = create_warehouse_engine(warehouse_url)
    publish(engine, "run-1")
    before = {name: read(engine, name) for name in ("backlog_flow", "contract_backlog",
                                                    "publication_versions")}  # fmt: skip
    real_insert = StagedLoads.insert_parts

    def failing_insert(self, connection, table, parts):
        if table.name == "contract_backlog":
            raise ConnectionError("connection dropped mid-publication")
        real_insert(self, connection, table, parts)

    monkeypatch.setattr(StagedLoads, "insert_parts", failing_insert)
    with pytest.raises(ConnectionError):
        publish(engine, "run-2", LATE)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(read(engine, name), frame)
    assert read(engine, "contract_backlog_history").empty
    # A rerun converges to the figures a clean run gives.
    monkeypatch.setattr(StagedLoads, "insert_parts", real_insert)
    assert [o.status for o in publish(engine, "run-3", LATE)][-1] == "restated"
    engine.dispose()


def test_a_failure_moving_staged_rows_leaves_the_publication_whole_and_no_scratch(tmp_path):
    """The staged rows' own move fails inside the transaction (SQLite: their scratch table
    is gone): the flow already replaced in that transaction is rolled back with it."""
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    engine = create_warehouse_engine(url)
    publish(engine, "run-1")
    before = {name: read(engine, name) for name in ("backlog_flow", "contract_backlog",
                                                    "backlog_source_records")}  # fmt: skip
    real_attached = StagedLoads.attached

    def attached_then_lost(self, connection):
        assert self._staged, "the changed month was staged ahead"
        for name in {scratch for scratch, *_ in self._staged.values()}:
            self._connection().cursor().execute(f"DROP TABLE {name}")
        return real_attached(self, connection)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StagedLoads, "attached", attached_then_lost)
        with pytest.raises(sa.exc.OperationalError, match="no such table"):
            publish(engine, "run-2", LATE)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(read(engine, name), frame)
    assert not [p.name for p in tmp_path.iterdir() if ".bulk-" in p.name]
    engine.dispose()


def test_a_locked_month_refuses_a_change_and_writes_nothing(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    publish(engine, "run-1")
    locks.lock_month(engine, M("2024-03"), "Jane", "signed off")
    assert {o.status for o in publish(engine, "run-2")} == {"unchanged"}
    with pytest.raises(locks.PeriodLockedError, match=r"2024-03 \(locked by Jane"):
        publish(engine, "run-3", LATE)
    assert len(read(engine, "publication_versions")) == 3
    with pytest.raises(locks.PublicationError, match="needs who does it and why"):
        locks.unlock_month(engine, M("2024-03"), "Jane", " ")
    locks.unlock_month(engine, M("2024-03"), "Jane", "late line")
    assert publish(engine, "run-4", LATE)[-1].version == 2
    with pytest.raises(locks.PublicationError, match="has not been published"):
        locks.lock_month(engine, M("2024-09"), "Jane", "too early")
    engine.dispose()


def test_two_publishers_racing_leave_one_consistent_month(postgres_url):
    """Whoever wins, the current tables equal the latest version: never a mix of the two."""
    engine = create_warehouse_engine(postgres_url)
    publish(engine, "run-0")
    lost_races = 0
    for attempt in range(3):
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def racer(
            run_id: str,
            lines: list[dict],
            start: threading.Barrier = start,
            errors: list[BaseException] = errors,
        ) -> None:
            start.wait()
            try:
                publish(engine, run_id, lines)
            except sa.exc.IntegrityError as error:
                errors.append(error)

        extra = {"line_id": f"R{attempt}", "contract_id": "C1", "period": "2024-02",
                 "amount": "2.00"}  # fmt: skip
        threads = [
            threading.Thread(target=racer, args=(f"a{attempt}", LATE)),
            threading.Thread(target=racer, args=(f"b{attempt}", [*LATE, extra])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(errors) <= 1
        lost_races += len(errors)
        versions = read(engine, "publication_versions")
        latest = versions.sort_values("version").groupby("period").tail(1).set_index("period")
        flow = read(engine, "backlog_flow").set_index("period")
        for period, row in latest.iterrows():
            assert money(flow.at[period, "closing"]) == money(row["closing"]), (attempt, period)
        rows = read(engine, "contract_backlog")
        for period, group in rows.groupby("period"):
            assert len(group) == latest.at[period, "contract_rows"]
            assert sum(map(money, group["closing"])) == money(latest.at[period, "closing"])
    print(f"{lost_races} of 3 races ended with the loser rolled back")
    engine.dispose()
