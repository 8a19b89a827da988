"""Over time: cost per business outcome in the earlier and the later window, and the projection to month end
and year end at the growth rate between them.

The growth rate is that of spend per day, from the earlier window's daily rate to the later one's, spread over
the days between the windows' midpoints and compounded: f per day, (f^30.4375 - 1) per month. Projected
spend after the later window is its daily rate carried forward at that growth, added to the spend the ledger
already holds for the month and the year. A projection is rounded to the cent; the flat-pace figure beside it
(the later daily rate, no growth) shows how much of it is the growth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Final

from costline_processor.report.calls import ZERO, ns_of
from costline_processor.report.facts import reading
from costline_processor.report.periods import SECONDS_PER_DAY, Window
from costline_processor.report.variance import Variance

CENT: Final = Decimal("0.01")
AVERAGE_MONTH_DAYS: Final = Decimal("30.4375")
PRECISION: Final = 34


@dataclass(frozen=True, slots=True)
class OutcomeTrend:
    workflow_id: str
    outcome: str
    before_count: int
    before_cost: Decimal  # the workflow's spend in the window
    after_count: int
    after_cost: Decimal

    @property
    def before_per_outcome(self) -> Decimal | None:
        return self.before_cost / self.before_count if self.before_count else None

    @property
    def after_per_outcome(self) -> Decimal | None:
        return self.after_cost / self.after_count if self.after_count else None

    @property
    def change_share(self) -> Decimal | None:
        before, after = self.before_per_outcome, self.after_per_outcome
        return after / before - 1 if before and after is not None else None


@dataclass(frozen=True, slots=True)
class Projection:
    as_of: datetime  # the end of the later window
    growth_per_month: Decimal | None  # None: no earlier spend to measure growth against (flat pace)
    month: str
    month_to_date: Decimal
    month_end: Decimal
    year: int
    year_to_date: Decimal
    year_end: Decimal
    year_end_flat: Decimal


def outcome_trends(ledger_url: str | Path, variance: Variance) -> list[OutcomeTrend]:
    """`variance` is by workflow_id; an outcome counted in either window gets a row."""
    before, after = _outcomes(ledger_url, variance.before), _outcomes(ledger_url, variance.after)
    cost = {row.key[0]: (row.before.cost, row.after.cost) for row in variance.rows}
    return [
        OutcomeTrend(
            workflow,
            outcome,
            before.get((workflow, outcome), 0),
            cost.get(workflow, (ZERO, ZERO))[0],
            after.get((workflow, outcome), 0),
            cost.get(workflow, (ZERO, ZERO))[1],
        )
        for workflow, outcome in sorted({*before, *after})
    ]


def _outcomes(ledger_url: str | Path, window: Window) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    since_ns, until_ns = ns_of(window.since), ns_of(window.until)
    with reading(ledger_url) as ledger:
        for workflow, outcome, count in ledger.iter_outcomes(since_ns=since_ns, until_ns=until_ns):
            counts[(workflow, outcome)] += count
    return counts


def _spent(ledger_url: str | Path, since: datetime, until: datetime) -> Decimal:
    """The priced spend of the calls placed in [since, until) (an unpriced call's cost is unknown: 0)."""
    with reading(ledger_url) as ledger:
        return ledger.totals(since_ns=ns_of(since), until_ns=ns_of(until)).cost_total


def _days(delta: timedelta) -> Decimal:
    return Decimal(delta // timedelta(microseconds=1)) / (SECONDS_PER_DAY * 1_000_000)


def projection(ledger_url: str | Path, variance: Variance) -> Projection:
    earlier, later = variance.before, variance.after
    rate = variance.after_cost / later.days
    as_of = later.until
    last = as_of - timedelta(microseconds=1)
    month_start = datetime(last.year, last.month, 1, tzinfo=UTC)
    next_month = datetime(last.year + last.month // 12, last.month % 12 + 1, 1, tzinfo=UTC)
    year_start, next_year = datetime(last.year, 1, 1, tzinfo=UTC), datetime(last.year + 1, 1, 1, tzinfo=UTC)
    with localcontext() as context:
        context.prec = PRECISION
        daily_growth = _daily_growth(variance, earlier, later)
        ahead = _ahead(rate, daily_growth, later.days / 2)
        month_to_date, year_to_date = (
            _spent(ledger_url, month_start, as_of),
            _spent(ledger_url, year_start, as_of),
        )
        month_end = month_to_date + ahead(_days(next_month - as_of))
        year_end = year_to_date + ahead(_days(next_year - as_of))
        year_flat = year_to_date + rate * _days(next_year - as_of)
        growth = None if daily_growth is None else daily_growth**AVERAGE_MONTH_DAYS - 1
    return Projection(
        as_of,
        growth,
        month_start.strftime("%Y-%m"),
        month_to_date,
        month_end.quantize(CENT, ROUND_HALF_UP),
        last.year,
        year_to_date,
        year_end.quantize(CENT, ROUND_HALF_UP),
        year_flat.quantize(CENT, ROUND_HALF_UP),
    )


def _daily_growth(variance: Variance, earlier: Window, later: Window) -> Decimal | None:
    if not variance.before_cost or not variance.after_cost:
        return None
    midpoints = (later.since - earlier.since) + (
        (later.until - later.since) - (earlier.until - earlier.since)
    ) / 2
    gap = _days(midpoints)
    ratio = (variance.after_cost / later.days) / (variance.before_cost / earlier.days)
    return ratio ** (1 / gap)


def _ahead(
    rate: Decimal, daily_growth: Decimal | None, since_midpoint: Decimal
) -> Callable[[Decimal], Decimal]:
    """Spend over the `days` after the later window: its daily rate, growing from its midpoint on."""

    def spend(days: Decimal) -> Decimal:
        if days <= 0:
            return ZERO
        if daily_growth is None or daily_growth == 1:
            return rate * days
        return rate * daily_growth**since_midpoint * (daily_growth**days - 1) / daily_growth.ln()

    return spend
