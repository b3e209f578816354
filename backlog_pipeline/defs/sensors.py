"""The late-data sensor: reruns published months the sources have since changed."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from backlog_pipeline.canonical import parse_contract_changes, parse_contracts, parse_recognition
from backlog_pipeline.defs.resources import CrmSource, ErpSource, Reporting, Warehouse
from backlog_pipeline.late_data import (
    current_marks_digests,
    describe,
    find_late_data,
    flagged_months,
    marks_digest,
)
from backlog_pipeline.periods import month_label, partition_key
from backlog_pipeline.provenance import source_mark
from backlog_pipeline.warehouse import replace_exceptions

LATE_DATA_TAG = "backlog/late_data"
CHECK_NAME = "late_data"


def build_late_data_sensor(
    job: UnresolvedAssetJobDefinition, interval_seconds: int
) -> dg.SensorDefinition:
    @dg.sensor(
        job=job,
        minimum_interval_seconds=interval_seconds,
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
        warehouse: Warehouse,
        reporting: Reporting,
    ) -> dg.SensorResult | dg.SkipReason:
        # Parsed as the source assets parse them (same currency, same time zone).
        contracts = parse_contracts(
            crm.read("contracts", context.log).raw, crm.describe(), reporting.currency,
            reporting.timezone,
        ).rows  # fmt: skip
        changes = parse_contract_changes(
            crm.read("contract_changes", context.log).raw, crm.describe(), reporting.timezone
        ).rows
        recognition = parse_recognition(erp.read(context.log).raw, erp.describe()).rows
        marks = {
            "crm_contracts": source_mark(contracts),
            "crm_contract_changes": source_mark(changes),
            "erp_recognition": source_mark(recognition),
        }
        digest = marks_digest(marks)
        # Cheap ways out: the sources are as last published, or as last found clean, and no
        # locked month is waiting to be cleared of its flag.
        published = current_marks_digests(warehouse.engine)
        if not published:
            return dg.SkipReason("nothing is published yet")
        unchanged = published == {digest} or digest == context.cursor
        if unchanged and not flagged_months(warehouse.engine, CHECK_NAME):
            return dg.SkipReason("the sources have not changed since the last publication")

        late = find_late_data(warehouse.engine, contracts, changes, recognition)
        if late.examined:
            # Replaces earlier flags too: a month unlocked and restated since is no longer listed.
            replace_exceptions(
                warehouse.engine, CHECK_NAME, "WARN", "warehouse/publication_versions",
                late.flags(), "late_data_sensor", (None, late.examined[-1]),
            )  # fmt: skip
        context.log.info(f"Late data: {describe(late)}")
        if not late.changed:
            return dg.SensorResult(skip_reason="no published month changes", cursor=digest)
        requests = [
            dg.RunRequest(
                run_key=f"late-data:{month_label(first)}..{month_label(end)}:{digest[:16]}",
                tags={
                    ASSET_PARTITION_RANGE_START_TAG: partition_key(first),
                    ASSET_PARTITION_RANGE_END_TAG: partition_key(end),
                    LATE_DATA_TAG: "true",
                },
            )
            for first, end in late.ranges()
        ]
        if not requests:
            return dg.SensorResult(skip_reason=describe(late), cursor=digest)
        return dg.SensorResult(run_requests=requests)

    return late_data_sensor
