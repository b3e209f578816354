"""The late-data sensor: closes again the published months the sources have since changed.

A tick only compares cheap marks: the sizes and modification times of the source files
(the CSV export, a SQLite ERP, a rates file), the months published with their versions, and
the locks. When they moved, it requests a ``late_data_scan`` run, which reads the sources,
recomputes every published month and names the months to close again on its tags; the next
tick requests those closes. A source without a file to look at (an HTTP API, a database
server) is scanned once per interval.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from backlog_pipeline.accounting.late_data import marks_digest
from backlog_pipeline.config import settings
from backlog_pipeline.defs.fx_source import FxRatesSource
from backlog_pipeline.defs.jobs import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    monthly_close,
)
from backlog_pipeline.defs.late_data_scan import (
    DIGEST_TAG,
    FOUND_TAG,
    RANGES_TAG,
    late_data_scan,
)
from backlog_pipeline.defs.resources import CrmExport, CrmSource, ErpDatabase, ErpSource, Warehouse
from backlog_pipeline.periods import parse_month, partition_key
from backlog_pipeline.source_shrink import EXPECT_SHRINK_TAG
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.reads import current_versions, published_months

LATE_DATA_TAG = "backlog/late_data"


def _sqlite_file(url: str | None) -> Path | None:
    if not url or not url.startswith("sqlite"):
        return None
    database = sa.engine.make_url(url).database
    return Path(database) if database else None


def _source_files(crm: CrmSource, erp: ErpSource, rates: FxRatesSource) -> list[Path] | None:
    """The files the sources are read from; None when one source has none to look at."""
    erp_file = _sqlite_file(erp.url) if isinstance(erp, ErpDatabase) else None
    if not isinstance(crm, CrmExport) or erp_file is None:
        return None
    files = [Path(crm.directory) / "contracts.csv", Path(crm.directory) / "contract_changes.csv"]
    if rates.csv_path:
        files.append(Path(rates.csv_path))
    elif rates.table:
        rates_file = _sqlite_file(rates.url)
        if rates_file is None:
            return None
        files.append(rates_file)
    return [*files, erp_file]


def cheap_marks(
    crm: CrmSource, erp: ErpSource, rates: FxRatesSource, engine: sa.Engine, months: list[int]
) -> dict[str, object]:
    """What a tick compares: file stats, the published versions and the locks (no source
    row is read). Without files to look at, the interval's number stands in for them."""
    files = _source_files(crm, erp, rates)
    with engine.connect() as connection:
        versions = {m: v.version for m, v in current_versions(connection, months).items()}
        held = sorted(locks(connection, months))
    marks: dict[str, object] = {"published": versions, "locked": held}
    if files is None:
        marks["interval"] = int(time.time() // settings.late_data_interval)
    else:
        stats = {str(f): _stat(f) for f in files}
        marks["files"] = stats
    return marks


def _stat(path: Path) -> list[int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return [found.st_size, found.st_mtime_ns]


def _latest_scan(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=late_data_scan.name, statuses=[dg.DagsterRunStatus.SUCCESS]),
        limit=1,
    )
    return runs[0] if runs else None


def _close_requests(scan: dg.DagsterRun) -> list[dg.RunRequest]:
    """One close per contiguous range the scan named; the run key depends on the data.

    With ``BACKLOG_EXPECT_SOURCE_SHRINK`` set, each run says so in its tags too, so the run
    page shows why a shrunk source went through.
    """
    expected = {EXPECT_SHRINK_TAG: "true"} if settings.expect_source_shrink else {}
    digest = scan.tags.get(DIGEST_TAG, "")
    requests = []
    for span in filter(None, scan.tags.get(RANGES_TAG, "").split(";")):
        first, last = (parse_month(month) for month in span.split(".."))
        requests.append(
            dg.RunRequest(
                job_name=monthly_close.name,
                run_key=f"late-data:{span}:{digest[:16]}",
                tags={
                    PARTITION_RANGE_START_TAG: partition_key(first),
                    PARTITION_RANGE_END_TAG: partition_key(last),
                    LATE_DATA_TAG: "true",
                    **expected,
                },
            )
        )
    return requests


@dg.sensor(
    jobs=[monthly_close, late_data_scan],
    minimum_interval_seconds=settings.late_data_interval,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Compares cheap marks of the sources (file sizes and times), the published months and "
        "the locks; when they moved, a late_data_scan run recomputes every published month. "
        "Months whose figures changed are closed again (one run per contiguous range); a "
        "locked one, and the months after it, are flagged in backlog_exceptions instead."
    ),
)
def late_data_sensor(
    context: dg.SensorEvaluationContext,
    crm: CrmSource,
    erp: ErpSource,
    fx_rates_source: FxRatesSource,
    warehouse: Warehouse,
) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {}
    scan = _latest_scan(context.instance)
    if scan is not None and scan.run_id != cursor.get("scan"):  # a scan's findings to act on
        cursor["scan"] = scan.run_id
        requests = _close_requests(scan)
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))
        return dg.SensorResult(skip_reason=scan.tags.get(FOUND_TAG), cursor=json.dumps(cursor))
    months = published_months(warehouse.engine)
    if not months:
        return dg.SkipReason("nothing is published yet")
    digest = marks_digest(cheap_marks(crm, erp, fx_rates_source, warehouse.engine, months))
    if digest == cursor.get("marks"):
        return dg.SkipReason("the sources have not changed since the last scan")
    cursor["marks"] = digest
    scan_request = dg.RunRequest(job_name=late_data_scan.name, run_key=f"late-data-scan:{digest}")
    return dg.SensorResult(run_requests=[scan_request], cursor=json.dumps(cursor))
