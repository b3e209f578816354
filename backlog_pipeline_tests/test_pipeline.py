"""The close end to end in Dagster, into SQLite and into the machine's PostgreSQL.

The dataset is small enough to work out by hand (see ``EXPECTED``); the figures are not
copied from a run of the code.
"""

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import simplejson

from backlog_pipeline_tests.support import (
    CONTRACTS,
    EXPECTED,
    RECOGNITION,
    build,
    check_results,
    close,
    contract,
    load_definitions,
    money,
    table,
)

pytestmark = pytest.mark.slow

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "kpi-bookings_backlog_total.json"
FIGURES = ("opening", "new_bookings", "converted", "lost", "increases", "decreases", "closing")


SOURCE_KEYS = ("crm_contracts", "crm_contract_changes", "erp_recognition", "fx_rates",
               "erp_revenue_plan", "revenue_budget")  # fmt: skip
# Computed beside the flow, before its blocking checks decide publication.
CURRENCY_FLOW_KEYS = ("backlog_flow_by_currency", "backlog_flow_constant_currency")


def _materialized_keys(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {
        event.asset_key
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
    }


def test_close_publishes_the_hand_computed_flow_details_and_documents(
    tmp_path, monkeypatch, warehouse_url
):
    defs = build(tmp_path, monkeypatch, warehouse_url)
    result = close(defs, "2024-01", "2024-06")
    assert result.success
    assert all(evaluation.passed for evaluation in check_results(result).values())

    flow = table(warehouse_url, "backlog_flow")
    assert flow["period"].tolist() == list(EXPECTED)
    for row in flow.to_dict("records"):
        *figures, pct = EXPECTED[row["period"]]
        assert [money(row[name]) for name in FIGURES] == [money(f) for f in figures], row["period"]
        assert (None if pd.isna(row["net_change_pct"]) else money(row["net_change_pct"])) == (
            None if pct is None else money(pct)
        )
        assert row["currency"] == "USD"

    detail = table(warehouse_url, "contract_backlog")
    april = detail[detail["period"] == "2024-04"].set_index("contract_id")
    assert [money(april.loc["C1", f]) for f in FIGURES] == [money(v) for v in
        ("9000", "0", "1000", "8000", "0", "0", "0")]  # fmt: skip
    assert money(april.loc["C2", "closing"]) == money("2500.25")
    assert money(april.loc["C3", "closing"]) == money("1000")
    # June: C1 is gone, C2 and C3 carry their backlog with nothing happening.
    june = detail[detail["period"] == "2024-06"]
    assert june["contract_id"].tolist() == ["C2", "C3"]
    assert [money(v) for v in june["closing"]] == [money("2500.25"), money("650")]

    output = tmp_path / "data" / "output" / "2024-04"
    changes = simplejson.loads(
        (output / "bookings_backlog_changes.json").read_text(), use_decimal=True
    )
    assert list(changes) == [
        "startingBackLogValue", "newBookingValue", "bookingsConvertedToRevenue",
        "lostBookingsPostContract", "backlogValueIncreases", "backlogValueDecreases",
        "endingBackLogValue", "netChange", "netChangePercent",
    ]  # fmt: skip
    assert changes["lostBookingsPostContract"] == Decimal("8000.00")
    assert changes["endingBackLogValue"] == Decimal("3500.25")
    assert changes["netChange"] == Decimal("-9000.00")
    assert '"endingBackLogValue": 3500.25' in (output / "bookings_backlog_changes.json").read_text()

    total = simplejson.loads((output / "bookings_backlog_total.json").read_text(), use_decimal=True)
    seed = simplejson.loads(SEED.read_text()) if SEED.is_file() else None
    if seed is not None:  # shared/ stands beside the checkout in CI and in development
        assert (total["version"], total["releasedAt"]) == (seed["version"], seed["releasedAt"])
        assert list(total["kpi"]) == list(seed["kpi"])
        for key in ("rogueId", "slug", "domain", "defaultLabel", "fieldType", "metricBasis"):
            assert total["kpi"][key] == seed["kpi"][key]
    assert total["measurement"]["value"] == Decimal("3500.25")
    assert total["measurement"]["asOf"] == "2024-04-30"


def test_rerunning_a_month_leaves_identical_tables_and_documents(
    tmp_path, monkeypatch, warehouse_url
):
    defs = build(tmp_path, monkeypatch, warehouse_url)
    assert close(defs, "2024-01", "2024-06").success
    before = (table(warehouse_url, "backlog_flow"), table(warehouse_url, "contract_backlog"))
    document = tmp_path / "data" / "output" / "2024-04" / "bookings_backlog_total.json"
    text_before = document.read_text()
    assert close(defs, "2024-04").success
    assert close(defs, "2024-03", "2024-05").success
    pd.testing.assert_frame_equal(before[0], table(warehouse_url, "backlog_flow"))
    pd.testing.assert_frame_equal(before[1], table(warehouse_url, "contract_backlog"))
    assert document.read_text() == text_before


def test_a_range_in_one_run_equals_month_by_month_runs(tmp_path, monkeypatch, demo_paths):
    def demo_defs(folder: str) -> dg.Definitions:
        for name, value in {
            "BACKLOG_DATA_DIR": str(tmp_path / folder),
            "BACKLOG_CRM_DIR": str(demo_paths.crm_dir),
            "BACKLOG_ERP_URL": demo_paths.erp_url,
            "BACKLOG_FX_RATES_TABLE": "fx_rates",  # the demo's EUR and GBP rates
            "BACKLOG_WAREHOUSE_URL": f"sqlite:///{tmp_path / folder / 'warehouse.sqlite'}",
            "BACKLOG_START_MONTH": "2024-01",
            "BACKLOG_END_MONTH": "2025-12",
        }.items():
            monkeypatch.setenv(name, value)
        (tmp_path / folder).mkdir()
        return load_definitions()

    ranged = demo_defs("ranged")
    assert close(ranged, "2025-01", "2025-06").success
    monthly = demo_defs("monthly")
    for month in ("2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"):
        assert close(monthly, month).success
    for name in ("backlog_flow", "contract_backlog", "backlog_flow_by_currency",
                 "backlog_flow_constant_currency", "publication_fx_rates",
                 # The disclosure too: its months of revenue read the months before a run.
                 "rpo_disclosure", "rpo_contract_timing", "rpo_timing_waterfall",
                 "rpo_exclusion_register", "backlog_slices", "backlog_ratios",
                 "backlog_aging"):  # fmt: skip
        pd.testing.assert_frame_equal(
            table(f"sqlite:///{tmp_path / 'ranged' / 'warehouse.sqlite'}", name),
            table(f"sqlite:///{tmp_path / 'monthly' / 'warehouse.sqlite'}", name),
        )


@pytest.mark.parametrize(
    ("breakage", "failing_check", "detail"),
    [
        (lambda flow: flow.drop(columns=["lost"]), "cancellation_line_present", "no cancellation"),
        (lambda flow: flow.assign(lost=None), "cancellation_line_present", "null"),
        (
            lambda flow: flow.assign(closing=flow["closing"] + 1),
            "flow_reconciles",
            "difference=0.01",
        ),
    ],
    ids=["no-cancellation-line", "null-cancellation-line", "identity-off-by-a-cent"],
)
def test_a_flow_that_fails_a_blocking_check_publishes_nothing(
    tmp_path, monkeypatch, warehouse_url, breakage, failing_check, detail
):
    defs = build(tmp_path, monkeypatch, warehouse_url)
    assert close(defs, "2024-01", "2024-03").success
    published = table(warehouse_url, "backlog_flow")

    import backlog_pipeline.defs.backlog as backlog_module

    real_period_flow = backlog_module.period_flow
    monkeypatch.setattr(
        backlog_module, "period_flow", lambda rows, months: breakage(real_period_flow(rows, months))
    )
    result = close(defs, "2024-03", "2024-04")
    assert not result.success
    evaluation = check_results(result)[failing_check]
    assert not evaluation.passed
    assert detail in evaluation.metadata["summary"].value
    materialized = {key.to_user_string() for key in _materialized_keys(result)}
    assert materialized == {"contract_backlog", "backlog_flow", *SOURCE_KEYS, *CURRENCY_FLOW_KEYS}
    pd.testing.assert_frame_equal(published, table(warehouse_url, "backlog_flow"))
    assert not (tmp_path / "data" / "output" / "2024-04").exists()


def test_unreadable_source_rows_are_quarantined_and_the_rest_is_published(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    # 1 of 4 contracts and 1 of 7 lines: above the default 5% share, within this one.
    monkeypatch.setenv("BACKLOG_MAX_QUARANTINE_SHARE", "0.25")
    bad_contract = contract("C9", "2024-13-01", "50.00")
    bad_line = {"line_id": "BAD-1", "contract_id": "C2", "period": "2024-02", "amount": "1.005"}
    defs = build(
        tmp_path, monkeypatch, url,
        contracts=[*CONTRACTS, bad_contract], recognition=[*RECOGNITION, bad_line],
    )  # fmt: skip
    result = close(defs, "2024-01", "2024-06")
    assert result.success
    quarantine = table(url, "source_quarantine").set_index("record_id")
    assert quarantine.loc["C9", ["table", "field", "row_number"]].tolist() == [
        "contracts",
        "signed_date",
        5,
    ]
    assert quarantine.loc["BAD-1", ["table", "field"]].tolist() == ["recognition", "amount"]
    assert "more than two decimals" in quarantine.loc["BAD-1", "reason"]
    assert str(tmp_path / "sources" / "crm") in quarantine.loc["C9", "source"]
    materialization = result.asset_materializations_for_node("crm_contracts")[0]
    assert materialization.metadata["quarantined_rows"].value == 1
    # The good rows are the hand-computed dataset, so its figures stand.
    closing = table(url, "backlog_flow").set_index("period")["closing"]
    assert money(closing["2024-06"]) == money("3150.25")


def test_a_source_over_the_quarantine_share_fails_after_writing_its_quarantine(
    tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    bad_contract = contract("C9", "2024-13-01", "50.00")
    defs = build(tmp_path, monkeypatch, url, contracts=[*CONTRACTS, bad_contract])
    result = close(defs, "2024-01")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "crm_contracts"
    message = failure.step_failure_data.user_failure_data.description
    # 1 of 4 rows is 25%, above the default 5%.
    assert "1 of 4 contracts rows quarantined, more than the 5% allowed" in message
    assert str(tmp_path / "sources" / "crm") in message
    assert table(url, "source_quarantine")["record_id"].tolist() == ["C9"]
    assert table(url, "backlog_flow").empty
