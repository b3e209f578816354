"""The UI as an operator has it: ``dagster-webserver`` and ``dagster-daemon`` on an instance,
driven through the GraphQL API the UI itself calls. Used by ``test_operator_ui.py`` and
``benchmarks/ui.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
  }
}"""

BACKFILL = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      runs(limit: 20) { runId status startTime endTime tags { key value } }
    }
    ... on PythonError { message }
  }
}"""

LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
  }
}"""

RUN = """
query($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run { runId status startTime endTime tags { key value } }
  }
}"""

ASSET_KEYS = """
{ assetNodes { assetKey { path } } }"""

CHECK_STATUSES = """
{
  assetNodes {
    assetKey { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks {
        checks {
          name
          partitionStatuses {
            __typename
            ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } }
          }
        }
      }
    }
  }
}"""

CHECK_EXECUTIONS = """
query($key: AssetKeyInput!, $check: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $check, partition: $partition, limit: 1) {
    runId
    status
    partition
    evaluation { severity metadataEntries { label } }
  }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Ui:
    """A running webserver and daemon, and how to ask them things."""

    url: str
    home: Path

    def query(self, text: str, **variables: object) -> dict:
        response = requests.post(
            f"{self.url}/graphql", json={"query": text, "variables": variables}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def asset_keys(self) -> list[list[str]]:
        return [node["assetKey"]["path"] for node in self.query(ASSET_KEYS)["assetNodes"]]

    def backfill(self, partitions: list[str], tags: dict[str, str] | None = None) -> str:
        """Every asset over ``partitions``: the UI's "select all, Materialize", a range."""
        params = {
            "partitionNames": partitions,
            "assetSelection": [{"path": path} for path in self.asset_keys()],
            "fromFailure": False,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        launched = self.query(LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        return launched["backfillId"]

    def materialize(self, partition: str) -> str:
        """Every asset of one month, as the UI's "Materialize" of one partition launches it."""
        params = {
            "selector": {
                "repositoryLocationName": "backlog_pipeline.definitions",
                "repositoryName": "__repository__",
                "pipelineName": "__ASSET_JOB",
                "assetSelection": [{"path": path} for path in self.asset_keys()],
            },
            "mode": "default",
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        }
        launched = self.query(LAUNCH_RUN, params=params)["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        return launched["run"]["runId"]

    def wait_for_run(self, run_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.query(RUN, id=run_id)["runOrError"]
            if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                return run
            time.sleep(0.25)
        raise AssertionError(f"run {run_id} not done in {timeout} s")

    def wait_for_backfill(self, backfill_id: str, timeout: float = 600) -> dict:
        """The backfill once its runs are done (a range is one run: single-run policy)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.query(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
            runs = found.get("runs") or []
            if runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
                return found
            time.sleep(0.25)
        raise AssertionError(f"backfill {backfill_id} not done in {timeout} s: {found}")

    def check_statuses(self) -> dict[tuple[str, str], list[dict]]:
        """(asset, check) → the check's partition ranges, as the partition bar draws them."""
        statuses = {}
        for node in self.query(CHECK_STATUSES)["assetNodes"]:
            checks = node["assetChecksOrError"]
            for check in checks.get("checks", []):
                ranges = (check["partitionStatuses"] or {}).get("ranges", [])
                statuses[("/".join(node["assetKey"]["path"]), check["name"])] = ranges
        return statuses

    def check_execution(self, asset: str, check: str, partition: str) -> dict:
        """The latest execution of a check on one month, as the asset's Checks tab shows it."""
        (execution,) = self.query(
            CHECK_EXECUTIONS,
            key={"path": asset.split("/")},
            check=check,
            partition=partition,
        )["assetCheckExecutions"]
        return execution


def _wait_until_up(url: str, processes: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args[0]} exited: see its log"
        try:
            if requests.get(f"{url}/server_info", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the webserver did not answer at {url} within {timeout} s")


@contextmanager
def running_ui(
    home: Path, env: dict[str, str], logs: Path, instance_yaml: Path | None = None
) -> Iterator[Ui]:
    """Webserver and daemon on the instance ``home`` (deploy/dagster.yaml), stopped after."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(instance_yaml or REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {**env, "DAGSTER_HOME": str(home)}
    port = free_port()
    location = ["-m", "backlog_pipeline.definitions"]
    commands = {
        "webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)],
        "daemon": [str(BIN / "dagster-daemon"), "run"],
    }
    processes = []
    try:
        for name, command in commands.items():
            with open(logs / f"{name}.log", "w") as log:  # the child keeps its own handle
                processes.append(
                    subprocess.Popen(
                        [*command, *location], env=env, cwd=home, stdout=log, stderr=log,
                        start_new_session=True,
                    )
                )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, processes, timeout=180)
        yield Ui(url=url, home=home)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
