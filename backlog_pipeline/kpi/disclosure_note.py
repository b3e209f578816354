"""The month's remaining-performance-obligation note, as a controller files it: Markdown or
plain text, in US GAAP (ASC 606-10-50-13 to 50-15) or IFRS 15 (paragraphs 120 to 122) terms.

The note is words around figures already published: it takes them as given (two-decimal
``Decimal``), and only derives each line's share of the total for the wording. The two
frameworks are kept apart on purpose: they cite different paragraphs, and US GAAP has
optional exemptions for variable consideration (ASC 606-10-50-14A) that IFRS 15 does not.
The prose is the project's own; the standards are cited, not quoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal

from tabulate import tabulate

from backlog_pipeline.accounting.ratios import exact_percent
from backlog_pipeline.money import decimal_to_cents
from backlog_pipeline.periods import last_day, month_label, parse_month

FRAMEWORKS = ("us_gaap", "ifrs")
STYLES = ("markdown", "text")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_AMOUNTS = (
    "closing", "excluded", "disclosed", "within_12_months", "months_13_24", "months_25_36",
    "after_36_months", "undated", "over_recognized", "excluded_short",
)  # fmt: skip


@dataclass(frozen=True)
class DisclosureFigures:
    """One month's published figures (amounts two-decimal ``Decimal`` in ``currency``).

    ``period``: ``YYYY-MM``; the amounts are the ``rpo_disclosure`` row and the waterfall's
    bands (``months_13_24 + months_25_36 + after_36_months`` = after 12 months);
    ``excluded_short``: the part of ``excluded`` left out as one year or less;
    ``other_exclusions``: the rest, (reason, amount) as the register gives them;
    ``plan_given``: whether an ERP revenue plan was the schedule where it had a contract.
    """

    period: str
    currency: str
    closing: Decimal
    excluded: Decimal
    disclosed: Decimal
    within_12_months: Decimal
    months_13_24: Decimal
    months_25_36: Decimal
    after_36_months: Decimal
    undated: Decimal
    over_recognized: Decimal
    short_contract_expedient: bool
    duration_from: str
    excluded_short: Decimal
    other_exclusions: tuple[tuple[str, Decimal], ...] = ()
    plan_given: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> DisclosureFigures:
        """From a plain dict (a published row, JSON): amounts as ``Decimal`` or text."""
        given = {field.name: values[field.name] for field in fields(cls) if field.name in values}
        for name in _AMOUNTS:
            given[name] = Decimal(str(given[name]))
        others = given.get("other_exclusions", ())
        given["other_exclusions"] = tuple((str(r), Decimal(str(a))) for r, a in others)
        return cls(**given)


def money(amount: Decimal, currency: str) -> str:
    """``USD 18,000.00``: thousands separators, two decimals, exactly."""
    return f"{currency} {Decimal(amount).quantize(Decimal('0.01')):,.2f}"


def month_name(period: str) -> str:
    """``2024-06`` → ``June 2024``."""
    year, month = period.split("-")
    return f"{_MONTHS[int(month) - 1]} {int(year)}"


def _month_end(period: str) -> str:
    day = last_day(parse_month(period))
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _share(amount: Decimal, total: Decimal) -> str:
    if total == 0:
        return "—"
    return f"{exact_percent(decimal_to_cents(amount), decimal_to_cents(total))}%"


def _timing_table(figures: DisclosureFigures) -> tuple[list[str], list[list[str]]]:
    month = parse_month(figures.period)
    window = f"{month_name(month_label(month + 1))} – {month_name(month_label(month + 12))}"
    lines = [
        (f"Within 12 months ({window})", figures.within_12_months),
        ("13 to 24 months", figures.months_13_24),
        ("25 to 36 months", figures.months_25_36),
        ("After 36 months", figures.after_36_months),
        ("Timing not determinable (no end date, no revenue plan)", figures.undated),
    ]
    if figures.over_recognized != 0:
        lines.append(("Recognized beyond contract value (under review)", figures.over_recognized))
    lines.append(("Total", figures.disclosed))
    rows = [
        [label, money(amount, figures.currency), _share(amount, figures.disclosed)]
        for label, amount in lines
    ]
    return ["Expected to be recognized", "Amount", "Share"], rows


_WORDS = {
    "us_gaap": {
        "title": "Remaining performance obligations",
        "amount": "Remaining performance obligations at {end} amounted to {disclosed} "
        "(ASC 606-10-50-13(a)).",
        "timing": "We expect to recognize {share} of this amount as revenue within the next "
        "12 months, and the rest as the table shows (ASC 606-10-50-13(b)).",
        "expedients": "Practical expedients (ASC 606-10-50-15)",
        "short_on": "We apply the optional exemption in ASC 606-10-50-14(a): obligations under "
        "contracts whose original expected duration is one year or less, measured from {start}, "
        "are not included. They held {amount} at the month end.",
        "short_off": "We do not apply the optional exemption in ASC 606-10-50-14(a): contracts "
        "of one year or less are included.",
        "others_none": "The optional exemptions in ASC 606-10-50-14(b) and 50-14A are not applied.",
        "others_some": "Apart from the amounts listed, the optional exemptions in "
        "ASC 606-10-50-14(b) and 50-14A are not applied.",
        "consideration": "Consideration that is not part of a contract's recorded value (for "
        "example usage-based fees not yet earned) is not included in the amounts above.",
    },
    "ifrs": {
        "title": "Transaction price allocated to the remaining performance obligations",
        "amount": "Performance obligations not yet satisfied, wholly or in part, at {end} carry "
        "{disclosed} of transaction price (IFRS 15.120(a)).",
        "timing": "We expect to recognize {share} of this amount as revenue within the next "
        "12 months, and the rest as the table shows (IFRS 15.120(b)).",
        "expedients": "Practical expedients (IFRS 15.122)",
        "short_on": "As IFRS 15.121(a) permits, obligations under contracts whose original "
        "expected duration is one year or less, measured from {start}, are not included. "
        "They held {amount} at the month end.",
        "short_off": "The practical expedient in IFRS 15.121(a) is not applied: contracts of "
        "one year or less are included.",
        "others_none": "The practical expedient in IFRS 15.121(b) is not applied.",
        "others_some": "Apart from the amounts listed, the practical expedient in "
        "IFRS 15.121(b) is not applied.",
        "consideration": "Consideration that is not part of a contract's recorded value (for "
        "example usage-based fees not yet earned) is not included in the transaction price "
        "disclosed above.",
    },
}
_BASIS = (
    "The amount is the contracted value of signed contracts, with their amendments and less "
    "cancellations, less the revenue recognized against them to date."
)
_EXCLUDED = "It is the bookings backlog of {closing} less {excluded} left out as stated below."
_SCHEDULE = {
    True: "Timing follows the revenue plan in the ERP where a contract has one, and otherwise "
    "spreads a contract's amount evenly over the whole months left in its term.",
    False: "Timing spreads each contract's amount evenly over the whole months left in its term.",
}
_PAST_END = "Amounts of contracts already past their end date are shown within 12 months."
_FROM = {
    "start": "the service start date (the signing date where none is recorded)",
    "signed": "the signing date",
}


def _paragraphs(figures: DisclosureFigures, words: dict[str, str]) -> list[str]:
    end, currency = _month_end(figures.period), figures.currency
    amount = [
        words["amount"].format(end=end, disclosed=money(figures.disclosed, currency)),
        _BASIS,
    ]
    if figures.excluded != 0:
        closing, excluded = money(figures.closing, currency), money(figures.excluded, currency)
        amount.append(_EXCLUDED.format(closing=closing, excluded=excluded))
    timing = words["timing"].format(share=_share(figures.within_12_months, figures.disclosed))
    return [" ".join(amount), f"{timing} {_SCHEDULE[figures.plan_given]} {_PAST_END}"]


def _expedients(figures: DisclosureFigures, words: dict[str, str]) -> tuple[str, list[str], str]:
    """The statement on the one-year expedient, the other exclusions, and the closing words."""
    currency = figures.currency
    if figures.short_contract_expedient:
        start, amount = _FROM[figures.duration_from], money(figures.excluded_short, currency)
        short = words["short_on"].format(start=start, amount=amount)
    else:
        short = words["short_off"]
    others = [f"{reason}: {money(amount, currency)}" for reason, amount in figures.other_exclusions]
    if others:
        short += " Also left out, for the reasons given:"
    last = words["others_some" if others else "others_none"] + " " + words["consideration"]
    return short, others, last


def disclosure_note(
    figures: DisclosureFigures, framework: str = "us_gaap", style: str = "markdown"
) -> str:
    """The month's note in ``framework`` (``FRAMEWORKS``) wording and ``style`` (``STYLES``)."""
    if framework not in FRAMEWORKS or style not in STYLES:
        raise ValueError(f"framework must be one of {FRAMEWORKS} and style one of {STYLES}")
    if figures.duration_from not in _FROM:
        raise ValueError(f"duration_from must be one of {tuple(_FROM)}")
    words = _WORDS[framework]
    title = f"{words['title']} — {month_name(figures.period)}"
    header, rows = _timing_table(figures)
    markdown = style == "markdown"
    table = tabulate(
        rows,
        headers=header,
        tablefmt="pipe" if markdown else "simple",
        colalign=("left", "right", "right"),
        disable_numparse=True,
    )
    short, others, last = _expedients(figures, words)
    heading = f"### {title}" if markdown else f"{title}\n{'=' * len(title)}"
    statement = (
        f"**{words['expedients']}.** {short}" if markdown else f"{words['expedients']}: {short}"
    )
    listed = ["\n".join(f"- {line}" for line in others)] if others else []
    blocks = [heading, *_paragraphs(figures, words), table, statement, *listed, last]
    return "\n\n".join(blocks) + "\n"
