"""The words of the comparison: the plain-English paragraph at the top and the driver names, written once for
the terminal, JSON and HTML."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from costline.attributes import UNATTRIBUTED
from costline_processor.report.change_findings import Change
from costline_processor.report.money import usd
from costline_processor.report.variance import Variance, VarianceRow

DRIVERS: Final = (
    ("volume", "volume (requests)"),
    ("usage_per_request", "usage per request (tokens)"),
    ("price_mix", "price and model mix"),
)
NAMED_CONTRIBUTORS: Final = 4  # the paragraph names this many groups, then "the rest"


def signed(value: Decimal) -> str:
    return f"+{usd(value)}" if value > 0 else usd(value)


def percent(value: Decimal | None) -> str:
    return "new" if value is None else f"{value:+.1%}"


def group_name(row: VarianceRow) -> str:
    name = " / ".join(row.key)
    return f"{name} (untagged)" if UNATTRIBUTED in row.key else name


def paragraph(variance: Variance, changes: Sequence[Change]) -> str:
    """ "Spend rose $X (+47.0%), from $A in ... to $B in .... Of the rise, $a (31%) is ... (why). ..."

    `variance` is by workflow_id: the findings that say why are per workflow."""
    before, after, change = variance.before_cost, variance.after_cost, variance.change
    windows = f"from {usd(before)} in {variance.before.label()} to {usd(after)} in {variance.after.label()}"
    if not change:
        return f"Spend was unchanged: {usd(before)} in {variance.before.label()} and in the later window."
    verb, noun = ("rose", "rise") if change > 0 else ("fell", "fall")
    share = f" ({percent(variance.change_share)})" if variance.change_share is not None else ""
    sentences = [f"Spend {verb} {usd(abs(change))}{share}, {windows}."]
    movers = [row for row in variance.rows if (row.change > 0) == (change > 0) and row.change]
    named = movers[:NAMED_CONTRIBUTORS]
    parts = [_contribution(row, change, changes) for row in named]
    rest = sum((row.change for row in movers[NAMED_CONTRIBUTORS:]), Decimal(0))
    if rest:
        parts.append(f"{usd(abs(rest))} ({rest / change:.0%}) the other {len(movers) - len(named)}")
    if parts:
        sentences.append(f"Of the {noun}, {_join(parts)}.")
    against = [row for row in variance.rows if row.change and (row.change > 0) != (change > 0)]
    if against:
        moved = "fell" if change > 0 else "rose"
        listed = _join([f"{group_name(row)} {usd(abs(row.change))}" for row in against[:3]])
        more = f" and {len(against) - 3} more" if len(against) > 3 else ""
        sentences.append(f"Against the trend, {listed}{more} {moved}.")
    drivers = ", ".join(f"{label} {signed(variance.total(name))}" for name, label in DRIVERS)
    sentences.append(f"By driver: {drivers}.")
    return " ".join(sentences)


def _contribution(row: VarianceRow, total: Decimal, changes: Sequence[Change]) -> str:
    reasons = [c.brief for c in changes if c.finding.workflow_id == row.key[0]][:2]
    why = f" ({'; '.join(reasons)})" if reasons else ""
    return f"{usd(abs(row.change))} ({row.change / total:.0%}) is {group_name(row)}{why}"


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
