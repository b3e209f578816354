"""The KPI documents' writer: each month's documents from the published tables, after them.

``bookings_backlog_changes.json`` and ``bookings_backlog_total.json`` from the published
flow (the total with the month's disclosed RPO and its timing), and the RPO disclosure's
document and notes from its tables (``kpi/rpo_documents``).
"""

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from backlog_pipeline.defs.publish_refusals import documents_failure
from backlog_pipeline.defs.resources import DocumentFolder, Warehouse
from backlog_pipeline.kpi.documents import write_documents
from backlog_pipeline.kpi.rpo_documents import (
    measurement,
    published_disclosures,
    write_rpo_documents,
)
from backlog_pipeline.periods import month_label, parse_month
from backlog_pipeline.warehouse.reads import current_versions, read_flow


def documents_writer(
    warehouse: Warehouse, documents: DocumentFolder, first: int, last: int
) -> Callable[[], list[dict]]:
    """Writes the months' documents from the published flow; returns the records written."""

    def write() -> list[dict]:
        labels = {month_label(month) for month in range(first, last + 1)}
        published = read_flow(warehouse.engine)
        records = [r for r in published.to_dict("records") if r["period"] in labels]
        if len(records) != len(labels):
            missing = sorted(labels - {r["period"] for r in records})
            raise dg.Failure(
                description=f"Months not in the warehouse, nothing written: {missing}",
                allow_retries=False,
            )
        with warehouse.engine.connect() as connection:
            versions = current_versions(connection, range(first, last + 1))
        disclosures = published_disclosures(warehouse.engine, sorted(labels))
        for record in records:
            record["version"] = versions[parse_month(record["period"])].version
            disclosure = disclosures.get(record["period"])
            record["rpo"] = measurement(disclosure) if disclosure else None
            try:
                record["files"] = write_documents(Path(documents.path), record)
                record["rpo_files"] = (
                    write_rpo_documents(Path(documents.path), disclosure) if disclosure else []
                )
            except OSError as error:
                raise documents_failure(error, documents, record["period"]) from error
        return records

    return write
