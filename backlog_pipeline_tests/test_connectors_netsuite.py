"""NetSuite SuiteQL against a local server replaying the REST query service's shapes."""

import logging

import pytest

from backlog_pipeline.sources import netsuite
from backlog_pipeline.sources.canonical import parse_recognition
from backlog_pipeline.sources.http import ConnectorError, HttpPolicy
from backlog_pipeline.sources.local_copy import LocalCopy
from backlog_pipeline_tests.fake_api import Reply, SuiteQlStandIn

TOKEN = "eyJ-netsuite-SECRET"
QUERY = "SELECT id AS line_id, contract AS contract_id, period, amount, last_modified FROM x"
POLICY = HttpPolicy(timeout=2.0, max_attempts=3, backoff=0.01, max_wait=1.0)
LOG = logging.getLogger("test.netsuite")


def line(line_id: str, period: str, amount: str, modified: str = "2024-02-01T10:00:00") -> dict:
    return {
        "links": [],
        "line_id": line_id,
        "contract_id": "C1",
        "period": period,
        "amount": amount,
        "last_modified": modified,
    }


def page(items: list[dict], offset: int, has_more: bool) -> dict:
    return {
        "links": [],
        "count": len(items),
        "hasMore": has_more,
        "items": items,
        "offset": offset,
        "totalResults": 3,
    }


def test_pages_follow_offset_until_has_more_is_false(fake_api):
    fake_api.script(
        "POST",
        netsuite.PATH,
        Reply(500, {"o:errorCode": "UNEXPECTED_ERROR"}),
        Reply(
            body=page([line("L1", "2024-01", "1000.00"), line("L2", "2024-02", "-50.5")], 0, True)
        ),
        Reply(body=page([line("L3", "2024-13", "10")], 2, False)),
    )
    api = netsuite.NetSuiteClient(fake_api.url, TOKEN, POLICY, LOG)
    batch = netsuite.fetch(api, QUERY, None)

    assert [seen.query for seen in fake_api.seen] == [
        {"limit": "1000", "offset": "0"},
        {"limit": "1000", "offset": "0"},
        {"limit": "1000", "offset": "2"},
    ]
    first = fake_api.seen[0]
    assert first.headers["Prefer"] == "transient"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.json() == {"q": f"SELECT * FROM ({QUERY}) source ORDER BY source.line_id"}
    assert batch.high_water_mark == "2024-02-01T10:00:00.000Z"

    parsed = parse_recognition(netsuite.recognition(batch.records), "NetSuite")
    assert parsed.rows["line_id"].tolist() == ["L1", "L2"]
    assert parsed.rows["amount"].tolist() == [100_000, -5_050]
    assert parsed.quarantine[["record_id", "field"]].values.tolist() == [["L3", "period"]]


def test_an_incremental_pull_filters_on_the_mark(fake_api, tmp_path):
    api = netsuite.NetSuiteClient(fake_api.url, TOKEN, POLICY, LOG)
    copy = LocalCopy(tmp_path / "ns.pkl", netsuite.ID, netsuite.signature(QUERY))
    fake_api.script("POST", netsuite.PATH, Reply(body=page([line("L1", "2024-01", "1")], 0, False)))
    copy.pull(lambda since: netsuite.fetch(api, QUERY, since), False, LOG)
    fake_api.script(
        "POST",
        netsuite.PATH,
        Reply(body=page([line("L1", "2024-01", "2", "2024-03-01T00:00:00")], 0, False)),
    )
    pull = copy.pull(lambda since: netsuite.fetch(api, QUERY, since), False, LOG)
    assert fake_api.seen[-1].json()["q"] == (
        f"SELECT * FROM ({QUERY}) source WHERE source.last_modified >= '2024-02-01T10:00:00' "
        "ORDER BY source.line_id"
    )
    assert pull.records["amount"].tolist() == ["2"] and pull.total == 1


def test_a_mark_that_is_not_one_never_reaches_the_query():
    with pytest.raises(ValueError, match="not a high-water mark"):
        netsuite.wrapped(QUERY, "2024-01-01' OR '1'='1")


def test_a_page_claiming_more_without_items_stops(fake_api):
    fake_api.script("POST", netsuite.PATH, Reply(body=page([], 0, True)))
    api = netsuite.NetSuiteClient(fake_api.url, TOKEN, POLICY, LOG)
    with pytest.raises(ConnectorError, match="hasMore on an empty page"):
        netsuite.fetch(api, QUERY, None)


def test_json_number_amounts_are_exact_and_json_strings_keep_the_strict_rules(fake_api):
    # The docs do not fix the JSON type of a SuiteQL column: both are read by one rule.
    items = [
        '{"line_id": "L1", "contract_id": "C1", "period": "2024-01", "amount": 1.234567891E7}',
        '{"line_id": "L2", "contract_id": "C1", "period": "2024-01", "amount": 1.2345678912E7}',
        '{"line_id": "L3", "contract_id": "C1", "period": "2024-01", "amount": "1.2e3"}',
        '{"line_id": 4, "contract_id": "C1", "period": "2024-01", "amount": -250}',
    ]
    body = f'{{"hasMore": false, "items": [{",".join(items)}]}}'
    fake_api.script("POST", netsuite.PATH, Reply(body=body))
    api = netsuite.NetSuiteClient(fake_api.url, TOKEN, POLICY, LOG)
    parsed = parse_recognition(netsuite.recognition(netsuite.fetch(api, QUERY, None).records), "NS")
    # 12345678.91 × 100 cents; -250 × 100. A numeric line id is read as its text.
    assert parsed.rows.set_index("line_id")["amount"].to_dict() == {
        "L1": 1_234_567_891,
        "4": -25_000,
    }
    assert parsed.quarantine.set_index("record_id")["reason"].str.replace(
        r" \((?:page|range|offset) [^()]* of the pull at [^)]*\)$", "", regex=True
    ).to_dict() == {
        "L2": "amount '12345678.912' has more than two decimals",
        "L3": "amount '1.2e3' is not in plain decimal notation",
    }


def suiteql_lines(ids: list[str | None]) -> list[dict]:
    return [
        {"id": line_id, "contract": "C1", "period": "2024-01", "amount": f"{n}.00",
         "last_modified": "2024-02-01T10:00:00"}
        for n, line_id in enumerate(ids)
    ]  # fmt: skip


def test_more_lines_than_a_query_may_return_are_read_by_key_ranges(fake_api):
    # 25 results per query at most, pages of 10: each key range reads 20 lines. Every id has a
    # quote, so every range's key goes into the SuiteQL text as a quoted literal; O'19 comes
    # twice (a duplicate must reach the duplicate check) and two lines have no id.
    ids = [f"O'{n:02d}" for n in range(60)] + ["O'19", None, None]
    stand_in = SuiteQlStandIn(suiteql_lines(ids), cap=25)
    fake_api.serve("POST", netsuite.PATH, stand_in)
    api = netsuite.NetSuiteClient(fake_api.url, TOKEN, POLICY, LOG, page_size=10, max_rows=25)
    records = netsuite.fetch(api, QUERY, None).records

    # Every line exactly once (the duplicate twice), whatever the range boundaries.
    assert sorted(records["amount"]) == sorted(f"{n}.00" for n in range(len(ids)))
    assert records["line_id"].tolist().count("O'19") == 2
    assert records["line_id"].isna().sum() == 2
    assert len(stand_in.queries) > 3  # 63 lines at 20 per range
    assert stand_in.queries[1].endswith(
        "WHERE (source.line_id >= 'O''19' OR source.line_id IS NULL) ORDER BY source.line_id"
    )
    assert all(int(seen.query["offset"]) + 10 <= 25 for seen in fake_api.seen)


def test_a_key_range_keeps_the_incremental_filter():
    text = netsuite.wrapped(QUERY, "2024-02-01T10:00:00.000Z", "it's")
    assert text == (
        f"SELECT * FROM ({QUERY}) source WHERE source.last_modified >= '2024-02-01T10:00:00' "
        "AND (source.line_id >= 'it''s' OR source.line_id IS NULL) ORDER BY source.line_id"
    )


def test_a_line_id_is_a_literal_whatever_it_holds(fake_api):
    # The key of a range is whatever the source holds (here the 20th, the first range's last):
    # quoting must keep it one value.
    hostile = "x' OR '1'='1"
    ids = [f"A{n:02d}" for n in range(19)] + [hostile] + [f"z{n:02d}" for n in range(20)]
    stand_in = SuiteQlStandIn(suiteql_lines(ids), cap=25)
    fake_api.serve("POST", netsuite.PATH, stand_in)
    api = netsuite.NetSuiteClient(fake_api.url, TOKEN, POLICY, LOG, page_size=10, max_rows=25)
    records = netsuite.fetch(api, QUERY, None).records
    assert sorted(records["line_id"]) == sorted(ids)
    assert "'x'' OR ''1''=''1'" in " ".join(stand_in.queries)
    with pytest.raises(ValueError, match="cannot be a SuiteQL literal"):
        netsuite.wrapped(QUERY, None, "nul\x00byte")


def test_more_lines_sharing_one_id_than_a_range_holds_stop_with_a_clear_error(fake_api):
    fake_api.serve("POST", netsuite.PATH, SuiteQlStandIn(suiteql_lines(["SAME"] * 30), cap=25))
    api = netsuite.NetSuiteClient(fake_api.url, TOKEN, POLICY, LOG, page_size=10, max_rows=25)
    with pytest.raises(ConnectorError, match="20 lines or more share line_id 'SAME'"):
        netsuite.fetch(api, QUERY, None)


def test_a_repeated_line_id_reaches_the_duplicate_check_through_the_local_copy(fake_api, tmp_path):
    from backlog_pipeline.accounting.data_errors import duplicate_ids
    from backlog_pipeline.defs.resources import NetSuiteErp

    # A join that fans out gives two different lines one id: neither may vanish in the copy.
    fake_api.serve("POST", netsuite.PATH, SuiteQlStandIn(suiteql_lines(["L1", "L1", "L2"]), 10**5))
    erp = NetSuiteErp(base_url=fake_api.url, query=QUERY, token=TOKEN, copy_dir=str(tmp_path))
    raw = erp.read(LOG).raw
    assert sorted(raw["line_id"]) == ["L1", "L1", "L2"]
    rows = parse_recognition(raw, "NS").rows
    assert duplicate_ids(rows, "line_id", "NS", "period", "amount")["record_id"].tolist() == [
        "L1", "L1"]  # fmt: skip


def test_a_quarantined_line_is_named_by_its_id_and_where_the_query_returned_it(fake_api):
    ids = [f"L{n:02d}" for n in range(30)]
    lines = suiteql_lines(ids)
    lines[27]["period"] = "2024-13"
    fake_api.serve("POST", netsuite.PATH, SuiteQlStandIn(lines, cap=25))
    api = netsuite.NetSuiteClient(fake_api.url, TOKEN, POLICY, LOG, page_size=10, max_rows=25)
    parsed = parse_recognition(netsuite.recognition(netsuite.fetch(api, QUERY, None).records), "NS")
    row = parsed.quarantine.iloc[0]
    assert (row["record_id"], row["row_number"]) == ("L27", None)
    # The second key range (from L19) returned it on its first page, at offset 0.
    assert row["reason"].startswith(
        "period '2024-13' is not a month (YYYY-MM) (range from 'L19', offset 0, of the pull at "
    )
