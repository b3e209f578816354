"""Fixtures: warehouses to publish to, the demo company, a fake HTTP API. Helpers: support.py."""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.sources.canonical import (
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)
from backlog_pipeline_tests.support import POSTGRES_URL


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
    # The schema names the sessions too, so a test looking at pg_stat_activity sees only its own.
    url = sa.make_url(POSTGRES_URL).update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema}
    )
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


# --- a browser for the board pack's pages ---------------------------------------------------

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium (or no playwright) in CI: .ci/run installs both")
        pytest.skip("no Chromium found: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
