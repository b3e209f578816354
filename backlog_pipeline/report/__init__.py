"""The board pack: a month's published backlog as charts a CFO can open, forward or print.

Plain Python over published figures: it knows nothing of Dagster or of the warehouse. The
caller reads the month's published rows into a :class:`MonthPack` (or every month into a
:class:`TrendPack`) and writes the files with :func:`write_month_pack` /
:func:`write_trend_report`; :func:`bridge_markdown` is what the UI shows beside them.
"""

from backlog_pipeline.report.files import (
    MONTH_PAGE,
    TREND_PAGE,
    month_pack_folder,
    write_month_pack,
    write_trend_report,
)
from backlog_pipeline.report.model import (
    CheckResult,
    ClosingPoint,
    Concentration,
    CustomerShare,
    MonthFlow,
    MonthPack,
    PeriodAmount,
    PlanCoverage,
    Ratio,
    RatioUnit,
    TimingSchedule,
    VersionInfo,
)
from backlog_pipeline.report.trend_model import TrendMonth, TrendPack
from backlog_pipeline.report.ui_preview import bridge_markdown, bridge_preview_png
from backlog_pipeline.report.values import PackError

__all__ = [
    "MONTH_PAGE",
    "TREND_PAGE",
    "CheckResult",
    "ClosingPoint",
    "Concentration",
    "CustomerShare",
    "MonthFlow",
    "MonthPack",
    "PackError",
    "PeriodAmount",
    "PlanCoverage",
    "Ratio",
    "RatioUnit",
    "TimingSchedule",
    "TrendMonth",
    "TrendPack",
    "VersionInfo",
    "bridge_markdown",
    "bridge_preview_png",
    "month_pack_folder",
    "write_month_pack",
    "write_trend_report",
]
