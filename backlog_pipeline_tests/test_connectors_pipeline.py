"""The close on Salesforce and NetSuite (served locally): same assets, figures, and no token
anywhere in the logs, the event log or the metadata."""

import logging
from decimal import Decimal

import dagster as dg
import pytest

from backlog_pipeline.config import SettingsError, load_settings
from backlog_pipeline.defs.resources import HubSpotCrm, NetSuiteErp, SalesforceCrm
from backlog_pipeline.sources.canonical import CHANGE_COLUMNS, parse_contract_changes
from backlog_pipeline_tests.fake_api import FakeApi, Reply
from backlog_pipeline_tests.support import (
    NEXT_PATH,
    QUERY_PATH,
    RANGE_END_TAG,
    RANGE_START_TAG,
    build,
    change,
    close,
    contract,
    load_definitions,
    opportunity,
    page,
    partition_key,
    table,
)
from backlog_pipeline_tests.support import page as sf_page
from backlog_pipeline_tests.test_connectors_hubspot import DEALS, deal
from backlog_pipeline_tests.test_connectors_netsuite import line
from backlog_pipeline_tests.test_connectors_netsuite import page as ns_page

SECRETS = {
    "BACKLOG_SALESFORCE_ACCESS_TOKEN": "00Dstale-TOKEN-aaaa",
    "BACKLOG_SALESFORCE_REFRESH_TOKEN": "5Aep-REFRESH-bbbb",
    "BACKLOG_SALESFORCE_CLIENT_ID": "3MVG-client-cccc",
    "BACKLOG_SALESFORCE_CLIENT_SECRET": "CLIENT-SECRET-dddd",
    "BACKLOG_NETSUITE_TOKEN": "eyJ-NETSUITE-eeee",
}
FRESH_TOKENS = ("00Dfresh-TOKEN-1111", "00Dfresh-TOKEN-2222")
SUITEQL = "SELECT id AS line_id, contract AS contract_id, period, amount, last_modified FROM x"
EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def environment(tmp_path, api_url: str, **extra: str) -> dict[str, str]:
    return {
        "BACKLOG_DATA_DIR": str(tmp_path / "data"),
        "BACKLOG_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.sqlite'}",
        "BACKLOG_START_MONTH": "2024-01",
        "BACKLOG_END_MONTH": "2024-03",
        "BACKLOG_CRM_KIND": "salesforce",
        "BACKLOG_SALESFORCE_INSTANCE_URL": api_url,
        "BACKLOG_ERP_KIND": "netsuite",
        "BACKLOG_NETSUITE_BASE_URL": api_url,
        "BACKLOG_NETSUITE_QUERY": SUITEQL,
        "BACKLOG_HTTP_BACKOFF": "0.01",
        "BACKLOG_HTTP_TIMEOUT": "2",
        **SECRETS,
        **extra,
    }


def script_close(api) -> None:
    """Both CRM assets pull (each refreshing the stale token once); NetSuite retries a 503."""
    contracts = [opportunity("006A", "12000.00"), opportunity("006B", "600.00")]
    lost_deal = opportunity("006C", "999.00", won=False)
    api.script(
        "GET",
        QUERY_PATH,
        Reply(401, EXPIRED),
        Reply(body=sf_page(contracts, NEXT_PATH)),
        Reply(401, EXPIRED),
        Reply(body=sf_page([])),
    )
    api.script("GET", NEXT_PATH, Reply(body=page([lost_deal])))
    api.script(
        "POST",
        "/services/oauth2/token",
        *(Reply(body={"access_token": token, "instance_url": api.url}) for token in FRESH_TOKENS),
    )
    lines = [
        {
            "links": [],
            "line_id": "L1",
            "contract_id": "006A",
            "period": "2024-01",
            "amount": "1000.00",
            "last_modified": "2024-02-01T10:00:00",
        },
        {
            "links": [],
            "line_id": "L2",
            "contract_id": "006A",
            "period": "2024-02",
            "amount": "1000.00",
            "last_modified": "2024-03-01T10:00:00",
        },
        {
            "links": [],
            "line_id": "L3",
            "contract_id": "006B",
            "period": "2024-03",
            "amount": "50.00",
            "last_modified": "2024-04-01T10:00:00",
        },
    ]
    api.script(
        "POST",
        "/services/rest/query/v1/suiteql",
        Reply(503, {"o:errorCode": "SERVICE_UNAVAILABLE"}, {"Retry-After": "0"}),
        Reply(body={"links": [], "count": 3, "hasMore": False, "items": lines, "offset": 0}),
    )


@pytest.mark.slow
def test_the_close_runs_on_salesforce_and_netsuite_and_no_token_leaks(
    fake_api, tmp_path, monkeypatch, caplog, capfd
):
    for name, value in environment(tmp_path, fake_api.url).items():
        monkeypatch.setenv(name, value)
    script_close(fake_api)
    defs = load_definitions()
    instance = dg.DagsterInstance.ephemeral()
    with caplog.at_level(logging.DEBUG):
        result = defs.resolve_job_def("monthly_close").execute_in_process(
            tags={
                RANGE_START_TAG: partition_key("2024-01"),
                RANGE_END_TAG: partition_key("2024-03"),
            },
            instance=instance,
            raise_on_error=False,
        )
    assert result.success

    # Jan: 12,600 booked, 1,000 recognized; Feb: 1,000 recognized; Mar: 50 recognized.
    flow = table(f"sqlite:///{tmp_path / 'warehouse.sqlite'}", "backlog_flow")
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in flow["closing"]] == [
        Decimal("11600.00"),
        Decimal("10600.00"),
        Decimal("10550.00"),
    ]

    metadata = result.asset_materializations_for_node("crm_contracts")[0].metadata
    assert metadata["high_water_mark"].value == "2024-02-01T09:30:00.000Z"
    assert metadata["rows"].value == 2  # 006C is not won
    # Whichever CRM asset ran first fetched the 3 records; the other fetched none new.
    crm = [
        result.asset_materializations_for_node(node)[0].metadata
        for node in ("crm_contracts", "crm_contract_changes")
    ]
    assert sorted(m["fetched_rows"].value for m in crm) == [0, 3]
    assert [m["source_copy_rows"].value for m in crm] == [3, 3]
    recognition = result.asset_materializations_for_node("erp_recognition")[0].metadata
    assert recognition["high_water_mark"].value == "2024-04-01T10:00:00.000Z"

    # The second CRM pull asked only for what changed since the first one's mark.
    queries = [seen.query.get("q", "") for seen in fake_api.seen if seen.path == QUERY_PATH]
    assert sum("WHERE SystemModstamp >= 2024-02-01T09:30:00Z" in q for q in queries) == 2
    assert fake_api.paths().count("POST /services/oauth2/token") == 2

    captured = capfd.readouterr()
    event_log = [dg.serialize_value(entry) for entry in instance.all_logs(result.run_id)]
    assert any("Salesforce: page 1, 2 records" in entry for entry in event_log)
    assert any("access token refreshed" in entry for entry in event_log)
    haystacks = {
        "caplog": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "event log": "\n".join(event_log),
    }
    for secret in (*SECRETS.values(), *FRESH_TOKENS):
        for where, text in haystacks.items():
            assert secret not in text, f"{secret} found in {where}"


@pytest.mark.slow
def test_a_daily_limit_fails_the_source_asset_with_a_clear_message_and_no_token(
    fake_api, tmp_path, monkeypatch
):
    for name, value in environment(tmp_path, fake_api.url).items():
        monkeypatch.setenv(name, value)
    limit = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    fake_api.script("GET", QUERY_PATH, Reply(403, limit), Reply(403, limit))
    defs = load_definitions()
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [defs.get_assets_def("crm_contracts")],
        resources=defs.resources,
        partition_key=partition_key("2024-01"),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.cause.message
    assert message.startswith(
        f"backlog_pipeline.sources.http.ConnectorError: Salesforce: GET {fake_api.url}"
        f"{QUERY_PATH}: the org's daily API request limit is used up"
    )
    assert "; HTTP 403; body: [{" in message
    assert len(fake_api.seen) == 1
    event_log = "\n".join(dg.serialize_value(entry) for entry in instance.all_logs(result.run_id))
    assert all(secret not in event_log for secret in SECRETS.values())
    assert not (tmp_path / "data" / "sources" / "salesforce-Opportunity.pkl").exists()


def test_resources_are_chosen_by_setting_with_secrets_as_env_vars(tmp_path, monkeypatch):
    for name, value in environment(tmp_path, "https://acme.my.salesforce.com").items():
        monkeypatch.setenv(name, value)
    resources = load_definitions().resources
    assert isinstance(resources["crm"], SalesforceCrm)
    assert isinstance(resources["erp"], NetSuiteErp)
    assert resources["crm"].access_token == dg.EnvVar("BACKLOG_SALESFORCE_ACCESS_TOKEN")
    assert all(secret not in repr(resources) for secret in SECRETS.values())

    monkeypatch.setenv("BACKLOG_CRM_KIND", "hubspot")
    monkeypatch.setenv("BACKLOG_HUBSPOT_TOKEN", "pat-HUBSPOT-ffff")
    monkeypatch.setenv("BACKLOG_HUBSPOT_PROPERTIES", "tcv=contract_value,start_date=start")
    crm = load_definitions().resources["crm"]
    assert isinstance(crm, HubSpotCrm) and crm.token == dg.EnvVar("BACKLOG_HUBSPOT_TOKEN")
    assert (crm.properties["tcv"], crm.properties["start_date"]) == ("contract_value", "start")
    assert crm.base_url == "https://api.hubapi.com"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"BACKLOG_SALESFORCE_INSTANCE_URL": ""}, "BACKLOG_SALESFORCE_INSTANCE_URL must be set"),
        (
            {"BACKLOG_SALESFORCE_ACCESS_TOKEN": "", "BACKLOG_SALESFORCE_REFRESH_TOKEN": ""},
            "Salesforce needs BACKLOG_SALESFORCE_ACCESS_TOKEN",
        ),
        ({"BACKLOG_SALESFORCE_OBJECT": "Contract"}, "must map tcv"),
        ({"BACKLOG_SALESFORCE_CANCELLED_VALUES": "Lost"}, "must map status and cancellation_date"),
        ({"BACKLOG_SALESFORCE_FIELDS": "tcv=Amount; DELETE"}, "is not a field name"),
        ({"BACKLOG_SALESFORCE_FIELDS": "colour=Colour__c"}, "must be key=name with key one of"),
        ({"BACKLOG_NETSUITE_QUERY": "DROP TABLE x"}, "must be a SuiteQL SELECT"),
        ({"BACKLOG_NETSUITE_TOKEN": ""}, "NetSuite needs BACKLOG_NETSUITE_TOKEN"),
        ({"BACKLOG_CRM_KIND": "hubspot"}, "HubSpot needs BACKLOG_HUBSPOT_TOKEN"),
        ({"BACKLOG_CRM_KIND": "pipedrive"}, "BACKLOG_CRM_KIND='pipedrive' must be one of"),
        ({"BACKLOG_ERP_KIND": "sql"}, "would mix a real system with the embedded demo"),
        ({"BACKLOG_MAX_QUARANTINE_SHARE": "5%"}, "must be a number from 0 to 1"),
        ({"BACKLOG_FULL_REFRESH": "sometimes"}, "BACKLOG_FULL_REFRESH='sometimes' must be true"),
        ({"BACKLOG_HTTP_TIMEOUT": "0"}, "BACKLOG_HTTP_TIMEOUT='0' must be a number"),
    ],
)
def test_a_bad_connector_setting_is_refused_with_its_name(tmp_path, changes, message):
    environ = {**environment(tmp_path, "https://acme.my.salesforce.com"), **changes}
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings(environ)


def test_hubspot_changes_come_from_the_csv_folder_with_their_line_numbers(tmp_path):
    (tmp_path / "contract_changes.csv").write_text(
        "change_id,contract_id,effective_date,kind,amount\n"
        "X1,101,2024-03-01,increase,600.00\n"
        "X2,101,2024-13-01,cancellation,\n"
    )
    crm = HubSpotCrm(token="unused", copy_dir=str(tmp_path), changes_dir=str(tmp_path))
    read = crm.read("contract_changes", logging.getLogger("test"))
    parsed = parse_contract_changes(read.raw, crm.describe())
    assert parsed.rows["change_id"].tolist() == ["X1"]
    assert parsed.quarantine[["record_id", "row_number"]].values.tolist() == [["X2", 3]]
    without_folder = HubSpotCrm(token="unused", copy_dir=str(tmp_path))
    empty = without_folder.read("contract_changes", logging.getLogger("test")).raw
    assert empty.empty and tuple(empty.columns) == CHANGE_COLUMNS


@pytest.mark.slow
def test_business_date_times_are_booked_in_the_close_time_zone(tmp_path, monkeypatch):
    # 23:30 on 31 January in New York, written in UTC; an increase at 21:00 on 29 February.
    monkeypatch.setenv("BACKLOG_CLOSE_TIMEZONE", "America/New_York")
    warehouse = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    defs = build(
        tmp_path, monkeypatch, warehouse,
        contracts=[contract("C1", "2024-02-01T04:30:00Z", "1200.00", end_date="2024-12-31")],
        changes=[change("X1", "C1", "2024-03-01T02:00:00Z", "increase", "50.00")],
        recognition=[],
    )  # fmt: skip
    assert close(defs, "2024-01", "2024-03").success
    flow = table(warehouse, "backlog_flow")
    money = {
        period: (Decimal(str(new)), Decimal(str(up)))
        for period, new, up in zip(
            flow["period"], flow["new_bookings"], flow["increases"], strict=True
        )
    }
    # Booked in January (New York's month), the increase in February: not a month late.
    assert money == {
        "2024-01": (Decimal("1200"), Decimal("0")),
        "2024-02": (Decimal("0"), Decimal("50")),
        "2024-03": (Decimal("0"), Decimal("0")),
    }


def test_a_local_copy_is_tied_to_the_salesforce_org_it_came_from(fake_api, tmp_path, caplog):
    log = logging.getLogger("test.copy")
    sandbox = fake_api  # another instance URL: another org
    production = FakeApi().start()
    try:
        sandbox.script("GET", QUERY_PATH, Reply(body=sf_page([opportunity("006SANDBOX", 10)])))
        production.script("GET", QUERY_PATH, Reply(body=sf_page([opportunity("006PROD", 20)])))

        def crm(api) -> SalesforceCrm:
            return SalesforceCrm(instance_url=api.url, access_token="tok", copy_dir=str(tmp_path))

        assert crm(sandbox).read("contracts", log).raw["contract_id"].tolist() == ["006SANDBOX"]
        with caplog.at_level(logging.INFO):
            read = crm(production).read("contracts", log)
        # A full pull of production: nothing of the sandbox is kept.
        assert "WHERE" not in production.seen[0].query["q"]
        assert read.raw["contract_id"].tolist() == ["006PROD"]
        assert f"came from Salesforce {sandbox.url}" in caplog.text
        assert f"this pull reads Salesforce {production.url}" in caplog.text
    finally:
        production.stop()


def test_a_hubspot_copy_is_tied_to_the_portal_of_its_token(fake_api, tmp_path, caplog):
    log = logging.getLogger("test.copy")
    token = "pat-na1-PORTAL-SECRET"
    for portal, deal_id in ((111, "101"), (222, "201")):  # one base URL, two portals
        fake_api.script("GET", "/account-info/v3/details", Reply(body={"portalId": portal}))
        fake_api.script("GET", DEALS, Reply(body={"results": [deal(deal_id, "2024-01-10", "5")]}))
    crm = HubSpotCrm(base_url=fake_api.url, token=token, copy_dir=str(tmp_path))
    assert crm.read("contracts", log).raw["contract_id"].tolist() == ["101"]
    with caplog.at_level(logging.INFO):
        read = crm.read("contracts", log)
    assert read.raw["contract_id"].tolist() == ["201"]  # a full pull: no search, no 101
    assert fake_api.paths().count(f"GET {DEALS}") == 2
    assert "portal 111" in caplog.text and "portal 222" in caplog.text
    assert token not in (tmp_path / "hubspot-deals.pkl").read_bytes().decode("latin-1")


def test_a_netsuite_copy_is_tied_to_its_account(fake_api, tmp_path):
    log = logging.getLogger("test.copy")
    fake_api.script("POST", "/sandbox" + "/services/rest/query/v1/suiteql",
                    Reply(body=ns_page([line("L-SB", "2024-01", "1")], 0, False)))  # fmt: skip
    fake_api.script("POST", "/services/rest/query/v1/suiteql",
                    Reply(body=ns_page([line("L-PROD", "2024-01", "2")], 0, False)))  # fmt: skip

    def erp(base: str) -> NetSuiteErp:
        return NetSuiteErp(base_url=base, query=SUITEQL, token="t", copy_dir=str(tmp_path))

    erp(f"{fake_api.url}/sandbox").read(log)
    read = erp(fake_api.url).read(log)
    assert "WHERE" not in fake_api.seen[-1].json()["q"]
    assert read.raw["line_id"].tolist() == ["L-PROD"]
