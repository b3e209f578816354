"""Check results per month: each month a run covers gets its own result of every check.

Dagster 1.13 records an ``AssetCheckResult`` of a range run (a backfill, ``backlog-close
--from --to``) once, without a partition, and marks each month of the run "Skipped". Its
public ``dg.AssetCheckEvaluation`` carries a ``partition``: yielded once per month, each lands
on that month's row of the run's planned check, so the check's partition bar and the asset's
Checks tab show each month's own pass or fail. To count as the result for the month's latest
materialization (the UI clears a result that names none), an evaluation names that
materialization with ``AssetCheckEvaluationTargetMaterializationData``: the one private
Dagster symbol of the project, imported here only; ``test_check_partitions`` trips when
Dagster moves or changes it.

Every check goes through :func:`by_month`: one call that computes the findings once for the
run, then each month's result from that month's findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import dagster as dg

# The private symbol (see above), renamed so no other module is tempted to import it.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as _Target,
)

from backlog_pipeline.defs.check_results import failed_to_evaluate
from backlog_pipeline.defs.partitions import months_in_run
from backlog_pipeline.periods import parse_month, partition_key

T = TypeVar("T")
Context = dg.AssetCheckExecutionContext | dg.AssetExecutionContext
MonthlyResults = Iterator[dg.Output | dg.AssetCheckEvaluation]


def in_month(found: list[dict[str, Any]], month: int, first: int, last: int) -> list:
    """The findings of ``month``: those labelled with it, those of a month outside the run
    on the run's nearest month, and unlabelled ones ("all") on every month."""
    kept = []
    for item in found:
        label = item.get("period")
        try:
            labelled = min(max(parse_month(str(label)), first), last)
        except (TypeError, ValueError):
            labelled = None
        if labelled is None or labelled == month:
            kept.append(item)
    return kept


def by_month(
    context: Context,
    found: Callable[[], T],
    result: Callable[[Any, int], dg.AssetCheckResult],
    select: Callable[[T, int, int, int], Any] = in_month,
    check_name: str | None = None,
    asset_key: str | None = None,
) -> MonthlyResults:
    """One check's result for each month of the run, from findings computed once.

    ``found()`` computes the run's findings; ``select(findings, month, first, last)`` keeps a
    month's; ``result(month_findings, month)`` makes its result. A check that cannot evaluate
    fails every month with the error (a blocking check that emits nothing would not block).
    """
    first, last = months_in_run(context)
    months = range(first, last + 1)
    try:
        findings = found()
        results = {m: result(select(findings, m, first, last), m) for m in months}
    except Exception as error:  # a check that cannot evaluate must fail, not vanish
        context.log.error(f"{check_name or 'check'} could not evaluate: {error!r}")
        results = dict.fromkeys(months, failed_to_evaluate(error))
    yield from evaluations(context, _spec(context, check_name, asset_key), results)


def each_month(
    context: Context, result: dg.AssetCheckResult, check_name: str, asset_key: str
) -> MonthlyResults:
    """A check whose finding is the same for every month (the source as read for the run)."""
    first, last = months_in_run(context)
    results = dict.fromkeys(range(first, last + 1), result)
    yield from evaluations(context, _spec(context, check_name, asset_key), results)


def evaluations(
    context: Context, spec: dg.AssetCheckSpec, results: Mapping[int, dg.AssetCheckResult]
) -> MonthlyResults:
    """The check's output (what blocking waits on), then one evaluation per month."""
    yield dg.Output(None, output_name=_output_name(context, spec))
    if spec.partitions_def is None:  # an unpartitioned check: one result, the worst month's
        worst = next((r for r in results.values() if not r.passed), None)
        results = {max(results): worst or results[max(results)]}
    keys = {month: partition_key(month) for month in results}
    targets = _targets(context.instance, spec.asset_key, keys.values())
    for month, result in results.items():
        key = keys[month] if spec.partitions_def is not None else None
        yield dg.AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=result.passed,
            metadata=result.metadata,
            severity=result.severity,
            description=result.description,
            blocking=spec.blocking,
            target_materialization_data=targets.get(keys[month]),
            partition=key,
        )


def _spec(context: Context, check_name: str | None, asset_key: str | None) -> dg.AssetCheckSpec:
    specs = context.op_execution_context.assets_def.check_specs
    wanted = dg.AssetKey.from_user_string(asset_key) if asset_key else None
    matching = [
        spec
        for spec in specs
        if (check_name is None or spec.name == check_name)
        and (wanted is None or spec.asset_key == wanted)
    ]
    if len(matching) != 1:
        raise ValueError(f"no single check spec {check_name!r} on {asset_key!r} in this step")
    return matching[0]


def _output_name(context: Context, spec: dg.AssetCheckSpec) -> str:
    """The step output Dagster gave the check: its identifier, or a lone check op's output."""
    outputs = [output.name for output in context.op_execution_context.op_def.output_defs]
    name = spec.get_python_identifier()
    return name if name in outputs or len(outputs) != 1 else outputs[0]


def _targets(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, keys: Iterable[str]
) -> dict[str, _Target]:
    """The latest materialization of each month of the checked asset, as Dagster names it."""
    wanted = list(keys)
    found: dict[str, _Target] = {}
    records = list(
        instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=wanted), limit=len(wanted)
        ).records
    )
    for key in wanted:  # a month not in the latest few (a check-only run): its own query
        if key not in {record.partition_key for record in records}:
            records += instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=1
            ).records
    for record in records:  # newest first: the first seen is the month's latest
        if record.partition_key is not None and record.partition_key not in found:
            found[record.partition_key] = _Target(
                storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
            )
    return found
