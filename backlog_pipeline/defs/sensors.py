"""The late-data sensor: reruns published months the sources have since changed."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.currency import MissingRatesError
from backlog_pipeline.accounting.currency_close import close_figures
from backlog_pipeline.accounting.late_data import LateData, describe, marks_digest
from backlog_pipeline.config import settings
from backlog_pipeline.defs.fx_source import FxRatesSource
from backlog_pipeline.defs.jobs import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    monthly_close,
)
from backlog_pipeline.defs.resources import CrmSource, ErpSource, Reporting, Warehouse
from backlog_pipeline.periods import month_label, parse_month, partition_key
from backlog_pipeline.provenance import source_mark
from backlog_pipeline.source_shrink import EXPECT_SHRINK_TAG
from backlog_pipeline.sources.canonical import (
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)
from backlog_pipeline.sources.http import Log
from backlog_pipeline.warehouse.evidence import flagged_periods, replace_exceptions
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.reads import (
    current_source_marks,
    current_versions,
    published_closing,
    published_months,
)
from backlog_pipeline.warehouse.versions import month_fingerprints

LATE_DATA_TAG = "backlog/late_data"
CHECK_NAME = "late_data"


def find_late_data(
    engine: sa.Engine,
    sources: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame],
    reporting: Reporting,
) -> LateData:
    """The published months whose figures the current sources change, and which are locked.

    ``sources`` are the contracts, changes, recognition and rates. Each published month is
    recomputed from them and its content digest compared with its current version's, the
    digest publication uses to decide a month changed (a corrected rate changes it too).
    """
    months = published_months(engine)
    if not months:
        return LateData()
    fixed = parse_month(reporting.constant_month) if reporting.constant_month else None
    close = close_figures(
        *sources, reporting.currency, months, fixed, reporting.fiscal_year_start_month
    )
    flow = close.flow[close.flow["period"].isin(months)]
    digests = month_fingerprints(flow, close.contract_rows, reporting.currency, close.currency)
    with engine.connect() as connection:
        current = current_versions(connection, months)
        changed = [m for m in months if digests.get(m) != current[m].content_hash]
        held = locks(connection, changed)
    published = published_closing(engine, list(held))
    recomputed = dict(zip(flow["period"].astype(int), flow["closing"].astype(int), strict=True))
    moves = {m: recomputed[m] - published[m] for m in held if m in published}
    return LateData(months, changed, held, moves)


def _read_sources(
    crm: CrmSource, erp: ErpSource, rates: FxRatesSource, reporting: Reporting, log: Log
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The sources as the source assets read them: contracts, changes, recognition, rates."""
    # Parsed as the source assets parse them (same currency, same time zone).
    contracts = parse_contracts(
        crm.read("contracts", log).raw, crm.describe(), reporting.currency, reporting.timezone
    ).rows
    changes = parse_contract_changes(
        crm.read("contract_changes", log).raw, crm.describe(), reporting.timezone
    ).rows
    recognition = parse_recognition(erp.read(log).raw, erp.describe()).rows
    return contracts, changes, recognition, rates.read(reporting.currency)


def _run_requests(late: LateData, digest: str) -> list[dg.RunRequest]:
    """One close per contiguous range of months to rerun; the run key depends on the data.

    With ``BACKLOG_EXPECT_SOURCE_SHRINK`` set, each run says so in its tags too, so the run
    page shows why a shrunk source went through.
    """
    expected = {EXPECT_SHRINK_TAG: "true"} if settings.expect_source_shrink else {}
    return [
        dg.RunRequest(
            run_key=f"late-data:{month_label(first)}..{month_label(end)}:{digest[:16]}",
            tags={
                PARTITION_RANGE_START_TAG: partition_key(first),
                PARTITION_RANGE_END_TAG: partition_key(end),
                LATE_DATA_TAG: "true",
                **expected,
            },
        )
        for first, end in late.ranges()
    ]


@dg.sensor(
    job=monthly_close,
    minimum_interval_seconds=settings.late_data_interval,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Reads the sources and recomputes every published month. Months whose figures "
        "changed are closed again (one run per contiguous range); a locked one, and the "
        "months after it, are flagged in backlog_exceptions for restatement instead."
    ),
)
def late_data_sensor(
    context: dg.SensorEvaluationContext,
    crm: CrmSource,
    erp: ErpSource,
    fx_rates_source: FxRatesSource,
    warehouse: Warehouse,
    reporting: Reporting,
) -> dg.SensorResult | dg.SkipReason:
    sources = _read_sources(crm, erp, fx_rates_source, reporting, context.log)
    contracts, changes, recognition, rates = sources
    marks = {
        "crm_contracts": source_mark(contracts),
        "crm_contract_changes": source_mark(changes),
        "erp_recognition": source_mark(recognition),
    }
    if fx_rates_source.configured:  # as publication records them
        marks["fx_rates"] = source_mark(rates)
    digest = marks_digest(marks)
    # Cheap ways out: the sources are as last published, or as last found clean, and no
    # locked month is waiting to be cleared of its flag.
    published = {marks_digest(found) for found in current_source_marks(warehouse.engine)}
    if not published:
        return dg.SkipReason("nothing is published yet")
    unchanged = published == {digest} or digest == context.cursor
    if unchanged and not flagged_periods(warehouse.engine, CHECK_NAME):
        return dg.SkipReason("the sources have not changed since the last publication")

    try:
        late = find_late_data(warehouse.engine, sources, reporting)
    except MissingRatesError as error:  # the close would fail the same way: say why, wait
        return dg.SkipReason(f"the published months cannot be recomputed: {error}")
    if late.examined:
        # Replaces earlier flags too: a month unlocked and restated since is no longer listed.
        replace_exceptions(
            warehouse.engine, CHECK_NAME, "WARN", "warehouse/publication_versions",
            late.flags(), "late_data_sensor", (None, late.examined[-1]),
        )  # fmt: skip
    context.log.info(f"Late data: {describe(late)}")
    if not late.changed:
        return dg.SensorResult(skip_reason="no published month changes", cursor=digest)
    requests = _run_requests(late, digest)
    if not requests:
        return dg.SensorResult(skip_reason=describe(late), cursor=digest)
    return dg.SensorResult(run_requests=requests)
