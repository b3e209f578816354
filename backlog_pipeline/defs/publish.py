"""Publication: the warehouse tables as a new version where figures changed, then the KPI
documents read back from them.

The figures are validated once more right before they are written, so a run that skips the
checks (a partial selection, say) still cannot publish a flow that does not add up; and the
lock on a signed-off month is enforced inside the publishing transaction itself. Both
publishers sit in one pool (one at a time across runs) and retry transient faults: a retry is
safe, the warehouse transaction wrote a month whole or not at all, the documents are rewritten.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting.lineage import MonthlySourceRecords
from backlog_pipeline.defs.backlog import flow_metadata
from backlog_pipeline.defs.currency import currency_figures
from backlog_pipeline.defs.disclosure_publish import (
    DISCLOSURE_INS,
    DISCLOSURE_SPECS,
    DISCLOSURE_TABLES,
    disclosure_frames,
)
from backlog_pipeline.defs.fx_source import FxRatesSource
from backlog_pipeline.defs.partitions import SINGLE_RUN, monthly_partitions, months_in_run
from backlog_pipeline.defs.policies import (
    PUBLISH_POOL,
    retried_only_if_transient,
    tag_restatement,
    transient_retry_policy,
)
from backlog_pipeline.defs.publish_documents import documents_writer
from backlog_pipeline.defs.publish_refusals import (
    publication_failure,
    refuse_unpublishable,
)
from backlog_pipeline.defs.resources import DocumentFolder, Reporting, Warehouse
from backlog_pipeline.defs.sources import OWNERS
from backlog_pipeline.periods import month_label, parse_month, partition_key
from backlog_pipeline.provenance import carried_mark, code_version, source_mark
from backlog_pipeline.warehouse.locks import PublicationError
from backlog_pipeline.warehouse.versions import MonthOutcome, RunStamp, publish_versions

# ``_table`` where a computed asset has the name: the graph shows a key's last part only.
FLOW_TABLE = dg.AssetKey(["warehouse", "backlog_flow_table"])
CONTRACT_TABLE = dg.AssetKey(["warehouse", "contract_backlog_table"])
SOURCE_RECORDS_TABLE = dg.AssetKey(["warehouse", "backlog_source_records"])
VERSIONS_TABLE = dg.AssetKey(["warehouse", "publication_versions"])
BY_CURRENCY_TABLE = dg.AssetKey(["warehouse", "backlog_flow_by_currency_table"])
CONSTANT_TABLE = dg.AssetKey(["warehouse", "backlog_flow_constant_currency_table"])
RATES_TABLE = dg.AssetKey(["warehouse", "publication_fx_rates"])
CHANGES_DOCUMENT = dg.AssetKey(["kpi", "bookings_backlog_changes"])
TOTAL_DOCUMENT = dg.AssetKey(["kpi", "bookings_backlog_total"])
RPO_DOCUMENT = dg.AssetKey(["kpi", "rpo_disclosure_document"])
TABLES = (
    FLOW_TABLE, CONTRACT_TABLE, SOURCE_RECORDS_TABLE, VERSIONS_TABLE,
    BY_CURRENCY_TABLE, CONSTANT_TABLE, RATES_TABLE,
)  # fmt: skip

SOURCES = {"contracts": "crm_contracts", "changes": "crm_contract_changes",
           "recognition": "erp_recognition"}  # fmt: skip


def _published(key: dg.AssetKey, deps: list, description: str, kind: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key, deps=deps, description=description, kinds={kind}, owners=OWNERS, group_name="published"
    )


@dg.multi_asset(
    name="publish_warehouse_tables",
    pool=PUBLISH_POOL,
    retry_policy=transient_retry_policy,
    specs=[
        _published(
            FLOW_TABLE,
            ["backlog_flow", "contract_backlog"],
            "Published flow, one row per month (NUMERIC(18,2) money).",
            "sql",
        ),
        _published(
            CONTRACT_TABLE,
            ["backlog_flow", "contract_backlog"],
            "Published contract-level backlog per month, summing to the flow.",
            "sql",
        ),
        _published(
            SOURCE_RECORDS_TABLE,
            ["contract_backlog", *SOURCES.values()],
            "The source records (contract, change, recognition line) behind each "
            "contract's figures per month and version: the audit trail's last step.",
            "sql",
        ),
        _published(
            VERSIONS_TABLE,
            ["backlog_flow"],
            "Every published version of every month: its figures, the run, the code "
            "version and the sources' high-water marks. Unchanged reruns add nothing.",
            "sql",
        ),
        _published(
            BY_CURRENCY_TABLE,
            ["backlog_flow_by_currency"],
            "Published flow of each currency in that currency, per month.",
            "sql",
        ),
        _published(
            CONSTANT_TABLE,
            ["backlog_flow_constant_currency"],
            "Published flow at constant exchange rates, per month (non-GAAP).",
            "sql",
        ),
        _published(
            RATES_TABLE,
            ["backlog_flow", "fx_rates"],
            "The exchange rates each published version of each month was converted with.",
            "sql",
        ),
        *DISCLOSURE_SPECS,
    ],
    ins={
        "flow": dg.AssetIn("backlog_flow"),
        "contract_rows": dg.AssetIn("contract_backlog"),
        "by_currency": dg.AssetIn("backlog_flow_by_currency"),
        "constant": dg.AssetIn("backlog_flow_constant_currency"),
        "rates": dg.AssetIn("fx_rates"),
        **{name: dg.AssetIn(key) for name, key in SOURCES.items()},
        **DISCLOSURE_INS,
    },
    partitions_def=monthly_partitions,
    backfill_policy=SINGLE_RUN,
)
def publish_warehouse_tables(
    context: dg.AssetExecutionContext,
    flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    by_currency: pd.DataFrame,
    constant: pd.DataFrame,
    rates: pd.DataFrame,
    contracts: pd.DataFrame,
    changes: pd.DataFrame,
    recognition: pd.DataFrame,
    warehouse: Warehouse,
    reporting: Reporting,
    fx_rates_source: FxRatesSource,
    **disclosure_inputs: pd.DataFrame,
) -> Iterator[dg.MaterializeResult]:
    first, last = months_in_run(context)
    months = list(range(first, last + 1))
    refuse_unpublishable(flow, contract_rows)
    disclosure = disclosure_frames(disclosure_inputs, flow)
    frames = {"contracts": contracts, "changes": changes, "recognition": recognition}
    marks = {SOURCES[name]: carried_mark(frame) for name, frame in frames.items()}
    if fx_rates_source.configured:  # a one-currency company reads no rates
        marks["fx_rates"] = source_mark(rates)
    stamp = RunStamp(
        run_id=context.run.run_id,
        code_version=code_version(),
        source_marks=marks,
        published_at=datetime.now(UTC),
    )
    figures = currency_figures(contract_rows, by_currency, constant, rates, reporting)

    def publish() -> list[MonthOutcome]:
        try:
            return publish_versions(
                warehouse.engine,
                months,
                flow,
                contract_rows,
                MonthlySourceRecords(contracts, changes, recognition, months),
                reporting.currency,
                stamp,
                figures,
                disclosure,
            )
        except (PublicationError, sa.exc.DBAPIError) as error:
            raise publication_failure(error, warehouse, first, last) from None

    # A bug or bad data fails at once; a warehouse fault is retried by the RetryPolicy.
    outcomes = retried_only_if_transient(publish)
    _log_outcomes(context, outcomes, warehouse)
    tag_restatement(context, [o.month for o in outcomes if o.status == "restated"])
    _add_month_metadata(context, flow, contract_rows, outcomes, reporting.currency)
    where = {
        "warehouse": dg.MetadataValue.text(warehouse.describe()),
        "run_code_version": dg.MetadataValue.text(stamp.code_version),
    }
    for key in (*TABLES, *DISCLOSURE_TABLES):
        table = key.path[-1].removesuffix("_table")
        yield dg.MaterializeResult(asset_key=key, metadata={**where, "table": table})


def _log_outcomes(
    context: dg.AssetExecutionContext, outcomes: list[MonthOutcome], warehouse: Warehouse
) -> None:
    for outcome in outcomes:
        context.log.info(
            f"{month_label(outcome.month)}: {outcome.status}, version {outcome.version}"
            + (f" (restates version {outcome.restates})" if outcome.restates else "")
        )
    context.log.info(
        f"Published {sum(o.status != 'unchanged' for o in outcomes)} of {len(outcomes)} "
        f"month(s) to {warehouse.describe()}; the others were unchanged"
    )


def _add_month_metadata(
    context: dg.AssetExecutionContext,
    flow: pd.DataFrame,
    contract_rows: pd.DataFrame,
    outcomes: list[MonthOutcome],
    currency: str,
) -> None:
    """Each month's figures (in ``currency``), rows and version on each table's partition."""
    rows_per_month = contract_rows.groupby("period").size()
    by_month = {outcome.month: outcome for outcome in outcomes}
    for _, row in flow.iterrows():
        key = partition_key(int(row["period"]))
        outcome = by_month[int(row["period"])]
        version = {
            "version": dg.MetadataValue.int(outcome.version),
            "publication": dg.MetadataValue.text(outcome.status),
        }
        context.add_asset_metadata(
            {**flow_metadata(row, currency), **version}, asset_key=FLOW_TABLE, partition_key=key
        )
        context.add_asset_metadata(
            {"rows": dg.MetadataValue.int(int(rows_per_month.get(row["period"], 0))), **version},
            asset_key=CONTRACT_TABLE,
            partition_key=key,
        )
        for asset_key in (SOURCE_RECORDS_TABLE, VERSIONS_TABLE, *TABLES[4:], *DISCLOSURE_TABLES):
            context.add_asset_metadata(version, asset_key=asset_key, partition_key=key)


@dg.multi_asset(
    name="publish_kpi_documents",
    pool=PUBLISH_POOL,
    retry_policy=transient_retry_policy,
    specs=[
        _published(
            CHANGES_DOCUMENT,
            [FLOW_TABLE],
            "sales.bookings_backlog_changes: the typed flow object, per month.",
            "json",
        ),
        _published(
            TOTAL_DOCUMENT,
            [FLOW_TABLE],
            "sales.bookings_backlog_total: the KPI document with the month value.",
            "json",
        ),
        _published(
            RPO_DOCUMENT,
            [DISCLOSURE_TABLES[0]],
            "The month's RPO disclosure (rpo_disclosure.json) and its note in US GAAP and "
            "IFRS wording (rpo_note_*.md, .txt), read from the published tables.",
            "json",
        ),
    ],
    partitions_def=monthly_partitions,
    backfill_policy=SINGLE_RUN,
)
def publish_kpi_documents(
    context: dg.AssetExecutionContext, warehouse: Warehouse, documents: DocumentFolder
) -> Iterator[dg.MaterializeResult]:
    first, last = months_in_run(context)
    # A warehouse fault is retried; a bug or a refused folder fails at once.
    records = retried_only_if_transient(documents_writer(warehouse, documents, first, last))
    for record in records:
        key = partition_key(parse_month(record["period"]))
        for asset_key, path in zip(
            (CHANGES_DOCUMENT, TOTAL_DOCUMENT), record["files"], strict=True
        ):
            context.add_asset_metadata(
                {"path": dg.MetadataValue.path(str(path))},
                asset_key=asset_key,
                partition_key=key,
            )
        for path in record["rpo_files"]:
            context.add_asset_metadata(
                {path.suffix.lstrip(".") + "_" + path.stem: dg.MetadataValue.path(str(path))},
                asset_key=RPO_DOCUMENT,
                partition_key=key,
            )
    context.log.info(f"Wrote KPI documents for {len(records)} month(s) under {documents.path}")
    for asset_key in (CHANGES_DOCUMENT, TOTAL_DOCUMENT, RPO_DOCUMENT):
        yield dg.MaterializeResult(asset_key=asset_key)
