"""What a board pack shows: the published figures of a month (or of all months), typed.

The pack draws these figures exactly as given and never recomputes one: the warehouse is the
one source of truth, and a report that quietly re-derived a figure could disagree with it.
Construction still refuses what cannot be drawn honestly (a float where money belongs, a
period that is not ``YYYY-MM``, a flow whose bars would not meet the closing bar), naming the
field, so a bad read fails the close instead of printing a wrong picture.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from backlog_pipeline.money import decimal_to_cents
from backlog_pipeline.report.values import (
    PackError,
    ascending,
    currency_code,
    money,
    optional_money,
    period,
    ratio_value,
)


def _set(instance: object, name: str, value: object) -> None:
    object.__setattr__(instance, name, value)


@dataclass(frozen=True)
class MonthFlow:
    """One month's published flow in the reporting currency (``backlog_flow``'s row)."""

    period: str
    opening: Decimal
    new_bookings: Decimal
    converted: Decimal
    lost: Decimal
    increases: Decimal
    decreases: Decimal
    closing: Decimal
    net_change: Decimal
    net_change_pct: Decimal | None
    fx_revaluation: Decimal = Decimal("0.00")

    AMOUNTS = (
        "opening",
        "new_bookings",
        "converted",
        "lost",
        "increases",
        "decreases",
        "fx_revaluation",
        "closing",
        "net_change",
    )

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> MonthFlow:
        """From a ``backlog_flow`` row (its column names are these fields' names).

        A row without ``fx_revaluation`` (a warehouse before issue 15) has none (0.00).
        """
        names = [name for name in cls.__dataclass_fields__ if name in row]
        return cls(**{name: row[name] for name in names})

    def __post_init__(self) -> None:
        period(self.period, "flow period")
        for name in self.AMOUNTS:
            _set(self, name, money(getattr(self, name), f"{self.period} {name}"))
        _set(self, "net_change_pct", ratio_value(self.net_change_pct, "net_change_pct"))
        self._refuse_bars_that_do_not_meet()

    def _refuse_bars_that_do_not_meet(self) -> None:
        """The bridge stacks the movements on the opening bar; they must end at the closing."""
        cents = {name: decimal_to_cents(getattr(self, name)) for name in self.AMOUNTS}
        reached = (
            cents["opening"]
            + cents["new_bookings"]
            - cents["converted"]
            - cents["lost"]
            + cents["increases"]
            - cents["decreases"]
            + cents["fx_revaluation"]
        )
        if reached != cents["closing"]:
            raise PackError(
                f"{self.period}: the published flow does not reconcile (opening and movements "
                f"reach {Decimal(reached) / 100:.2f}, closing is {self.closing}); "
                "no bridge is drawn from figures that disagree"
            )
        if cents["net_change"] != cents["closing"] - cents["opening"]:
            raise PackError(
                f"{self.period}: the published net_change {self.net_change} is not closing "
                f"{self.closing} less opening {self.opening}"
            )

    @property
    def has_fx(self) -> bool:
        return self.fx_revaluation != 0


@dataclass(frozen=True)
class ClosingPoint:
    """A month's closing and, where timing is published, its split (``rpo_disclosure``)."""

    period: str
    closing: Decimal
    within_12_months: Decimal | None = None
    after_12_months: Decimal | None = None
    undated: Decimal | None = None

    def __post_init__(self) -> None:
        period(self.period)
        _set(self, "closing", money(self.closing, f"{self.period} closing"))
        for name in ("within_12_months", "after_12_months", "undated"):
            _set(self, name, optional_money(getattr(self, name), f"{self.period} {name}"))
        if (self.within_12_months is None) != (self.after_12_months is None):
            raise PackError(f"{self.period}: within and after 12 months come together or not")

    @property
    def has_timing(self) -> bool:
        return self.within_12_months is not None


@dataclass(frozen=True)
class PeriodAmount:
    period: str
    amount: Decimal

    def __post_init__(self) -> None:
        period(self.period)
        _set(self, "amount", money(self.amount, f"timing {self.period}"))


@dataclass(frozen=True)
class TimingSchedule:
    """When the month's disclosed backlog becomes revenue: 12 months, then bands."""

    next_months: tuple[PeriodAmount, ...]
    months_13_to_24: Decimal
    months_25_to_36: Decimal
    after_36_months: Decimal
    undated: Decimal
    not_spread: Decimal | None = None  # negative backlog, never spread over months

    def __post_init__(self) -> None:
        _set(self, "next_months", tuple(self.next_months))
        if not 1 <= len(self.next_months) <= 12:
            raise PackError("the timing schedule has 1 to 12 next months")
        for name in ("months_13_to_24", "months_25_to_36", "after_36_months", "undated"):
            _set(self, name, money(getattr(self, name), f"timing {name}"))
        _set(self, "not_spread", optional_money(self.not_spread, "timing not_spread"))


@dataclass(frozen=True)
class PlanCoverage:
    """The next 12 months of the revenue budget against the backlog (published ratios).

    ``within_12_months``: the backlog due within 12 months that current coverage divides,
    when it is published as a figure (None: only the ratio is, and no bar is drawn)."""

    budget_next_12_months: Decimal
    within_12_months: Decimal | None
    closing: Decimal
    coverage: Decimal | None
    current_coverage: Decimal | None

    def __post_init__(self) -> None:
        for name in ("budget_next_12_months", "closing"):
            _set(self, name, money(getattr(self, name), f"coverage {name}"))
        _set(self, "within_12_months", optional_money(self.within_12_months, "coverage within"))
        for name in ("coverage", "current_coverage"):
            _set(self, name, ratio_value(getattr(self, name), name))


@dataclass(frozen=True)
class CustomerShare:
    """A large customer's closing backlog; its share only where one is published."""

    customer_id: str
    closing: Decimal
    share_pct: Decimal | None
    name: str | None = None

    def __post_init__(self) -> None:
        _set(self, "closing", money(self.closing, f"customer {self.customer_id} closing"))
        _set(self, "share_pct", ratio_value(self.share_pct, f"customer {self.customer_id} share"))

    @property
    def label(self) -> str:
        """Name and id: two customers may share a name (the demo has two Quiet Energy)."""
        return f"{self.name} ({self.customer_id})" if self.name else self.customer_id


@dataclass(frozen=True)
class Concentration:
    largest_share_pct: Decimal
    top10_share_pct: Decimal
    top_customers: tuple[CustomerShare, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "top_customers", tuple(self.top_customers))
        for name in ("largest_share_pct", "top10_share_pct"):
            _set(self, name, ratio_value(getattr(self, name), name))


class RatioUnit(enum.Enum):
    PERCENT = "percent"
    MULTIPLE = "multiple"
    MONTHS = "months"


@dataclass(frozen=True)
class Ratio:
    """A published ratio and its previous month's value; a null carries its reason."""

    name: str
    unit: RatioUnit
    value: Decimal | None
    previous: Decimal | None
    reason: str | None = None
    previous_reason: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        _set(self, "value", ratio_value(self.value, self.name))
        _set(self, "previous", ratio_value(self.previous, f"{self.name} previous"))
        if self.value is None and not self.reason:
            raise PackError(f"{self.name} is null without a reason")


@dataclass(frozen=True)
class CheckResult:
    name: str
    severity: str
    passed: bool
    asset: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in ("ERROR", "WARN"):
            raise PackError(f"check {self.name}: severity must be ERROR or WARN")


@dataclass(frozen=True)
class VersionInfo:
    number: int
    run_id: str
    locked: bool = False
    restates: int | None = None  # the version this one replaces

    def __post_init__(self) -> None:
        if self.number < 1 or (self.restates is not None and self.restates >= self.number):
            raise PackError(f"version {self.number} cannot restate {self.restates}")

    @property
    def restated(self) -> bool:
        return self.restates is not None


@dataclass(frozen=True)
class MonthPack:
    """Everything a month's board pack shows; optional parts are left off the page."""

    currency: str
    flow: MonthFlow
    version: VersionInfo
    history: tuple[ClosingPoint, ...] = ()
    timing: TimingSchedule | None = None
    coverage: PlanCoverage | None = None
    concentration: Concentration | None = None
    ratios: tuple[Ratio, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    notes: tuple[str, ...] = ()  # what is left off the page and why

    def __post_init__(self) -> None:
        currency_code(self.currency)
        for name in ("history", "ratios", "checks", "notes"):
            _set(self, name, tuple(getattr(self, name)))
        ascending(self.history, "history")
        if len(self.history) > 24:
            raise PackError("history holds at most the last 24 months")
        if self.history and self.history[-1].period != self.flow.period:
            raise PackError("history ends with the pack's own month")

    @property
    def period(self) -> str:
        return self.flow.period
