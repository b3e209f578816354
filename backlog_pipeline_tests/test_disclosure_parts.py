"""The parts of the RPO disclosure around the accounting: when the plan is used, the plan
and budget sources, the settings, the digest that versions the disclosure, and the
identities publication checks once more."""

from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.accounting.disclosure import DisclosurePolicy, disclose, plan_start
from backlog_pipeline.accounting.disclosure_identities import disclosure_discrepancies
from backlog_pipeline.config import SettingsError, load_settings
from backlog_pipeline.periods import parse_month
from backlog_pipeline.sources.planning import (
    PlanningError,
    parse_plan,
    read_budget_csv,
    read_plan_table,
)
from backlog_pipeline.warehouse.disclosure_publication import DisclosureFrames, disclosure_digests
from backlog_pipeline.warehouse.disclosure_schema import current_tables
from backlog_pipeline_tests.rpo_frames import contracts_of, plan_of, rows_of

FLOW = ("opening", "new_bookings", "converted", "lost", "increases", "decreases")


def _close(rows: pd.DataFrame) -> pd.DataFrame:
    """The flow of contract rows that hold only a closing (no movement)."""
    for name in FLOW:
        rows[name] = 0
    flow = rows.groupby("period", as_index=False)[[*FLOW, "closing"]].sum()
    return flow


def _disclosure(plan: pd.DataFrame | None, *months: str):
    contracts = contracts_of(("A", "2024-01-01", "2024-12-31"))
    rows = rows_of(*((month, "A", 60_000) for month in months))  # 600.00 left each month
    flow = _close(rows)
    return disclose(rows, contracts, flow, [parse_month(m) for m in months],
                    DisclosurePolicy(), plan)  # fmt: skip


def test_the_plan_is_used_only_from_the_month_before_its_earliest_period():
    # A's plan starts in August 2024: at the end of June its lines before August were
    # already recognized, so June is straight line (100.00 a month July..December) and
    # July, the month before the plan's first period, reads the plan (600.00 in August).
    plan = plan_of(("A", "2024-08", 60_000))
    assert plan_start(plan) == parse_month("2024-07")
    result = _disclosure(plan, "2024-06", "2024-07")
    assert result.months_without_plan == [parse_month("2024-06")]
    assert result.summary["plan_used"].tolist() == [False, True]
    assert result.contract_timing["basis"].tolist() == ["straight_line", "plan"]
    june, july = (result.waterfall[result.waterfall["period"] == parse_month(m)]
                  for m in ("2024-06", "2024-07"))  # fmt: skip
    assert june["amount"].tolist()[:7] == [10_000] * 6 + [0]
    assert july["amount"].tolist()[:2] == [60_000, 0]  # August is month 1 after July
    # The identities hold on what is published.
    assert disclosure_discrepancies(
        result.summary, result.contract_timing, result.waterfall, result.register,
        result.slices, _close(rows_of(*((m, "A", 60_000) for m in ("2024-06", "2024-07")))),
    ) == []  # fmt: skip


def test_a_broken_waterfall_is_named_before_anything_is_written():
    result = _disclosure(None, "2024-06")
    waterfall = result.waterfall.copy()
    waterfall.loc[0, "amount"] += 1
    found = disclosure_discrepancies(
        result.summary, result.contract_timing, waterfall, result.register, result.slices,
        _close(rows_of(("2024-06", "A", 60_000))),
    )  # fmt: skip
    assert {(f["period"], f["figure"], f["difference"]) for f in found} == {
        ("2024-06", "disclosed", "0.01"), ("2024-06", "within_12_months", "0.01")
    }  # fmt: skip


def _frames(result) -> DisclosureFrames:
    summary = result.summary.assign(currency="USD", short_contract_expedient=False,
                                    duration_from="start")  # fmt: skip
    return DisclosureFrames(summary, result.contract_timing, result.waterfall, result.register,
                            result.slices, result.ratios, result.aging)  # fmt: skip


def test_the_disclosure_digest_moves_with_any_published_figure_and_only_then():
    months = [parse_month("2024-06")]
    first = _frames(_disclosure(None, "2024-06"))
    again = _frames(_disclosure(None, "2024-06"))
    digest = disclosure_digests(first.published(months), months)
    assert disclosure_digests(again.published(months), months) == digest
    moved = _frames(_disclosure(plan_of(("A", "2024-07", 60_000)), "2024-06"))
    assert disclosure_digests(moved.published(months), months) != digest


def test_plan_rows_that_cannot_be_read_refuse_the_whole_plan_naming_each():
    raw = pd.DataFrame(
        {"contract_id": ["A", "", "B"], "period": ["2024-07", "2024-08", "July"],
         "amount": ["100.00", "1.005", "3"]}
    )  # fmt: skip
    with pytest.raises(PlanningError) as refused:
        parse_plan(raw, "plan")
    assert [(p["row_number"], p["field"]) for p in refused.value.problems] == [
        (3, "contract_id"), (3, "amount"), (4, "period")
    ]  # fmt: skip
    assert "row 4: period: period 'July' is not a month (YYYY-MM)" in str(refused.value)


def test_the_plan_table_and_the_budget_file_are_read_exactly(tmp_path):
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = sa.create_engine(url)
    pd.DataFrame({"contract_id": ["A"], "period": ["2024-07"], "amount": ["1234567.89"]}).to_sql(
        "plan", engine, index=False
    )
    engine.dispose()
    plan = read_plan_table(url, "plan", "ERP plan")
    assert plan.to_dict("records") == [
        {"contract_id": "A", "period": parse_month("2024-07"), "amount": 123456789}
    ]
    with pytest.raises(PlanningError, match="row 1: table: cannot be read: no such table"):
        read_plan_table(url, "missing", "ERP plan")
    budget = tmp_path / "budget.csv"
    budget.write_text("month,amount\n2024-07,10.10\n2024-07,0.05\n")
    assert read_budget_csv(budget)["amount"].tolist() == [1010, 5]


def test_the_disclosure_settings_are_checked(tmp_path):
    base = {"BACKLOG_DATA_DIR": str(tmp_path)}
    settings = load_settings(base | {"BACKLOG_RPO_SHORT_CONTRACT_EXPEDIENT": "true",
                                     "BACKLOG_RPO_DURATION_FROM": "signed"})  # fmt: skip
    assert (settings.rpo_short_contract_expedient, settings.rpo_duration_from) == (True, "signed")
    assert settings.erp_plan_table is None and settings.revenue_budget_csv is None
    with pytest.raises(SettingsError, match="BACKLOG_RPO_DURATION_FROM='end' must be one of"):
        load_settings(base | {"BACKLOG_RPO_DURATION_FROM": "end"})
    with pytest.raises(SettingsError, match="BACKLOG_REVENUE_BUDGET_CSV"):
        load_settings(base | {"BACKLOG_REVENUE_BUDGET_CSV": "nowhere.csv"})
    with pytest.raises(SettingsError, match="BACKLOG_ERP_PLAN_TABLE='plan; drop'"):
        load_settings(base | {"BACKLOG_ERP_PLAN_TABLE": "plan; drop"})


def test_ratios_are_exact_four_decimal_text_on_sqlite(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    table = current_tables["backlog_ratios"]
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(
            table.insert(),
            [
                {
                    "period": "2024-06",
                    "version": 1,
                    "months_of_revenue_months_used": 3,
                    "customers": 1,
                    "coverage": Decimal("1.3375"),
                }
            ],
        )
        raw = connection.exec_driver_sql("SELECT coverage FROM backlog_ratios").scalar()
        typed = connection.execute(sa.select(table.c.coverage)).scalar()
    engine.dispose()
    assert (raw, typed) == ("1.3375", Decimal("1.3375"))


def test_the_digest_reads_values_not_the_dtypes_a_run_gave_them():
    # A month closed alone holds no null in a column that is null in another month of a
    # range (January's cancellation share): ints, floats and objects of one value agree.
    months = [parse_month("2024-06")]
    result = _frames(_disclosure(None, "2024-06"))
    tables = result.published(months)
    ratios = tables["backlog_ratios"]
    retyped = dict(tables)
    retyped["backlog_ratios"] = ratios.astype({"cancellation_share_pct": object,
                                               "customers": float, "period": object})  # fmt: skip
    retyped["rpo_disclosure"] = tables["rpo_disclosure"].astype({"plan_used": object})
    assert disclosure_digests(retyped, months) == disclosure_digests(tables, months)
