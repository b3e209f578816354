"""Why a publication is refused or failed, as the Dagster failures the publishers raise.

Checked again right before writing, so a run that leaves the checks out (a partial
selection) still cannot publish figures that do not reconcile or do not fit NUMERIC(18,2);
and each failure says what became of the warehouse and the documents, and whether a retry
may help (``faults``).
"""

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from backlog_pipeline.accounting import published_range
from backlog_pipeline.accounting.reconcile import (
    cancellation_line_problems,
    contract_sum_discrepancies,
    identity_discrepancies,
    revaluation_line_problems,
)
from backlog_pipeline.defs.resources import DocumentFolder, Warehouse
from backlog_pipeline.faults import describe, is_transient
from backlog_pipeline.periods import month_label
from backlog_pipeline.warehouse.locks import PublicationError


def refuse_unpublishable(flow: pd.DataFrame, contract_rows: pd.DataFrame) -> None:
    """Figures that do not reconcile, or do not fit NUMERIC(18,2), are never written."""
    problems = (
        cancellation_line_problems(flow)
        + revaluation_line_problems(flow)
        + identity_discrepancies(flow)
        + contract_sum_discrepancies(flow, contract_rows)
    )
    if problems:
        raise dg.Failure(
            description=(
                f"Refusing to publish: {len(problems)} figure(s) do not reconcile; "
                f"first: {problems[0]}. The previous publication is unchanged."
            ),
            allow_retries=False,
        )
    too_large = published_range.out_of_range_figures(flow, contract_rows)
    if too_large:
        raise dg.Failure(
            description=(
                f"Refusing to publish: {published_range.describe(too_large[0])}"
                + (f" (and {len(too_large) - 1} more)" if len(too_large) > 1 else "")
                + ". Nothing was written; the previous publication is unchanged."
            ),
            allow_retries=False,
        )


def publication_failure(
    error: Exception, warehouse: Warehouse, first: int, last: int
) -> dg.Failure:
    """A publication error as a Dagster failure that says what happened to the warehouse."""
    if isinstance(error, PublicationError):
        return dg.Failure(description=str(error), allow_retries=False)
    if isinstance(error, sa.exc.IntegrityError):
        return dg.Failure(
            description=(
                f"Another run published {month_label(first)}..{month_label(last)} at "
                "the same time; this run wrote nothing. A retry converges on the same "
                "figures."
            )
        )
    # A dropped connection is retried; a read-only or full warehouse is not (faults.py).
    return dg.Failure(
        description=(
            f"The warehouse {warehouse.describe()} failed during publication "
            f"({describe(error)}); the transaction was rolled back and nothing was written."
        ),
        allow_retries=is_transient(error),
    )


def documents_failure(error: OSError, documents: DocumentFolder, period: str) -> dg.Failure:
    """A folder the documents cannot be written to: the tables are published already."""
    where = error.filename or documents.path
    return dg.Failure(
        description=(
            f"The KPI documents of {period} could not be written to {where} "
            f"({error.strerror or error}). The warehouse tables ARE published; once the folder "
            "is writable, rerun the same months: the tables are left as they are and the "
            "documents are written."
        ),
        allow_retries=False,
    )
