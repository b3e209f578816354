"""The flow by customer, product, segment and region: slices that sum, by hand."""

import pandas as pd

from backlog_pipeline.accounting.slices import FIGURES, backlog_slices, slice_discrepancies
from backlog_pipeline.periods import parse_month
from backlog_pipeline_tests.rpo_frames import contracts_of

JUNE = parse_month("2024-06")


def contract_rows(*rows: tuple[str, int, int, int, int]) -> pd.DataFrame:
    """(contract, opening, new, converted, lost) in June; closing = opening + new − converted
    − lost (no changes)."""
    frame = pd.DataFrame(
        rows, columns=["contract_id", "opening", "new_bookings", "converted", "lost"]
    )
    frame.insert(0, "period", JUNE)
    frame["increases"] = 0
    frame["decreases"] = 0
    frame["closing"] = frame["opening"] + frame["new_bookings"] - frame["converted"] - frame["lost"]
    return frame


def test_slices_sum_to_the_flow_and_missing_values_are_their_own_slice():
    contracts = contracts_of(
        (
            "C1",
            "2024-01-01",
            "2025-12-31",
            {"customer_id": "ACME", "product": "Platform", "region": "EMEA"},
        ),
        (
            "C2",
            "2024-01-01",
            "2025-12-31",
            {"customer_id": "ACME", "product": "Services", "region": " "},
        ),
        ("C3", "2024-01-01", "2025-12-31", {"customer_id": "BOLT", "product": "Platform"}),
    )
    rows = contract_rows(
        ("C1", 100_000, 0, 10_000, 0),  # closes 90,000
        ("C2", 0, 50_000, 5_000, 0),  # closes 45,000
        ("C3", 30_000, 0, 0, 30_000),  # cancelled: closes 0
    )
    slices = backlog_slices(rows, contracts)
    closing = {
        (d, s): c
        for d, s, c in zip(slices["dimension"], slices["slice"], slices["closing"], strict=True)
    }
    assert closing == {
        ("customer", "ACME"): 135_000,  # 90,000 + 45,000
        ("customer", "BOLT"): 0,
        ("product", "Platform"): 90_000,  # C1 + C3
        ("product", "Services"): 45_000,
        ("segment", "(none)"): 135_000,  # no contract has a segment
        ("region", "(none)"): 45_000,  # C2 (blank) + C3 (missing)
        ("region", "EMEA"): 90_000,
    }
    lost = slices[(slices["dimension"] == "customer") & (slices["slice"] == "BOLT")]["lost"]
    assert lost.tolist() == [30_000]
    # The flow by hand: opening 130,000, new 50,000, converted 15,000, lost 30,000,
    # closing 135,000.
    flow = pd.DataFrame(
        [(JUNE, 130_000, 50_000, 15_000, 30_000, 0, 0, 135_000)], columns=["period", *FIGURES]
    )
    assert slice_discrepancies(slices, flow) == []


def test_a_slice_set_that_does_not_sum_is_named_figure_by_figure():
    contracts = contracts_of(("C1", "2024-01-01", "2025-12-31", {"product": "Platform"}))
    slices = backlog_slices(contract_rows(("C1", 100_000, 0, 10_000, 0)), contracts)
    flow = pd.DataFrame(
        [(JUNE, 100_000, 0, 10_000, 0, 0, 0, 90_000), (JUNE + 1, 0, 0, 0, 0, 0, 0, 1)],
        columns=["period", *FIGURES],
    )
    slices.loc[slices["dimension"] == "region", "converted"] = 9_999
    found = slice_discrepancies(slices, flow)
    assert [(d["period"], d["dimension"], d["figure"], d["difference"]) for d in found] == [
        # Every dimension misses July's closing of 0.01 (no contract row in July) …
        ("2024-07", "customer", "closing", "-0.01"),
        ("2024-07", "product", "closing", "-0.01"),
        ("2024-07", "segment", "closing", "-0.01"),
        ("2024-06", "region", "converted", "-0.01"),  # … and regions lost a cent in June.
        ("2024-07", "region", "closing", "-0.01"),
    ]
