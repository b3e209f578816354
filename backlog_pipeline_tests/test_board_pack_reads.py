"""From published rows to the board pack: every figure the row's own, what is missing noted.

The rows are the demo's published figures of ``board_pack_samples`` written as the warehouse
returns them (SQLite's exact money text for the RPO tables); the packs they must give are the
samples' hand-made ones, so the mapping is held against an independent route.
"""

from dataclasses import replace
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from backlog_pipeline.periods import parse_month
from backlog_pipeline.report import CustomerShare, PackError
from backlog_pipeline.report.published import month_pack, trend_pack
from backlog_pipeline.warehouse.board_pack_reads import (
    DISCLOSURE_TABLE,
    RATIOS_TABLE,
    SLICES_TABLE,
    WATERFALL_TABLE,
    MonthVersion,
    Published,
    read_published,
)
from backlog_pipeline.warehouse.engine import create_warehouse_engine
from backlog_pipeline_tests import board_pack_samples as samples


def flow_rows(last: str = "2025-06") -> list[dict]:
    rows = []
    for period, flow in samples.demo_flows().items():
        if period <= last:
            figures = {name: getattr(flow, name) for name in flow.AMOUNTS}
            rows.append({"period": period, "currency": "USD", **figures,
                         "net_change_pct": flow.net_change_pct})  # fmt: skip
    return rows


def versions(*periods: str) -> dict[str, MonthVersion]:
    return {period: MonthVersion(period, 2, "run-7", 1, locked=True) for period in periods}


def rpo_tables() -> dict[str, list[dict]]:
    """The samples' 2025-06 timing, split and ratios as rows of issue 14's tables (text)."""
    disclosure = [
        {"period": period, "closing": "0", "within_12_months": str(within),
         "after_12_months": str(after), "undated": str(undated)}
        for period, (within, after, undated) in samples.TIMING_SPLITS.items()
    ]  # fmt: skip
    timing = samples.TIMING_2025_06
    waterfall = [
        {"period": "2025-06", "line": f"month_{k:02d}", "position": k - 1,
         "amount": str(part.amount)}
        for k, part in enumerate(timing.next_months, start=1)
    ] + [
        {"period": "2025-06", "line": "months_13_24", "position": 12, "amount": "1120000.00"},
        {"period": "2025-06", "line": "months_25_36", "position": 13, "amount": "351449.20"},
        {"period": "2025-06", "line": "after_36_months", "position": 14, "amount": "100000.00"},
        {"period": "2025-06", "line": "undated", "position": 15, "amount": "64000.00"},
        {"period": "2025-06", "line": "over_recognized", "position": 16, "amount": "0.00"},
    ]  # fmt: skip
    ratios = [
        {"period": "2025-05", "cancellation_share_pct": "0.39", "book_to_bill": "1.0745",
         "months_of_revenue": "10.6102", "budget_next_12_months": None, "coverage": None,
         "current_coverage": None, "coverage_reason": "no budget given for May 2025"},
        {"period": "2025-06", "cancellation_share_pct": "0.67", "book_to_bill": "1.0411",
         "months_of_revenue": "9.8385", "months_of_revenue_months_used": 3,
         "budget_next_12_months": "4800000.00", "coverage": "0.8223",
         "current_coverage": "0.4816", "coverage_reason": None},
    ]  # fmt: skip
    return {DISCLOSURE_TABLE: disclosure, WATERFALL_TABLE: waterfall, RATIOS_TABLE: ratios}


def test_without_the_rpo_tables_the_pack_has_the_flow_and_says_what_is_left_out():
    published = Published("USD", flow_rows(), versions("2025-06"))
    pack = month_pack(published, "2025-06")
    assert pack.flow == samples.demo_flows()["2025-06"]
    assert (pack.version.number, pack.version.restates, pack.version.locked) == (2, 1, True)
    # 18 months (January 2024 to June 2025), each closing as published, none split.
    assert [point.closing for point in pack.history] == [row["closing"] for row in flow_rows()]
    assert len(pack.history) == 18 and not any(point.has_timing for point in pack.history)
    assert pack.timing is None and pack.ratios == () and pack.concentration is None
    assert pack.notes == (
        f"When the backlog becomes revenue: not shown, this warehouse has no {WATERFALL_TABLE} "
        "table",
        f"Ratios, top customers and concentration: not shown, this warehouse has no "
        f"{RATIOS_TABLE} table",
    )


def test_the_rpo_tables_give_the_samples_timing_split_and_ratios():
    published = Published("USD", flow_rows(), versions("2025-06"), rpo_tables())
    pack = month_pack(published, "2025-06")
    expected = samples.month_pack()
    assert pack.timing == expected.timing
    assert pack.history == expected.history  # the last three months split, as the samples
    # Budget, closing and both ratios as published; the whole closing's within-12-months
    # figure that current coverage divides is not published, so it has no bar.
    assert pack.coverage == replace(expected.coverage, within_12_months=None)
    by_name = {ratio.name: ratio for ratio in pack.ratios}
    assert {name: (r.value, r.previous) for name, r in by_name.items()} == {
        ratio.name: (ratio.value, ratio.previous) for ratio in expected.ratios
    }
    assert by_name["Coverage of the next 12 months' budget"].previous_reason == (
        "no budget given for May 2025"
    )
    assert by_name["Months of revenue in backlog"].note == (
        "closing ÷ average converted of the last 3 month(s)"
    )
    # No concentration in these rows: left out, with the reason it would carry.
    assert pack.notes == ("Top customers and concentration: not shown, no backlog",)
    trend = trend_pack(published)
    assert [month.timing is not None for month in trend.months][-4:] == [False, True, True, True]


def test_concentration_and_top_customers_come_from_their_rows():
    tables = rpo_tables()
    tables[RATIOS_TABLE][1].update(
        largest_customer_id="CUST-0111", largest_customer_share_pct="5.57", top_10_share_pct="40.86"
    )
    tables[SLICES_TABLE] = [
        {"period": "2025-06", "dimension": "customer", "slice": cid, "closing": closing}
        for cid, _, closing, _ in samples.TOP_CUSTOMERS_2025_06
    ]  # fmt: skip
    pack = month_pack(Published("USD", flow_rows(), versions("2025-06"), tables), "2025-06")
    expected = samples.month_pack().concentration
    assert (pack.concentration.largest_share_pct, pack.concentration.top10_share_pct) == (
        expected.largest_share_pct, expected.top10_share_pct,
    )  # fmt: skip
    # Each customer's closing as published; only the largest's share is published.
    assert pack.concentration.top_customers == tuple(
        CustomerShare(c.customer_id, c.closing, D("5.57") if rank == 0 else None)
        for rank, c in enumerate(expected.top_customers)
    )
    assert pack.notes == ()


def test_a_month_not_published_has_no_pack():
    published = Published("USD", flow_rows("2025-05"), versions("2025-05"))
    with pytest.raises(PackError, match="2025-06 is not published"):
        month_pack(published, "2025-06")


def test_a_warehouse_reads_its_rpo_tables_and_a_missing_one_reads_as_none(tmp_path):
    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    june = [parse_month("2025-06")]
    published = read_published(engine, june)
    # Migrated to the code's schema: every table there, no month published yet.
    assert published.flow == [] and published.versions == {}
    assert published.rows(DISCLOSURE_TABLE, "2025-06") == []
    assert published.rows(SLICES_TABLE, "2025-06") == []
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP TABLE {WATERFALL_TABLE}"))
    assert read_published(engine, june).rows(WATERFALL_TABLE, "2025-06") is None
    engine.dispose()
