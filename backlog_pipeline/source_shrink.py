"""The shrink check: a source much smaller than the one the last publication was built from.

Every month is computed from the whole history, so an empty source (a header-only
``contracts.csv``, an empty recognition table) or a wrongly filtered one restates every
published month and rewrites every KPI document, and each figure still reconciles. Only a
comparison with what the last publication read can tell: its source marks hold each
source's rows and total amount (``provenance.source_mark``).

Plain Python, no Dagster: ``defs/shrink.py`` runs it as a blocking check on each source.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from backlog_pipeline.money import decimal_to_cents, format_cents

# What the user sets: the share a source may lose, and how to say a shrink is expected.
MAX_SHRINK_SETTING = "BACKLOG_MAX_SOURCE_SHRINK"
EXPECT_SHRINK_SETTING = "BACKLOG_EXPECT_SOURCE_SHRINK"
EXPECT_SHRINK_TAG = "backlog/expect_shrink"
# A tenth: twice the share of rows the quarantine may take (BACKLOG_MAX_QUARANTINE_SHARE),
# so rows set aside within that share never trip this check. The sources are histories
# (contracts signed, changes made, revenue recognized) that grow in normal operation; a
# clean-up of duplicates or test records loses a few rows, not a tenth of them.
MAX_SHRINK = 0.10


@dataclass(frozen=True)
class Baseline:
    """What the last publication read of one source, and which publication that was."""

    rows: int
    total: int | None  # cents; None for marks written before totals were recorded
    period: str
    version: int
    run_id: str

    @classmethod
    def of(cls, mark: dict[str, Any], period: str, version: int, run_id: str) -> Baseline:
        total = mark.get("total")
        return cls(
            int(mark["rows"]),
            None if total is None else decimal_to_cents(Decimal(str(total))),
            period,
            version,
            run_id,
        )

    def describe(self) -> str:
        return f"{self.period} version {self.version} (run {self.run_id[:8]})"


def _lost_share(before: int, now: int) -> Fraction:
    """The share of ``before`` lost, exact; 0 when ``before`` is not positive."""
    if before <= 0 or now >= before:
        return Fraction(0)
    return Fraction(before - now, before)


def shrink_problem(
    source: str, rows: int, total: int, baseline: Baseline, tolerance: float
) -> str | None:
    """Why ``source`` (now ``rows`` rows summing to ``total`` cents) shrank too far, or None.

    Rows and total are both compared: a source can keep its rows and lose its amounts (a
    column exported blank) or the reverse. A tolerance of 1 lets any shrink through.
    """
    allowed = Fraction(str(tolerance))
    lost = {
        "rows": _lost_share(baseline.rows, rows),
        "total": _lost_share(baseline.total or 0, total),
    }
    if max(lost.values()) <= allowed:
        return None
    before = f"{baseline.rows} row(s)" + (
        f" totalling {format_cents(baseline.total)}" if baseline.total is not None else ""
    )
    falls = ", ".join(f"{measure} −{float(share):.1%}" for measure, share in lost.items() if share)
    return (
        f"{source} shrank to {rows} row(s) totalling {format_cents(total)}, from {before} "
        f"when {baseline.describe()} was published ({falls}): more than the "
        f"{float(allowed) * 100:g}% {MAX_SHRINK_SETTING} allows"
    )


def how_to_proceed() -> str:
    return (
        "Nothing was published; the previous publication stands. If the source is right "
        f"(records really deleted), rerun with `backlog-close --expect-shrink`, the run tag "
        f"{EXPECT_SHRINK_TAG}=true (Launchpad or backfill tags), or {EXPECT_SHRINK_SETTING}=true"
    )


def is_true(value: str | None) -> bool:
    """A tag's or setting's text read as a flag, the way settings are (true, 1, yes)."""
    return (value or "").strip().lower() in ("1", "true", "yes")
