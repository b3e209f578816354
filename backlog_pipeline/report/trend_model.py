"""What the trend report shows: every published month's flow and, where published, its
timing split (see :mod:`backlog_pipeline.report.model` for the month's pack)."""

from __future__ import annotations

from dataclasses import dataclass, field

from backlog_pipeline.report.model import ClosingPoint, MonthFlow
from backlog_pipeline.report.values import PackError, ascending, currency_code


@dataclass(frozen=True)
class TrendMonth:
    flow: MonthFlow
    timing: ClosingPoint | None = None

    def __post_init__(self) -> None:
        if self.timing is not None and self.timing.period != self.flow.period:
            raise PackError(f"{self.flow.period}: its timing split is for {self.timing.period}")

    def closing_point(self) -> ClosingPoint:
        return self.timing or ClosingPoint(self.flow.period, self.flow.closing)


@dataclass(frozen=True)
class TrendPack:
    """Every published month, for the report at the output folder's top level."""

    currency: str
    months: tuple[TrendMonth, ...] = field(default=())

    def __post_init__(self) -> None:
        currency_code(self.currency)
        object.__setattr__(self, "months", tuple(self.months))
        if not self.months:
            raise PackError("a trend report needs at least one published month")
        ascending([month.flow for month in self.months], "trend months")
