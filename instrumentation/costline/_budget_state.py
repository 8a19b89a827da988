"""One budget as a source reports it, whichever the source (`costline serve` or PromQL), and period maths."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from costline import attributes as a

PERIOD_DAILY: Final = a.BUDGET_PERIOD_DAILY
PERIOD_MONTHLY: Final = a.BUDGET_PERIOD_MONTHLY
PERIODS: Final = (PERIOD_DAILY, PERIOD_MONTHLY)
ON_STOP_BLOCK: Final = a.BUDGET_ON_STOP_BLOCK
ON_STOP_DOWNGRADE: Final = a.BUDGET_ON_STOP_DOWNGRADE
ON_STOP_ACTIONS: Final = (ON_STOP_BLOCK, ON_STOP_DOWNGRADE)
SCOPE_KEYS: Final = a.METRIC_ATTRIBUTION_KEYS  # the keys a budget can be scoped by, in canonical order

Scope = tuple[tuple[str, str], ...]  # ((key, value), ...) in SCOPE_KEYS order


class SourceError(Exception):
    """The budgets source could not be read, or answered something unusable; the message says which."""


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget with a stop line and its spend in the current period."""

    scope: Scope
    period: str
    spent_usd: Decimal
    limit_usd: Decimal | None
    stop_at: Decimal | None  # percent of the limit
    on_stop: str
    downgrade_to: str | None
    stopped: bool
    resets_at: datetime | None
    resets_in_s: float | None  # resets_at minus the answer's as_of: immune to clock skew between hosts

    @property
    def scope_text(self) -> str:
        """`workflow_id=support;tenant_id=acme`: the `llm.budget.scope` span attribute."""
        return ";".join(f"{key}={value}" for key, value in self.scope)

    @property
    def budget_id(self) -> str:
        return f"{self.scope_text};period={self.period}"


def canonical_scope(values: dict[str, str]) -> Scope:
    return tuple((key, values[key]) for key in SCOPE_KEYS if key in values)


def period_end(period: str, at: datetime) -> datetime:
    """When the UTC calendar period containing `at` ends (the next one starts)."""
    day = datetime(at.year, at.month, at.day, tzinfo=UTC)
    if period == PERIOD_DAILY:
        return day + timedelta(days=1)
    if at.month == 12:
        return datetime(at.year + 1, 1, 1, tzinfo=UTC)
    return datetime(at.year, at.month + 1, 1, tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """RFC 3339 UTC (`2027-01-01T00:00:00Z`, offsets accepted); ValueError otherwise."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return value.astimezone(UTC)
