"""The fast paths taken at a million contracts give what the plain pandas routes give."""

import numpy as np
import pandas as pd
import pytest

from backlog_pipeline.accounting import data_errors
from backlog_pipeline.accounting.flow import compute_backlog
from backlog_pipeline.accounting.lineage import MonthlySourceRecords, source_records
from backlog_pipeline.defs.resources import CrmExport, ErpDatabase
from backlog_pipeline.demo.synthetic import generate_company
from backlog_pipeline.periods import parse_month
from backlog_pipeline.sources.canonical import (
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)
from backlog_pipeline.sources.local_copy import latest
from backlog_pipeline.warehouse.fingerprints import month_fingerprints


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    generated = generate_company(tmp_path_factory.mktemp("company"), 300, seed=5)
    crm = CrmExport(directory=str(generated.crm_dir))
    contracts = parse_contracts(crm.read("contracts", None).raw, "crm", "USD").rows
    changes = parse_contract_changes(crm.read("contract_changes", None).raw, "crm").rows
    lines = parse_recognition(ErpDatabase(url=generated.erp_url).read(None).raw, "erp").rows
    # An orphan line: in no figure, so in no month's lineage.
    orphan = pd.DataFrame(
        {"line_id": ["ORPHAN-1"], "contract_id": ["NO-SUCH"], "period": [lines["period"].max()],
         "amount": [1234]}
    )  # fmt: skip
    lines = pd.concat([lines, orphan], ignore_index=True)
    first, last = parse_month(generated.first_month), parse_month(generated.last_month)
    return contracts, changes, lines, first, last


def _ids(count: int, repeats: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    ids = np.array([f"L{n:08d}" for n in range(count)], dtype=object)
    ids[rng.choice(count, repeats, replace=False)] = ids[rng.choice(count, repeats)]
    return pd.Series(ids[rng.permutation(count)])


def test_repeated_ids_are_found_exactly_as_pandas_finds_them():
    ids = _ids(250_000, 40, seed=1)
    expected = ids.duplicated(keep=False).to_numpy()
    assert expected.sum() >= 40
    assert (data_errors.repeated_values(ids) == expected).all()
    unique = pd.Series([f"U{n}" for n in range(150_000)])
    assert not data_errors.repeated_values(unique).any()


def test_ids_that_share_a_hash_are_still_compared_as_they_are(monkeypatch):
    # A hash of 7 values makes nearly every id a candidate: the answer must not change.
    real = pd.util.hash_array
    monkeypatch.setattr(
        pd.util, "hash_array", lambda values, **kwargs: real(values, **kwargs) % np.uint64(7)
    )
    ids = _ids(120_000, 25, seed=2)
    assert (data_errors.repeated_values(ids) == ids.duplicated(keep=False).to_numpy()).all()


def test_a_month_of_source_records_is_that_month_of_all_of_them(company):
    contracts, changes, lines, first, last = company
    everything = source_records(contracts, changes, lines)
    months = [first, first + 7, last]
    by_month = MonthlySourceRecords(contracts, changes, lines, months)
    key = ["source", "record_id"]
    for month in months:
        want = everything[everything["period"] == month].sort_values(key, ignore_index=True)
        got = by_month(month).sort_values(key, ignore_index=True)
        assert len(got) > 0
        pd.testing.assert_frame_equal(got, want)
    assert "ORPHAN-1" not in set(by_month(last)["record_id"])
    assert by_month(first - 5).empty  # a month not asked for has nothing


def test_month_digests_do_not_depend_on_row_order_but_on_every_cent(company):
    contracts, changes, lines, first, last = company
    rows, flow = compute_backlog(contracts, changes, lines, first, last)
    digests = month_fingerprints(flow, rows)
    shuffled = rows.sample(frac=1, random_state=3).reset_index(drop=True)
    assert month_fingerprints(flow, shuffled) == digests
    # Ordered by month but not by contract within it: the slow path must agree too.
    by_month_only = rows.sort_values("period", kind="stable").iloc[::-1]
    by_month_only = by_month_only.sort_values("period", kind="stable")
    assert month_fingerprints(flow, by_month_only) == digests
    moved = rows.copy()
    position = int(np.flatnonzero(moved["period"].to_numpy() == last)[0])
    moved.loc[position, "closing"] += 1
    changed = month_fingerprints(flow, moved)
    assert changed[last] != digests[last]
    assert {m: d for m, d in changed.items() if m != last} == {
        m: d for m, d in digests.items() if m != last
    }


def test_the_high_water_mark_is_the_latest_time_in_utc():
    times = pd.Series(
        ["2024-03-01T10:00:00+02:00", "1709287200500", None, "not a time", "2024-03-01 09:00:00Z"]
    )
    # 10:00+02:00 is 08:00Z; 1709287200500 ms is 2024-03-01T10:00:00.500Z.
    assert latest(times) == "2024-03-01T10:00:00.500Z"
    assert latest(pd.Series(["garbage", None])) is None


def test_the_recognition_checks_find_the_same_records_through_one_shared_lookup(company):
    contracts, changes, lines, _, last = company
    signed = contracts.iloc[5]
    terminated = changes[(changes["kind"] == "cancellation") & changes["amount"].isna()].iloc[0]
    wrong = pd.DataFrame(
        {
            "line_id": ["EARLY-1", "LATE-1", "ORPHAN-LATE"],
            "contract_id": [signed["contract_id"], terminated["contract_id"], "NOBODY"],
            "period": [signed["signed_month"] - 2, terminated["effective_month"] + 1, last],
            "amount": [100, 200, 300],
        }
    )
    lines = pd.concat([lines, wrong], ignore_index=True)
    # An orphan contract with a termination of its own: found by both routes alike.
    changes = pd.concat(
        [changes, changes.iloc[[0]].assign(change_id="X-END", contract_id="NOBODY",
                                           kind="cancellation",
                                           amount=pd.array([pd.NA], dtype=changes["amount"].dtype),
                                           effective_month=last - 1)],
        ignore_index=True,
    )  # fmt: skip
    lookup = data_errors.ContractLookup.of(lines, contracts)
    pairs = {
        "orphans": (
            data_errors.orphans(lines, contracts, "erp", "line_id", "period"),
            data_errors.orphans(lines, contracts, "erp", "line_id", "period", (), lookup),
        ),
        "before_signing": (
            data_errors.recognition_before_signing(lines, contracts, "erp"),
            data_errors.recognition_before_signing(lines, contracts, "erp", lookup),
        ),
        "after_termination": (
            data_errors.recognition_after_termination(lines, changes, "erp"),
            data_errors.recognition_after_termination(lines, changes, "erp", lookup),
        ),
    }
    for name, (plain, shared) in pairs.items():
        pd.testing.assert_frame_equal(plain, shared, obj=name)
    assert "EARLY-1" in set(pairs["before_signing"][1]["record_id"])
    assert {"LATE-1", "ORPHAN-LATE"} <= set(pairs["after_termination"][1]["record_id"])
    assert {"ORPHAN-1", "ORPHAN-LATE"} <= set(pairs["orphans"][1]["record_id"])
