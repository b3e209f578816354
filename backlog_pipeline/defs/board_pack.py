"""The board pack as an asset: each month's pages and charts, and the trend report, written
from the published tables after every close.

It reads the published figures back from the warehouse (never the run's own frames, so the
pack shows exactly what was published) and the checks this run evaluated, writes
``<output>/<YYYY-MM>/board_pack.html`` with a PNG per chart for each month of the run, then
refreshes ``<output>/backlog_trend.html`` once: a range close stays one run. Each month's
materialization links to its files and shows its bridge (``MetadataValue.md``).
"""

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from backlog_pipeline.defs.disclosure_publish import DISCLOSURE_TABLES
from backlog_pipeline.defs.partitions import SINGLE_RUN, monthly_partitions, months_in_run
from backlog_pipeline.defs.policies import (
    PUBLISH_POOL,
    retried_only_if_transient,
    transient_retry_policy,
)
from backlog_pipeline.defs.publish import FLOW_TABLE, VERSIONS_TABLE
from backlog_pipeline.defs.resources import DocumentFolder, Warehouse
from backlog_pipeline.defs.sources import OWNERS
from backlog_pipeline.periods import month_label, partition_key
from backlog_pipeline.report import (
    CheckResult,
    bridge_markdown,
    write_month_pack,
    write_trend_report,
)
from backlog_pipeline.report.published import month_pack, trend_pack
from backlog_pipeline.warehouse.board_pack_reads import Published, read_published

BOARD_PACK = dg.AssetKey(["report", "board_pack"])


@dg.asset(
    key=BOARD_PACK,
    deps=[FLOW_TABLE, VERSIONS_TABLE, *DISCLOSURE_TABLES],
    partitions_def=monthly_partitions,
    backfill_policy=SINGLE_RUN,
    pool=PUBLISH_POOL,
    retry_policy=transient_retry_policy,
    group_name="report",
    kinds={"html"},
    owners=OWNERS,
    description=(
        "The board pack: <output>/<YYYY-MM>/board_pack.html (bridge, 24-month trend, timing, "
        "top customers, ratios, checks and version) with a PNG per chart, and the trend "
        "report <output>/backlog_trend.html across every published month. Drawn with "
        "matplotlib from the published tables, nothing recomputed."
    ),
)
def board_pack(
    context: dg.AssetExecutionContext, warehouse: Warehouse, documents: DocumentFolder
) -> dg.MaterializeResult:
    first, last = months_in_run(context)
    months = range(first, last + 1)
    published = retried_only_if_transient(lambda: _read(warehouse, months))
    evaluations = run_checks(context)
    output = Path(documents.path)
    for month in months:
        checks = month_checks(evaluations, partition_key(month))
        pack = month_pack(published, month_label(month), checks)
        written = _write(lambda pack=pack: write_month_pack(pack, output), output)
        context.add_asset_metadata(
            {
                "board_pack": dg.MetadataValue.path(str(written[0])),
                "charts": dg.MetadataValue.json([str(path) for path in written[1:]]),
                "version": dg.MetadataValue.int(pack.version.number),
                "restates": dg.MetadataValue.int(pack.version.restates or 0),
                "locked": dg.MetadataValue.bool(pack.version.locked),
                "publishing_run": dg.MetadataValue.text(pack.version.run_id),
                "bridge": dg.MetadataValue.md(bridge_markdown(pack, png=written[1].read_bytes())),
            },
            partition_key=partition_key(month),
        )
    trend = _write(lambda: write_trend_report(trend_pack(published), output), output)
    context.log.info(
        f"Board pack of {len(months)} month(s) under {output}; trend report {trend[0]} "
        f"({len(published.flow)} published month(s))"
    )
    return dg.MaterializeResult(
        metadata={
            "trend_report": dg.MetadataValue.path(str(trend[0])),
            "published_months": dg.MetadataValue.int(len(published.flow)),
        }
    )


def _read(warehouse: Warehouse, months: range) -> Published:
    return read_published(warehouse.engine, months)


def _write(write: Callable[[], list[Path]], output: Path) -> list[Path]:
    """``write()``; a folder that cannot be written fails at once, naming it."""
    try:
        return write()
    except OSError as error:
        where = error.filename2 or error.filename or output  # a rename names its target second
        raise dg.Failure(
            description=(
                f"The board pack could not be written to {where} "
                f"({error.strerror or error}). The warehouse tables ARE published; once the "
                "folder is writable, rerun the same months."
            ),
            allow_retries=False,
        ) from error


def run_checks(context: dg.AssetExecutionContext) -> list[dg.AssetCheckEvaluation]:
    """The check evaluations this run recorded before the pack, in order."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    return [record.event_log_entry.dagster_event.asset_check_evaluation_data for record in records]


def month_checks(evaluations: list[dg.AssetCheckEvaluation], key: str) -> tuple[CheckResult, ...]:
    """Each check's result for the month: its evaluation for that partition (or one without
    a partition, which holds for every month), the last if it ran more than once."""
    latest = {}
    for evaluation in evaluations:
        if evaluation.partition in (None, key):
            latest[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation
    return tuple(
        CheckResult(name, evaluation.severity.value, evaluation.passed, asset)
        for (asset, name), evaluation in sorted(latest.items())
    )
