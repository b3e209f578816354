"""Source assets: the CRM and ERP records, mapped into SPEC's canonical shape.

Rows that cannot be read are set aside in the warehouse table ``source_quarantine`` with
the source, record, field and reason; the good rows go on. Rows that can be read but are
wrong (a duplicate id, a currency that cannot be converted) are the data-error checks' job.
"""

import functools
from collections.abc import Iterator

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.config import settings
from backlog_pipeline.defs.io_manager import SNAPSHOT
from backlog_pipeline.defs.partitions import SINGLE_RUN, monthly_partitions
from backlog_pipeline.defs.policies import SOURCES_POOL, transient_retry_policy
from backlog_pipeline.defs.resources import (
    CrmSource,
    ErpSource,
    Reporting,
    SourceRead,
    SourceResource,
    Warehouse,
)
from backlog_pipeline.defs.shrink import landed_and_checked, shrink_spec
from backlog_pipeline.faults import describe, is_transient
from backlog_pipeline.money import exact_sum, format_cents
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.provenance import SOURCE_MARK, source_mark
from backlog_pipeline.sources.canonical import (
    ParsedTable,
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)
from backlog_pipeline.warehouse.engine import WarehouseFault
from backlog_pipeline.warehouse.evidence import quarantine_query, replace_quarantine
from backlog_pipeline.warehouse.locks import latest_lock_before
from backlog_pipeline.warehouse.schema import source_quarantine_table

OWNERS = ["team:finance", "team:sales"]
_PREVIEW_ROWS = 10


def _landed(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    table: str,
    resource: SourceResource,
    parsed: ParsedTable,
    read: SourceRead,
) -> dg.Output[pd.DataFrame]:
    source, raw_rows = resource.describe(), read.rows
    try:
        replace_quarantine(warehouse.engine, table, parsed.quarantine, context.run.run_id)
    except sa.exc.DBAPIError as error:
        raise WarehouseFault(
            f"The warehouse {warehouse.describe()} refused the quarantine of {table} "
            f"({describe(error)}); nothing was published",
            transient=is_transient(error),
        ) from error
    quarantined = len(parsed.quarantine)
    if quarantined:
        context.log.warning(
            f"{source}: {quarantined} of {raw_rows} {table} rows quarantined in "
            f"{source_quarantine_table.name} ({warehouse.describe()}); first: "
            f"{parsed.quarantine.iloc[0].to_dict()}"
        )
    if raw_rows and quarantined / raw_rows > resource.max_quarantine_share:
        raise dg.Failure(
            description=(
                f"{source}: {quarantined} of {raw_rows} {table} rows quarantined, more than the "
                f"{resource.max_quarantine_share:.0%} allowed (BACKLOG_MAX_QUARANTINE_SHARE); "
                f"they are listed in {source_quarantine_table.name}. Nothing was published."
            ),
            metadata={"quarantined_rows": quarantined, "rows": raw_rows},
            allow_retries=False,
        )
    context.log.info(
        f"{source}: {len(parsed.rows)} {table} rows read ({read.pulled or 'read whole'})"
    )
    # The mark publication records, computed once here (or carried by the source's snapshot).
    parsed.rows.attrs[SOURCE_MARK] = read.mark or source_mark(parsed.rows)
    return dg.Output(
        parsed.rows,
        metadata={
            "source": dg.MetadataValue.text(source),
            "rows": dg.MetadataValue.int(len(parsed.rows)),
            "high_water_mark": (
                dg.MetadataValue.text(read.high_water_mark)
                if read.high_water_mark
                else dg.MetadataValue.null()
            ),
            "fetched_rows": dg.MetadataValue.int(read.fetched),
            "pull": dg.MetadataValue.text(read.pulled or "read whole"),
            "source_copy_rows": dg.MetadataValue.int(read.total),
            **_quarantine_metadata(parsed.quarantine, table, context.run.run_id, warehouse),
        },
    )


def _quarantine_metadata(
    quarantine: pd.DataFrame, table: str, run_id: str, warehouse: Warehouse
) -> dict[str, dg.MetadataValue]:
    """How many rows were set aside, the amount they hold, and the query that lists them
    (SPEC: the run says how many and where they are; ``backlog-close`` prints it)."""
    amounts = (
        quarantine["amount"]
        if "amount" in quarantine
        else pd.Series(pd.NA, index=quarantine.index, dtype="Int64")
    )
    shown = quarantine.head(_PREVIEW_ROWS).assign(
        amount=lambda f: [None if pd.isna(c) else format_cents(int(c)) for c in amounts[: len(f)]]
    )
    return {
        "quarantined_rows": dg.MetadataValue.int(len(quarantine)),
        "quarantined_amount": dg.MetadataValue.text(
            format_cents(exact_sum(amounts.dropna().to_numpy(dtype="int64")))
        ),
        "quarantined_without_amount": dg.MetadataValue.int(int(amounts.isna().sum())),
        "quarantine_table": dg.MetadataValue.text(
            f"{source_quarantine_table.name} in {warehouse.describe()}"
        ),
        "quarantine_query": dg.MetadataValue.text(quarantine_query(table, run_id)),
        "quarantine_preview": dg.MetadataValue.md(
            shown.to_markdown(index=False, disable_numparse=True)
            if len(quarantine)
            else "nothing quarantined"
        ),
    }


def _first_open_month(context: dg.AssetExecutionContext, warehouse: Warehouse) -> str | None:
    """The month after the last one locked before the run (``YYYY-MM``): a SQL ERP without a
    modification column is asked only for the rows from there on. None: nothing is locked,
    every month may still be restated, the source is read whole."""
    first = parse_month(context.partition_key_range.start)
    with warehouse.engine.connect() as connection:
        locked = latest_lock_before(connection, first)
    return month_label(locked[0] + 1) if locked else None


# A source partition means "the source as read for closing that month"; what is read is
# the whole source, once per run, whatever the number of months (see ``SNAPSHOT``). The
# sources share the monthly partitions so a range runs as one run, UI included.
source_asset = functools.partial(
    dg.asset,
    group_name="sources",
    partitions_def=monthly_partitions,
    metadata={SNAPSHOT: True},
    owners=OWNERS,
    backfill_policy=SINGLE_RUN,
    retry_policy=transient_retry_policy,
    pool=SOURCES_POOL,
)


# Each body runs whole under ``retried_only_if_transient`` (see ``landed_and_checked``): a
# bug in the mapping fails at once rather than being retried.
Landed = Iterator[dg.Output | dg.AssetCheckEvaluation]


@source_asset(
    kinds={settings.crm_kind},
    description="Signed contracts from the CRM: the bookings, at total contract value.",
    check_specs=[shrink_spec("crm_contracts")],
)
def crm_contracts(
    context: dg.AssetExecutionContext,
    crm: CrmSource,
    warehouse: Warehouse,
    reporting: Reporting,
) -> Landed:
    def land() -> dg.Output[pd.DataFrame]:
        read = crm.read("contracts", context.log)
        parsed = parse_contracts(read.raw, crm.describe(), reporting.currency, reporting.timezone)
        return _landed(context, warehouse, "contracts", crm, parsed, read)

    yield from landed_and_checked(context, "crm_contracts", warehouse, land)


@source_asset(
    kinds={settings.crm_kind},
    description="Amendments and cancellations of contracts from the CRM.",
    check_specs=[shrink_spec("crm_contract_changes")],
)
def crm_contract_changes(
    context: dg.AssetExecutionContext,
    crm: CrmSource,
    warehouse: Warehouse,
    reporting: Reporting,
) -> Landed:
    def land() -> dg.Output[pd.DataFrame]:
        read = crm.read("contract_changes", context.log)
        parsed = parse_contract_changes(read.raw, crm.describe(), reporting.timezone)
        return _landed(context, warehouse, "contract_changes", crm, parsed, read)

    yield from landed_and_checked(context, "crm_contract_changes", warehouse, land)


@source_asset(
    kinds={settings.erp_kind},
    description="Revenue recognized per contract and month, from the ERP.",
    check_specs=[shrink_spec("erp_recognition")],
)
def erp_recognition(
    context: dg.AssetExecutionContext, erp: ErpSource, warehouse: Warehouse
) -> Landed:
    def land() -> dg.Output[pd.DataFrame]:
        read, parsed = erp.read_parsed(
            context.log,
            lambda raw: parse_recognition(raw, erp.describe()),
            open_from=_first_open_month(context, warehouse),
        )
        return _landed(context, warehouse, "recognition", erp, parsed, read)

    yield from landed_and_checked(context, "erp_recognition", warehouse, land)
