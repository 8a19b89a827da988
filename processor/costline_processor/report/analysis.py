"""Turns spend facts into the report finance reads: totals and shares, the unattributed line, the month-end
projection, anomalies, cost per outcome and budget use. Pure: no I/O, exact Decimal arithmetic."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from costline.attributes import UNATTRIBUTED
from costline_processor.report.facts import GroupKey, ReportFacts, month_start

ZERO = Decimal(0)
BASELINE_DAYS = 7
BUDGET_NEAR_SHARE = Decimal("0.8")  # a projection at this share of its budget is flagged before it breaks it


@dataclass(frozen=True, slots=True)
class ReportRow:
    key: GroupKey
    cost: Decimal  # of the group's priced calls
    share: Decimal  # of the window's total, 0..1
    requests: int
    top_model: str
    unpriced: int | None = None  # calls that could not be priced; None: the source cannot tell per group
    priced: bool = True  # False when none of the group's calls was priced: its cost is unknown, not zero

    @property
    def known_cost(self) -> Decimal | None:
        return self.cost if self.priced else None

    @property
    def cost_per_request(self) -> Decimal | None:
        """Per priced request: unpriced calls have no cost to spread."""
        priced_requests = self.requests - (self.unpriced or 0)
        return self.cost / priced_requests if self.priced and priced_requests > 0 else None


@dataclass(frozen=True, slots=True)
class Anomaly:
    workflow_id: str
    day: date
    cost: Decimal
    baseline: Decimal  # average daily cost of the previous seven days
    ratio: Decimal


@dataclass(frozen=True, slots=True)
class OutcomeCost:
    workflow_id: str
    outcome: str
    count: int
    workflow_cost: Decimal

    @property
    def cost_per_outcome(self) -> Decimal:
        return self.workflow_cost / self.count if self.count else ZERO


@dataclass(frozen=True, slots=True)
class BudgetUse:
    workflow_id: str
    budget: Decimal
    month_to_date: Decimal
    projected: Decimal

    @property
    def used_share(self) -> Decimal:
        return self.month_to_date / self.budget if self.budget else ZERO

    @property
    def projected_share(self) -> Decimal:
        return self.projected / self.budget if self.budget else ZERO

    @property
    def status(self) -> str:
        """Judged by the projection: a budget 6 % spent on the 2nd of the month can already be on course to
        break; the spent share alone would call it fine."""
        if self.used_share >= 1:
            return "over budget"
        if self.projected_share > 1:
            return "projected over budget"
        if self.projected_share >= BUDGET_NEAR_SHARE:
            return "projected near budget"
        return "on track"


@dataclass(frozen=True, slots=True)
class Report:
    by: tuple[str, ...]
    since: datetime
    until: datetime
    rows: tuple[ReportRow, ...]  # most expensive first
    total_cost: Decimal
    total_requests: int
    unattributed_cost: Decimal
    unpriced_requests: int
    month: str  # the calendar month the projection is for, e.g. "2026-11"
    month_to_date: Decimal  # from the month's 1st to `until`, whatever `since` is
    projected_month_end: Decimal
    anomalies: tuple[Anomaly, ...]
    outcome_costs: tuple[OutcomeCost, ...]
    budgets: tuple[BudgetUse, ...]

    @property
    def unattributed_share(self) -> Decimal:
        return self.unattributed_cost / self.total_cost if self.total_cost else ZERO

    @property
    def first_day(self) -> date:
        return self.since.astimezone(UTC).date()  # days are UTC days, as in the daily costs

    @property
    def last_day(self) -> date:
        """The last day the window touches (`until` itself is excluded)."""
        return (self.until - timedelta(microseconds=1)).astimezone(UTC).date()


def build_report(
    facts: ReportFacts,
    *,
    budgets: Mapping[str, Decimal] | None = None,
    anomaly_ratio: Decimal = Decimal("1.5"),
) -> Report:
    rows = sorted(
        (_row(facts, key) for key in {**facts.requests, **facts.cost}), key=lambda r: (-r.cost, r.key)
    )
    workflow_cost = facts.workflow_cost()
    # The month of the window's last day, from its 1st to the window's end, whatever the window's start.
    start = month_start(facts.until)
    month_to_date = facts.month_to_date
    month_total = sum(month_to_date.values(), ZERO)
    return Report(
        by=facts.by,
        since=facts.since,
        until=facts.until,
        rows=tuple(rows),
        total_cost=facts.total_cost,
        total_requests=sum(facts.requests.values()),
        unattributed_cost=workflow_cost.get(UNATTRIBUTED, ZERO),
        unpriced_requests=facts.unpriced_requests,
        month=start.strftime("%Y-%m"),
        month_to_date=month_total,
        projected_month_end=_project(month_total, start, facts.until),
        anomalies=tuple(find_anomalies(facts.daily_cost, anomaly_ratio)),
        outcome_costs=tuple(_outcome_costs(facts, workflow_cost)),
        budgets=tuple(_budget_use(budgets or {}, month_to_date, start, facts.until)),
    )


def _row(facts: ReportFacts, key: GroupKey) -> ReportRow:
    total = facts.total_cost
    cost = facts.cost.get(key, ZERO)
    return ReportRow(
        key,
        cost,
        cost / total if total else ZERO,
        facts.requests.get(key, 0),
        _top(facts, key),
        unpriced=None if facts.unpriced is None else facts.unpriced.get(key, 0),
        priced=key in facts.cost,
    )


def _top(facts: ReportFacts, key: GroupKey) -> str:
    models = facts.model_cost.get(key, {})
    return max(models.items(), key=lambda item: (item[1], item[0]))[0] if models else ""


def _project(month_to_date: Decimal, start: datetime, until: datetime) -> Decimal:
    """Linear month-end projection from the month's elapsed fraction (`start`: the month's first moment)."""
    days_in_month = calendar.monthrange(start.year, start.month)[1]
    elapsed = Decimal((until - start).total_seconds()) / Decimal(86400)
    if elapsed <= 0:
        return month_to_date
    return (month_to_date * Decimal(days_in_month) / elapsed).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)


def find_anomalies(daily_cost: Mapping[str, Mapping[date, Decimal]], ratio: Decimal) -> list[Anomaly]:
    """Days on which a workflow spent at least `ratio` times its average of the seven days before."""
    found = []
    for workflow, days in sorted(daily_cost.items()):
        if not days:
            continue
        first = min(days)
        for day in sorted(days):
            if day - first < timedelta(days=BASELINE_DAYS):
                continue  # not enough history for a baseline
            previous = (days.get(day - timedelta(days=n), ZERO) for n in range(1, BASELINE_DAYS + 1))
            baseline = sum(previous, ZERO) / BASELINE_DAYS
            if baseline > 0 and days[day] >= baseline * ratio:
                found.append(Anomaly(workflow, day, days[day], baseline, days[day] / baseline))
    return found


def _outcome_costs(facts: ReportFacts, workflow_cost: Mapping[str, Decimal]) -> list[OutcomeCost]:
    return [
        OutcomeCost(workflow, outcome, count, workflow_cost.get(workflow, ZERO))
        for workflow, outcomes in sorted(facts.outcomes.items())
        for outcome, count in sorted(outcomes.items())
    ]


def _budget_use(
    budgets: Mapping[str, Decimal],
    month_to_date: Mapping[str, Decimal],
    start: datetime,
    until: datetime,
) -> list[BudgetUse]:
    return [
        BudgetUse(
            workflow,
            budget,
            month_to_date.get(workflow, ZERO),
            _project(month_to_date.get(workflow, ZERO), start, until),
        )
        for workflow, budget in sorted(budgets.items())
    ]
