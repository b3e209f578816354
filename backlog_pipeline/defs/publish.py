"""Publication: the warehouse tables, then the KPI documents read back from them.

The figures are validated once more right before they are written, so a run that skips
the checks (a partial selection, say) still cannot publish a flow that does not add up.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.reconcile import (
    cancellation_line_problems,
    contract_sum_discrepancies,
    identity_discrepancies,
)
from backlog_pipeline.defs.backlog import flow_metadata
from backlog_pipeline.defs.partitions import months_in_run
from backlog_pipeline.defs.resources import DocumentFolder, Reporting, Warehouse
from backlog_pipeline.defs.sources import OWNERS, SINGLE_RUN
from backlog_pipeline.kpi_documents import write_documents
from backlog_pipeline.periods import month_label, parse_month, partition_key
from backlog_pipeline.warehouse import publish_months, read_flow

FLOW_TABLE = dg.AssetKey(["warehouse", "backlog_flow"])
CONTRACT_TABLE = dg.AssetKey(["warehouse", "contract_backlog"])
CHANGES_DOCUMENT = dg.AssetKey(["kpi", "bookings_backlog_changes"])
TOTAL_DOCUMENT = dg.AssetKey(["kpi", "bookings_backlog_total"])


def _refuse_unreconciled(flow: pd.DataFrame, contract_rows: pd.DataFrame) -> None:
    problems = (
        cancellation_line_problems(flow)
        + identity_discrepancies(flow)
        + contract_sum_discrepancies(flow, contract_rows)
    )
    if problems:
        raise dg.Failure(
            description=(
                f"Refusing to publish: {len(problems)} figure(s) do not reconcile; "
                f"first: {problems[0]}. The previous publication is unchanged."
            )
        )


def build_publish_assets(
    partitions_def: dg.MonthlyPartitionsDefinition,
) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="publish_warehouse_tables",
        specs=[
            dg.AssetSpec(
                FLOW_TABLE,
                deps=["backlog_flow", "contract_backlog"],
                description="Published flow, one row per month (NUMERIC(18,2) money).",
                kinds={"sql"},
                owners=OWNERS,
                group_name="published",
            ),
            dg.AssetSpec(
                CONTRACT_TABLE,
                deps=["backlog_flow", "contract_backlog"],
                description="Published contract-level backlog per month, summing to the flow.",
                kinds={"sql"},
                owners=OWNERS,
                group_name="published",
            ),
        ],
        ins={"flow": dg.AssetIn("backlog_flow"), "contract_rows": dg.AssetIn("contract_backlog")},
        partitions_def=partitions_def,
        backfill_policy=SINGLE_RUN,
    )
    def publish_warehouse_tables(
        context: dg.AssetExecutionContext,
        flow: pd.DataFrame,
        contract_rows: pd.DataFrame,
        warehouse: Warehouse,
        reporting: Reporting,
    ):
        first, last = months_in_run(context)
        months = list(range(first, last + 1))
        _refuse_unreconciled(flow, contract_rows)
        publish_months(warehouse.engine, months, flow, contract_rows, reporting.currency)
        context.log.info(
            f"Published {len(flow)} month(s) and {len(contract_rows)} contract rows to "
            f"{warehouse.describe()}"
        )
        rows_per_month = contract_rows.groupby("period").size()
        for _, row in flow.iterrows():
            key = partition_key(int(row["period"]))
            context.add_asset_metadata(flow_metadata(row), asset_key=FLOW_TABLE, partition_key=key)
            context.add_asset_metadata(
                {"rows": dg.MetadataValue.int(int(rows_per_month.get(row["period"], 0)))},
                asset_key=CONTRACT_TABLE,
                partition_key=key,
            )
        where = {"warehouse": dg.MetadataValue.text(warehouse.describe())}
        yield dg.MaterializeResult(
            asset_key=FLOW_TABLE, metadata={**where, "table": "backlog_flow"}
        )
        yield dg.MaterializeResult(
            asset_key=CONTRACT_TABLE, metadata={**where, "table": "contract_backlog"}
        )

    @dg.multi_asset(
        name="publish_kpi_documents",
        specs=[
            dg.AssetSpec(
                CHANGES_DOCUMENT,
                deps=[FLOW_TABLE],
                description="sales.bookings_backlog_changes: the typed flow object, per month.",
                kinds={"json"},
                owners=OWNERS,
                group_name="published",
            ),
            dg.AssetSpec(
                TOTAL_DOCUMENT,
                deps=[FLOW_TABLE],
                description="sales.bookings_backlog_total: the KPI document with the month value.",
                kinds={"json"},
                owners=OWNERS,
                group_name="published",
            ),
        ],
        partitions_def=partitions_def,
        backfill_policy=SINGLE_RUN,
    )
    def publish_kpi_documents(
        context: dg.AssetExecutionContext, warehouse: Warehouse, documents: DocumentFolder
    ):
        first, last = months_in_run(context)
        labels = {month_label(month) for month in range(first, last + 1)}
        published = read_flow(warehouse.engine)
        records = [r for r in published.to_dict("records") if r["period"] in labels]
        if len(records) != len(labels):
            missing = sorted(labels - {r["period"] for r in records})
            raise dg.Failure(description=f"Months not in the warehouse, nothing written: {missing}")
        for record in records:
            files = write_documents(Path(documents.path), record)
            key = partition_key(parse_month(record["period"]))
            for asset_key, path in zip((CHANGES_DOCUMENT, TOTAL_DOCUMENT), files, strict=True):
                context.add_asset_metadata(
                    {"path": dg.MetadataValue.path(str(path))},
                    asset_key=asset_key,
                    partition_key=key,
                )
        context.log.info(f"Wrote KPI documents for {len(records)} month(s) under {documents.path}")
        yield dg.MaterializeResult(asset_key=CHANGES_DOCUMENT)
        yield dg.MaterializeResult(asset_key=TOTAL_DOCUMENT)

    return [publish_warehouse_tables, publish_kpi_documents]
