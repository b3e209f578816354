"""What ``backlog-close`` reads back from a run's events to tell the user what happened.

Each failure says its cause, not Dagster's wrapper around it (``Exceeded max_retries of 2``
becomes the error the last attempt met); a resource that could not start (a warehouse that
cannot be opened) is a failure like a step's; the rows a source set aside are counted with
their amount and the query that lists them; and a run that published the warehouse before
failing says so.
"""

from __future__ import annotations

import re

import dagster as dg

# Names only: importing the definitions here would read the settings before the CLI can
# report a bad one.
PUBLISH_TABLES_STEP = "publish_warehouse_tables"
BOARD_PACK_STEP = "report__board_pack"
SOURCE_ASSETS = ("crm_contracts", "crm_contract_changes", "erp_recognition")
_RUN_ERRORS = ("RESOURCE_INIT_FAILURE", "PIPELINE_FAILURE", "RUN_FAILURE")
# A step stopped by one of its own blocking checks (the source steps' source_not_shrunk).
_CHECK_FAILED = "DagsterAssetCheckFailedError"
_MAX_RETRIES = re.compile(r"Exceeded max_retries of (\d+)")


def error_text(error: object) -> str:
    """A Dagster error (``SerializableErrorInfo``) as one line that names its cause."""
    message = " ".join(
        line.strip()
        for line in str(getattr(error, "message", error)).strip().splitlines()
        if line.strip() and not line.strip().startswith("(Background on this error")
    )
    retries = _MAX_RETRIES.match(message)
    cause = getattr(error, "cause", None)
    if retries and cause is not None:
        attempts = int(retries.group(1)) + 1
        return f"gave up after {attempts} attempts; the last one failed with {error_text(cause)}"
    name = getattr(error, "cls_name", None) or ""
    prefix = re.match(rf"^[\w.]*\b{re.escape(name)}: ", message) if name else None
    if prefix:
        message = message[prefix.end() :]
        return message if name == "Failure" else f"{name}: {message}"
    return message


def failures(result: dg.JobExecutionResult) -> list[str]:
    """Failed steps and resources with their causes, then the checks that failed."""
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            if getattr(error, "cls_name", None) == _CHECK_FAILED:
                continue  # the failed check's own line below says why
            messages.append(f"{event.step_key}: {error_text(error) if error else 'failed'}")
        elif event.event_type_value in _RUN_ERRORS and not messages:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                messages.append(error_text(error))
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                summary = evaluation.metadata.get("summary") or evaluation.metadata.get("error")
                text = getattr(summary, "value", summary)
                severity = getattr(evaluation.severity, "value", "ERROR")
                messages.append(f"check {evaluation.check_name} failed ({severity}): {text}")
    return messages


def quarantined(result: dg.JobExecutionResult) -> list[str]:
    """Per source: the rows set aside, their amount, and the query that lists them."""
    seen: dict[str, str] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        asset = event.asset_key.to_user_string() if event.asset_key else ""
        metadata = event.materialization.metadata
        if asset not in SOURCE_ASSETS or asset in seen or "quarantined_rows" not in metadata:
            continue
        rows = metadata["quarantined_rows"].value
        if not rows:
            seen[asset] = ""
            continue
        unread = metadata["quarantined_without_amount"].value
        seen[asset] = (
            f"{asset}: {rows} row(s) set aside, holding {metadata['quarantined_amount'].value}"
            + (f" ({unread} without a readable amount)" if unread else "")
            + f"; {metadata['quarantine_query'].value}"
        )
    return [line for line in seen.values() if line]


def warehouse_published(result: dg.JobExecutionResult) -> bool:
    """Whether the run got as far as writing the warehouse tables."""
    return any(
        event.event_type_value == "STEP_SUCCESS" and event.step_key == PUBLISH_TABLES_STEP
        for event in result.all_events
    )


def failed_steps(result: dg.JobExecutionResult) -> set[str]:
    """The steps that failed (their last attempt)."""
    return {event.step_key for event in result.all_events if event.is_step_failure}
