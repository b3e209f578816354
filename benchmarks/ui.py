"""A month's close in the UI: launched as the UI launches it, timed until its run is done.

Starts ``dagster-webserver`` and ``dagster-daemon`` on a new instance over the embedded demo,
closes each month once to warm up, then launches a one-month backfill of every asset
(``select all, Materialize``) ``--runs`` times and prints each run's seconds from the launch
to the end of the run, queue included. ``--screenshots DIR`` saves the lineage and a month's
checks as the operator sees them (headless Chromium).

    python -m benchmarks.ui --workdir /tmp/ui-bench --month 2025-06 --runs 3
    python -m benchmarks.ui --workdir /tmp/ui-before --executor multiprocess \
        --instance-yaml /path/to/first/dagster.yaml
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from backlog_pipeline.periods import parse_month, partition_key
from backlog_pipeline_tests.ui_support import Ui, running_ui


def _timed_month(ui: Ui, key: str) -> float:
    """Seconds from the launch to the end of the month's run, as its run page says."""
    launched = time.time()
    run = ui.wait_for_run(ui.materialize(key))
    assert run["status"] == "SUCCESS", run
    print(
        f"  queued after {run['startTime'] - launched:.1f} s, "
        f"ran {run['endTime'] - run['startTime']:.1f} s",
        flush=True,
    )
    return run["endTime"] - launched


def _skip_welcome(page: object) -> None:
    """The UI's first-visit dialog (community sign-up) covers the page: dismiss it."""
    if page.locator("text=Skip").count():
        page.click("text=Skip")
        time.sleep(3)


def screenshots(ui: Ui, folder: Path) -> None:
    """The asset graph (by group), and ``flow_reconciles``'s results per month."""
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1500, "height": 800})
        page.set_default_timeout(240_000)
        page.goto(f"{ui.url}/asset-groups", wait_until="networkidle")
        time.sleep(40)  # the graph lays itself out
        _skip_welcome(page)
        page.screenshot(path=str(folder / "ui-lineage.png"))
        page.goto(f"{ui.url}/assets/backlog_flow?view=checks", wait_until="networkidle")
        page.wait_for_selector("text=flow_reconciles")
        time.sleep(10)
        _skip_welcome(page)
        page.click("text=flow_reconciles", force=True)
        time.sleep(10)
        page.locator("text=Partitions").last.click(force=True)
        time.sleep(20)
        page.screenshot(path=str(folder / "ui-month-checks.png"))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--month", default="2025-06")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--executor", default=None, help="BACKLOG_EXECUTOR for the runs")
    parser.add_argument("--instance-yaml", type=Path, default=None)
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    env = {**os.environ, "BACKLOG_DATA_DIR": str(args.workdir / "data")}
    if args.executor:
        env["BACKLOG_EXECUTOR"] = args.executor
    key = partition_key(parse_month(args.month))
    with running_ui(args.workdir / "home", env, args.workdir, args.instance_yaml) as ui:
        warm = _timed_month(ui, key)
        print(f"first close of {args.month} (demo generated, warehouse created): {warm:.1f} s")
        seconds = [_timed_month(ui, key) for _ in range(args.runs)]
        if seconds:
            print(
                f"close of {args.month} in the UI, {args.runs} runs: "
                + ", ".join(f"{s:.1f}" for s in seconds)
                + f" s; median {statistics.median(seconds):.1f} s"
            )
        if args.screenshots:
            screenshots(ui, args.screenshots)


if __name__ == "__main__":
    main()
