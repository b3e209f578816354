"""Source assets: the CRM and ERP records, mapped into SPEC's canonical shape.

Rows that cannot be read are set aside in the warehouse table ``source_quarantine`` with
the source, record, field and reason; the good rows go on. Rows that can be read but are
wrong (a duplicate id, a currency that cannot be converted) are the data-error checks' job.
"""

import functools

import dagster as dg
import pandas as pd

from backlog_pipeline.canonical import (
    ParsedTable,
    parse_contract_changes,
    parse_contracts,
    parse_recognition,
)
from backlog_pipeline.defs.io_manager import SNAPSHOT
from backlog_pipeline.defs.resources import CrmExport, ErpDatabase, Reporting, Warehouse
from backlog_pipeline.warehouse import replace_quarantine, source_quarantine_table

OWNERS = ["team:finance", "team:sales"]
SINGLE_RUN = dg.BackfillPolicy.single_run()
_PREVIEW_ROWS = 10


def _landed(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    table: str,
    source: str,
    parsed: ParsedTable,
    raw_rows: int,
) -> dg.Output[pd.DataFrame]:
    replace_quarantine(warehouse.engine, table, parsed.quarantine, context.run.run_id)
    quarantined = len(parsed.quarantine)
    if quarantined:
        context.log.warning(
            f"{source}: {quarantined} of {raw_rows} {table} rows quarantined in "
            f"{source_quarantine_table.name} ({warehouse.describe()}); first: "
            f"{parsed.quarantine.iloc[0].to_dict()}"
        )
    context.log.info(f"{source}: {len(parsed.rows)} {table} rows read")
    return dg.Output(
        parsed.rows,
        metadata={
            "source": dg.MetadataValue.text(source),
            "rows": dg.MetadataValue.int(len(parsed.rows)),
            "quarantined_rows": dg.MetadataValue.int(quarantined),
            "quarantine_table": dg.MetadataValue.text(
                f"{source_quarantine_table.name} in {warehouse.describe()}"
            ),
            "quarantine_preview": dg.MetadataValue.md(
                parsed.quarantine.head(_PREVIEW_ROWS).to_markdown(
                    index=False, disable_numparse=True
                )
                if quarantined
                else "nothing quarantined"
            ),
        },
    )


def build_source_assets(
    partitions_def: dg.MonthlyPartitionsDefinition,
) -> list[dg.AssetsDefinition]:
    """Source assets share the monthly partitions so a range runs as one run, UI included.

    A source partition means "the source as read for closing that month"; what is read is
    the whole source, once per run, whatever the number of months (see ``SNAPSHOT``).
    """
    source_asset = functools.partial(
        dg.asset,
        group_name="sources",
        partitions_def=partitions_def,
        metadata={SNAPSHOT: True},
        owners=OWNERS,
        backfill_policy=SINGLE_RUN,
    )

    @source_asset(
        kinds={"csv"},
        description="Signed contracts from the CRM: the bookings, at total contract value.",
    )
    def crm_contracts(
        context: dg.AssetExecutionContext,
        crm: CrmExport,
        warehouse: Warehouse,
        reporting: Reporting,
    ) -> dg.Output[pd.DataFrame]:
        raw = crm.read_table("contracts")
        parsed = parse_contracts(raw, crm.describe(), reporting.currency)
        return _landed(context, warehouse, "contracts", crm.describe(), parsed, len(raw))

    @source_asset(
        kinds={"csv"},
        description="Amendments and cancellations of contracts from the CRM.",
    )
    def crm_contract_changes(
        context: dg.AssetExecutionContext, crm: CrmExport, warehouse: Warehouse
    ) -> dg.Output[pd.DataFrame]:
        raw = crm.read_table("contract_changes")
        parsed = parse_contract_changes(raw, crm.describe())
        return _landed(context, warehouse, "contract_changes", crm.describe(), parsed, len(raw))

    @source_asset(
        kinds={"sql"},
        description="Revenue recognized per contract and month, from the ERP.",
    )
    def erp_recognition(
        context: dg.AssetExecutionContext, erp: ErpDatabase, warehouse: Warehouse
    ) -> dg.Output[pd.DataFrame]:
        raw = erp.read_recognition()
        parsed = parse_recognition(raw, erp.describe())
        return _landed(context, warehouse, "recognition", erp.describe(), parsed, len(raw))

    return [crm_contracts, crm_contract_changes, erp_recognition]
