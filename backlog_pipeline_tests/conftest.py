"""Shared fixtures: a CRM/ERP written from a few hand-made rows, and warehouses to publish to."""

import csv
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.sources.canonical import (
    CHANGE_COLUMNS,
    CONTRACT_COLUMNS,
    RECOGNITION_COLUMNS,
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)

POSTGRES_URL = os.environ.get(
    "BACKLOG_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def contract(contract_id: str, signed: str, tcv: str, **extra: str) -> dict[str, str]:
    return {"contract_id": contract_id, "customer_id": f"CUST-{contract_id}", "signed_date": signed,
            "tcv": tcv, **extra}  # fmt: skip


def change(change_id: str, contract_id: str, effective: str, kind: str, amount: str = "") -> dict:
    return {"change_id": change_id, "contract_id": contract_id, "effective_date": effective,
            "kind": kind, "amount": amount}  # fmt: skip


def recognized(contract_id: str, *monthly: tuple[str, str]) -> list[dict[str, str]]:
    return [
        {
            "line_id": f"{contract_id}-{period}-{i}",
            "contract_id": contract_id,
            "period": period,
            "amount": amount,
        }
        for i, (period, amount) in enumerate(monthly)
    ]


def frames(contracts: list[dict], changes: list[dict], recognition: list[dict]):
    """Typed canonical frames from raw rows, as the source assets would produce them."""
    parsed_contracts = parse_contracts(pd.DataFrame(contracts), "test CRM", "USD")
    parsed_changes = parse_contract_changes(
        pd.DataFrame(changes, columns=list(CHANGE_COLUMNS)), "test CRM"
    )
    parsed_recognition = parse_recognition(
        pd.DataFrame(recognition, columns=list(RECOGNITION_COLUMNS)), "test ERP"
    )
    for parsed in (parsed_contracts, parsed_changes, parsed_recognition):
        assert parsed.quarantine.empty, parsed.quarantine
    return parsed_contracts.rows, parsed_changes.rows, parsed_recognition.rows


def write_sources(
    folder: Path, contracts: list[dict], changes: list[dict], recognition: list[dict]
) -> tuple[Path, str]:
    """A CRM export folder and an ERP SQLite database holding the given rows."""
    crm = folder / "crm"
    crm.mkdir(parents=True)
    for name, rows, columns in (
        ("contracts", contracts, CONTRACT_COLUMNS),
        ("contract_changes", changes, CHANGE_COLUMNS),
    ):
        with open(crm / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    erp_url = f"sqlite:///{folder / 'erp.sqlite'}"
    engine = sa.create_engine(erp_url)
    pd.DataFrame(recognition, columns=list(RECOGNITION_COLUMNS)).to_sql(
        "recognition", engine, index=False
    )
    engine.dispose()
    return crm, erp_url


def _postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the machine's PostgreSQL; CI fails rather than skips without one."""
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    schema = f"bp_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def demo_paths(tmp_path_factory: pytest.TempPathFactory):
    from backlog_pipeline.demo.generate import ensure_demo

    return ensure_demo(tmp_path_factory.mktemp("demo-data"))


@pytest.fixture(scope="session")
def demo_frames(demo_paths):
    crm = demo_paths.crm_dir
    contracts = parse_contracts(
        pd.read_csv(crm / "contracts.csv", dtype=str, keep_default_na=False), "demo", "USD"
    )
    changes = parse_contract_changes(
        pd.read_csv(crm / "contract_changes.csv", dtype=str, keep_default_na=False), "demo"
    )
    engine = sa.create_engine(demo_paths.erp_url)
    recognition = parse_recognition(pd.read_sql("SELECT * FROM recognition", engine), "demo")
    engine.dispose()
    return contracts.rows, changes.rows, recognition.rows


@pytest.fixture
def fake_api():
    """A scripted HTTP server on 127.0.0.1, on a free port, for the connector tests."""
    from backlog_pipeline_tests.fake_api import FakeApi

    api = FakeApi().start()
    yield api
    api.stop()


@pytest.fixture(autouse=True)
def quick_step_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step retries stay on (as deployed) but wait fractions of a second, not half a minute."""
    monkeypatch.setenv("BACKLOG_STEP_RETRY_DELAY", "0.05")
