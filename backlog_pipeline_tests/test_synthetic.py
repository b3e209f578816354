"""The synthetic company: the same seed gives the same files, and the close finds it clean."""

import sqlite3

import pandas as pd
import pytest

from backlog_pipeline.demo.synthetic import SIZES, company_digest, generate_company
from backlog_pipeline_tests.support import (
    EVERY_CHECK,
    check_results,
    close,
    load_definitions,
    table,
)


def test_the_same_seed_writes_the_same_company_and_another_seed_another(tmp_path):
    first = generate_company(tmp_path / "a", SIZES["small"], seed=7)
    again = generate_company(tmp_path / "b", SIZES["small"], seed=7)
    other = generate_company(tmp_path / "c", SIZES["small"], seed=8)
    for name in ("contracts.csv", "contract_changes.csv"):
        assert (first.crm_dir / name).read_bytes() == (again.crm_dir / name).read_bytes()
    assert company_digest(first) == company_digest(again)
    assert company_digest(first) != company_digest(other)
    assert (first.contracts, first.changes, first.recognition_lines) == (
        again.contracts, again.changes, again.recognition_lines,
    )  # fmt: skip


def test_the_company_has_every_kind_of_event_in_exact_cents(tmp_path):
    company = generate_company(tmp_path, SIZES["small"])
    contracts = pd.read_csv(company.crm_dir / "contracts.csv", dtype=str)
    changes = pd.read_csv(company.crm_dir / "contract_changes.csv", dtype=str)
    assert len(contracts) == 1_000
    assert set(changes["kind"]) == {"increase", "decrease", "cancellation"}
    cancellations = changes[changes["kind"] == "cancellation"]
    assert cancellations["amount"].isna().any() and cancellations["amount"].notna().any()
    connection = sqlite3.connect(company.erp_url.removeprefix("sqlite:///"))
    amounts = [row[0] for row in connection.execute("SELECT amount FROM recognition")]
    connection.close()
    assert len(amounts) == company.recognition_lines > 10 * len(contracts)
    assert all(amount.rsplit(".", 1)[1].isdigit() and len(amount.rsplit(".", 1)[1]) == 2
               for amount in amounts)  # fmt: skip
    assert any(amount.startswith("-") for amount in amounts)  # reversals


@pytest.mark.slow
def test_every_check_passes_on_a_close_of_all_its_months(tmp_path, monkeypatch):
    company = generate_company(tmp_path / "company", SIZES["small"])
    warehouse = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    for key, value in {
        "BACKLOG_DATA_DIR": str(tmp_path / "data"),
        "BACKLOG_CRM_DIR": str(company.crm_dir),
        "BACKLOG_ERP_URL": company.erp_url,
        "BACKLOG_WAREHOUSE_URL": warehouse,
        "BACKLOG_START_MONTH": company.first_month,
        "BACKLOG_END_MONTH": company.last_month,
    }.items():
        monkeypatch.setenv(key, value)
    result = close(load_definitions(), company.first_month, company.last_month)
    assert result.success
    evaluations = check_results(result)
    assert set(evaluations) == EVERY_CHECK
    assert [name for name, e in evaluations.items() if not e.passed] == []
    flow = table(warehouse, "backlog_flow")
    assert len(flow) == 36
    for figure in ("new_bookings", "converted", "lost", "increases", "decreases"):
        assert (flow[figure].astype(float) > 0).any(), figure


def test_the_one_pass_as_of_route_equals_the_month_by_month_one(tmp_path):
    from backlog_pipeline.accounting.as_of import total_closing_as_of, total_closing_as_of_months
    from backlog_pipeline.defs.resources import CrmExport, ErpDatabase
    from backlog_pipeline.periods import parse_month
    from backlog_pipeline.sources.canonical import (
        parse_contract_changes,
        parse_contracts,
        parse_recognition,
    )

    company = generate_company(tmp_path, 300, seed=3)
    crm = CrmExport(directory=str(company.crm_dir))
    frames = (
        parse_contracts(crm.read("contracts", None).raw, "crm", "USD").rows,
        parse_contract_changes(crm.read("contract_changes", None).raw, "crm").rows,
        parse_recognition(ErpDatabase(url=company.erp_url).read(None).raw, "erp").rows,
    )
    months = list(range(parse_month(company.first_month) - 1, parse_month(company.last_month) + 2))
    assert total_closing_as_of_months(*frames, months) == {
        month: total_closing_as_of(*frames, month) for month in months
    }
