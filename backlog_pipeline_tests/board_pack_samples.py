"""Realistic board pack inputs: the demo company's published figures.

The flow is the demo's, as ``backlog-close`` printed it at commit ff490f1 (24 months), before
the demo gained EUR and GBP contracts: today it is the demo's USD flow, figure for figure
(``backlog_flow_by_currency``, currency USD), and a fixed input of the report tests; the
top customers of 2025-06 are the demo's contract rows summed by customer. The timing split,
budget and ratios are illustrative (issue 14 is not published yet) but consistent: the
arithmetic is written next to them. (The README's bridge image is the demo close's own
``<output>/2025-06/board_pack_bridge.png``.)
"""

from __future__ import annotations

from decimal import Decimal

from backlog_pipeline.report import (
    CheckResult,
    ClosingPoint,
    Concentration,
    CustomerShare,
    MonthFlow,
    MonthPack,
    PeriodAmount,
    PlanCoverage,
    Ratio,
    RatioUnit,
    TimingSchedule,
    TrendMonth,
    TrendPack,
    VersionInfo,
)

D = Decimal
# period, opening, new_bookings, converted, lost, increases, decreases, closing, net_change, pct
DEMO_FLOW = """
2024-01       0.00 384000.00  12000.00      0.00      0.00      0.00  372000.00  372000.00 n/a
2024-02  372000.00 357934.24  30250.00      0.00      0.00      0.00  699684.24  327684.24 88.09
2024-03  699684.24 204000.00 106788.07      0.00      0.00      0.00  796896.17   97211.93 13.89
2024-04  796896.17 667431.99  89278.08      0.00  21660.00      0.00 1396710.08  599813.91 75.27
2024-05 1396710.08 656594.25 196960.08      0.00      0.00      0.00 1856344.25  459634.17 32.91
2024-06 1856344.25 318717.49 227229.75      0.00  12560.00      0.00 1960391.99  104047.74 5.60
2024-07 1960391.99 717975.50 173409.08   5600.00   3025.00   3135.00 2499248.41  538856.42 27.49
2024-08 2499248.41 222487.00 173753.08   5000.00      0.00      0.00 2542982.33   43733.92 1.75
2024-09 2542982.33 615000.00 221925.33      0.00  34242.50    225.00 2970074.50  427092.17 16.79
2024-10 2970074.50 540000.00 240201.25   6438.00      0.00   8840.00 3254595.25  284520.75 9.58
2024-11 3254595.25 254314.99 267521.25    900.00   9240.00   2220.00 3247508.99   -7086.26 -0.22
2024-12 3247508.99 594000.00 298498.94  33852.00   3718.00   6636.60 3506239.45  258730.46 7.97
2025-01 3506239.45 420000.00 330688.95  89512.50  16320.00    810.00 3521548.00   15308.55 0.44
2025-02 3521548.00 224490.50 326982.30      0.00  20800.00  21200.20 3418656.00 -102892.00 -2.92
2025-03 3418656.00 552000.00 332473.00   3267.00   1755.00   6000.00 3630671.00  212015.00 6.20
2025-04 3630671.00 692651.25 379608.37      0.00      0.00   5100.00 3938613.88  307942.88 8.48
2025-05 3938613.88 439450.50 408967.63  15395.00  11160.00      0.00 3964861.75   26247.87 0.67
2025-06 3964861.75 432000.00 414933.35  26401.00  15660.00  24288.00 3946899.40  -17962.35 -0.45
2025-07 3946899.40 487128.98 397591.09      0.00  17325.00      0.00 4053762.29  106862.89 2.71
2025-08 4053762.29 441000.00 459053.39  13106.00   7245.00   6460.00 4023387.90  -30374.39 -0.75
2025-09 4023387.90 732000.00 435818.12   4500.00   1410.15      0.00 4316479.93  293092.03 7.28
2025-10 4316479.93 465000.00 392299.17 284960.00  13506.05      0.00 4117726.81 -198753.12 -4.60
2025-11 4117726.81 563641.49 446983.27      0.00   2730.00  12160.00 4224955.03  107228.22 2.60
2025-12 4224955.03 404127.50 419527.68  87000.00  22309.08  21254.60 4123609.33 -101345.70 -2.40
"""
_KEYS = tuple(key for key in MonthFlow.AMOUNTS if key != "fx_revaluation")  # as printed


def demo_flows() -> dict[str, MonthFlow]:
    flows = {}
    for line in DEMO_FLOW.strip().splitlines():
        period, *amounts, pct = line.split()
        figures = dict(zip(_KEYS, map(D, amounts), strict=True))
        flows[period] = MonthFlow(
            period, **figures, net_change_pct=None if pct == "n/a" else D(pct)
        )
    return flows


# 2025-06: within 12 months 2,311,450.20 + after 12 months 1,571,449.20 + undated 64,000.00
# = 3,946,899.40, the closing. After 12 months = 1,120,000.00 + 351,449.20 + 100,000.00.
# The 12 months sum to 2,311,450.20 (the last, 143,138.95, is the rest).
TIMING_2025_06 = TimingSchedule(
    next_months=tuple(
        PeriodAmount(period, D(amount))
        for period, amount in (
            ("2025-07", "228500.00"),
            ("2025-08", "224310.50"),
            ("2025-09", "219880.00"),
            ("2025-10", "212400.00"),
            ("2025-11", "205650.75"),
            ("2025-12", "198900.00"),
            ("2026-01", "191200.00"),
            ("2026-02", "184300.00"),
            ("2026-03", "176950.00"),
            ("2026-04", "167800.00"),
            ("2026-05", "158420.00"),
            ("2026-06", "143138.95"),
        )
    ),
    months_13_to_24=D("1120000.00"),
    months_25_to_36=D("351449.20"),
    after_36_months=D("100000.00"),
    undated=D("64000.00"),
)
# within + after + undated = closing for each month (2,210,000.00 + 1,664,613.88 + 64,000.00 =
# 3,938,613.88; 2,250,300.00 + 1,650,561.75 + 64,000.00 = 3,964,861.75).
TIMING_SPLITS = {
    "2025-04": (D("2210000.00"), D("1664613.88"), D("64000.00")),
    "2025-05": (D("2250300.00"), D("1650561.75"), D("64000.00")),
    "2025-06": (D("2311450.20"), D("1571449.20"), D("64000.00")),
}

# The demo's contract rows of 2025-06 summed by customer; share = closing / 3,946,899.40.
TOP_CUSTOMERS_2025_06 = (
    ("CUST-0111", "Quiet Energy", "220000.00", "5.57"),
    ("CUST-0020", "Silver Health", "200000.00", "5.07"),
    ("CUST-0039", "Quiet Energy", "190590.00", "4.83"),
    ("CUST-0114", "Cedar Logistics", "185000.00", "4.69"),
    ("CUST-0115", "Harbor Foods", "148690.00", "3.77"),
    ("CUST-0038", "Silver Retail", "140000.00", "3.55"),
    ("CUST-0030", "Quiet Retail", "136750.00", "3.46"),
    ("CUST-0063", "Blue Energy", "133500.00", "3.38"),
    ("CUST-0033", "Cedar Works", "130240.00", "3.30"),
    ("CUST-0013", "Bright Systems", "128056.00", "3.24"),
)

# Issue 14's definitions on the demo figures (half up):
# cancellation share 26,401.00 / 3,964,861.75 = 0.67 %; May 15,395.00 / 3,938,613.88 = 0.39 %
# book-to-bill 432,000.00 / 414,933.35 = 1.0411; May 439,450.50 / 408,967.63 = 1.0745
# months 3,946,899.40 / ((414,933.35 + 408,967.63 + 379,608.37) / 3) = 9.8385; May 10.6102
# coverage 3,946,899.40 / 4,800,000.00 = 0.8223; current 2,311,450.20 / 4,800,000.00 = 0.4816
RATIOS_2025_06 = (
    Ratio("Cancellation share (lost ÷ opening)", RatioUnit.PERCENT, D("0.67"), D("0.39")),
    Ratio("Book-to-bill (new ÷ converted)", RatioUnit.MULTIPLE, D("1.0411"), D("1.0745")),
    Ratio(
        "Months of revenue in backlog",
        RatioUnit.MONTHS,
        D("9.8385"),
        D("10.6102"),
        note="closing ÷ average converted of the last 3 months",
    ),
    Ratio(
        "Coverage of the next 12 months' budget",
        RatioUnit.MULTIPLE,
        D("0.8223"),
        None,
        previous_reason="no budget given for May 2025",
    ),
    Ratio(
        "Current coverage (within 12 months ÷ budget)",
        RatioUnit.MULTIPLE,
        D("0.4816"),
        None,
        previous_reason="no budget given for May 2025",
    ),
)

CHECKS = (
    CheckResult("flow_reconciles", "ERROR", True, "backlog_flow"),
    CheckResult("cancellation_line_present", "ERROR", True, "backlog_flow"),
    CheckResult("flow_matches_contracts", "ERROR", True, "backlog_flow"),
    CheckResult("matches_published", "WARN", True, "backlog_flow"),
    CheckResult("no_phantom_backlog", "WARN", False, "contract_backlog"),
)


def history(period: str, flows: dict[str, MonthFlow]) -> tuple[ClosingPoint, ...]:
    months = [month for month in sorted(flows) if month <= period][-24:]
    return tuple(_closing_point(month, flows[month]) for month in months)


def _closing_point(period: str, flow: MonthFlow) -> ClosingPoint:
    if period not in TIMING_SPLITS:
        return ClosingPoint(period, flow.closing)
    within, after, undated = TIMING_SPLITS[period]
    return ClosingPoint(period, flow.closing, within, after, undated)


def month_pack(period: str = "2025-06", version: VersionInfo | None = None) -> MonthPack:
    """The month as the board would see it; the full pack for 2025-06, the flow otherwise."""
    flows = demo_flows()
    full = period == "2025-06"
    customers = tuple(
        CustomerShare(cid, D(closing), D(share), name)
        for cid, name, closing, share in TOP_CUSTOMERS_2025_06
    )
    return MonthPack(
        currency="USD",
        flow=flows[period],
        version=version or VersionInfo(1, "03fb0a0f-d102-439e-8c11-d15ee810a069", locked=False),
        history=history(period, flows),
        timing=TIMING_2025_06 if full else None,
        coverage=PlanCoverage(
            D("4800000.00"), D("2311450.20"), D("3946899.40"), D("0.8223"), D("0.4816")
        )
        if full
        else None,
        concentration=Concentration(D("5.57"), D("40.86"), customers) if full else None,
        ratios=RATIOS_2025_06 if full else (),
        checks=CHECKS,
    )


def trend_pack() -> TrendPack:
    flows = demo_flows()
    return TrendPack(
        "USD",
        tuple(
            TrendMonth(flow, _closing_point(period, flow) if period in TIMING_SPLITS else None)
            for period, flow in flows.items()
        ),
    )
