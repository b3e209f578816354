"""The late-data scan: a run the late-data sensor requests when the sources' cheap marks
moved. It reads the sources, recomputes every published month and flags the locked ones;
the months to close again go on the run's tags, where the sensor's next tick reads them.

Reading and recomputing takes minutes at a million contracts, beyond Dagster's 60 s limit
on a sensor tick: so it is a run, with the run's logs, retries and history.
"""

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.currency import MissingRatesError
from backlog_pipeline.accounting.currency_close import close_figures
from backlog_pipeline.accounting.late_data import LateData, describe, marks_digest
from backlog_pipeline.defs.fx_source import FxRatesSource
from backlog_pipeline.defs.resources import CrmSource, ErpSource, Reporting, Warehouse
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.provenance import source_mark
from backlog_pipeline.sources.canonical import (
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)
from backlog_pipeline.sources.http import Log
from backlog_pipeline.warehouse.evidence import flagged_periods, replace_exceptions
from backlog_pipeline.warehouse.fingerprints import month_fingerprints
from backlog_pipeline.warehouse.locks import locks
from backlog_pipeline.warehouse.reads import (
    current_source_marks,
    current_versions,
    published_closing,
    published_months,
)

CHECK_NAME = "late_data"
# What the scan found, on its run: the ranges to close again ("2024-04..2024-06;..."), the
# digest of the sources it read (the close runs' keys), and what it found, in words.
RANGES_TAG = "backlog/late_data_ranges"
DIGEST_TAG = "backlog/late_data_digest"
FOUND_TAG = "backlog/late_data_found"


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


def _scan(
    context: dg.OpExecutionContext,
    crm: CrmSource,
    erp: ErpSource,
    fx_rates_source: FxRatesSource,
    warehouse: Warehouse,
    reporting: Reporting,
) -> dict[str, str]:
    """What the scan found, as the tags of its run."""
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
    published = {marks_digest(found) for found in current_source_marks(warehouse.engine)}
    if not published:
        return {FOUND_TAG: "nothing is published yet"}
    # Nothing to recompute: the sources are as last published, and no locked month is
    # waiting to be cleared of its flag.
    if published == {digest} and not flagged_periods(warehouse.engine, CHECK_NAME):
        return {FOUND_TAG: "the sources have not changed since the last publication"}
    try:
        late = find_late_data(warehouse.engine, sources, reporting)
    except MissingRatesError as error:  # the close would fail the same way: say why, wait
        return {FOUND_TAG: f"the published months cannot be recomputed: {error}"}
    if late.examined:
        # Replaces earlier flags too: a month unlocked and restated since is no longer listed.
        replace_exceptions(
            warehouse.engine, CHECK_NAME, "WARN", "warehouse/publication_versions",
            late.flags(), context.run_id, (None, late.examined[-1]),
        )  # fmt: skip
    ranges = ";".join(f"{month_label(a)}..{month_label(b)}" for a, b in late.ranges())
    found = describe(late) if late.changed else "no published month changes"
    return {FOUND_TAG: found, RANGES_TAG: ranges, DIGEST_TAG: digest}


@dg.op(description="Reads the sources and recomputes every published month (see module).")
def scan_for_late_data(
    context: dg.OpExecutionContext,
    crm: CrmSource,
    erp: ErpSource,
    fx_rates_source: FxRatesSource,
    warehouse: Warehouse,
    reporting: Reporting,
) -> None:
    tags = _scan(context, crm, erp, fx_rates_source, warehouse, reporting)
    context.log.info(f"Late data: {tags[FOUND_TAG]}")
    context.instance.add_run_tags(context.run_id, tags)


@dg.job(
    description=(
        "The late-data sensor's scan: reads the sources, recomputes every published month, "
        "flags changed locked months in backlog_exceptions and names the months to close again."
    ),
    executor_def=dg.in_process_executor,
)
def late_data_scan() -> None:
    scan_for_late_data()
