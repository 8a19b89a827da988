"""A budget: a scope of calls, a UTC calendar period, a limit in USD, alert thresholds and an optional stop.

A call falls under a budget when its attribution has every scope key with the budget's value (a missing
key is `unattributed`, as on the metrics). A budget is identified by its scope and period, written as its
`id`: `workflow_id=support;tenant_id=acme;period=daily` (scope keys in `SCOPE_KEYS` order), the value the
app writes on a span as `llm.budget.scope`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from costline.attributes import (
    BUDGET_ON_STOP_BLOCK,
    BUDGET_ON_STOP_DOWNGRADE,
    METRIC_ATTRIBUTION_KEYS,
    WORKFLOW_ID,
)
from costline_processor import metric_names as names
from costline_processor.ledger.rows import MONEY_CONTEXT

SCOPE_KEYS: Final = METRIC_ATTRIBUTION_KEYS  # workflow_id, feature_id, tenant_id
PERIODS: Final = (names.PERIOD_DAILY, names.PERIOD_MONTHLY)
ON_STOP_BLOCK: Final = BUDGET_ON_STOP_BLOCK
ON_STOP_DOWNGRADE: Final = BUDGET_ON_STOP_DOWNGRADE
ON_STOP: Final = (ON_STOP_BLOCK, ON_STOP_DOWNGRADE)
DEFAULT_ALERT_AT: Final = (50, 80, 100)
# The ledger rows a period's spend is summed from must outlive it: the longest month, plus the day a call's
# start time may run ahead of its arrival (retention purges by age).
RETENTION_DAYS_NEEDED: Final = {names.PERIOD_DAILY: 2, names.PERIOD_MONTHLY: 32}

Scope = tuple[tuple[str, str], ...]  # (key, value) pairs in SCOPE_KEYS order


class BudgetsConfigError(ValueError):
    """The budgets file is invalid; `problems` lists every problem, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid budgets file {source}:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True, slots=True)
class Budget:
    """One budget of the budgets file; `line` is where it starts (error messages)."""

    scope: Scope
    period: str
    limit_usd: Decimal
    alert_at: tuple[int, ...] = DEFAULT_ALERT_AT
    stop_at: int | None = None
    on_stop: str | None = None
    downgrade_to: str | None = None
    line: int = 0

    @property
    def id(self) -> str:
        return budget_id(self.scope, self.period)

    @property
    def is_monthly_workflow(self) -> bool:
        """A monthly budget of one workflow_id: the old form, what `costline report --budgets` shows."""
        return (
            self.period == names.PERIOD_MONTHLY and len(self.scope) == 1 and self.scope[0][0] == WORKFLOW_ID
        )

    @property
    def stop_usd(self) -> Decimal | None:
        """The spend at which the budget stops: limit x stop_at / 100 (exact), None without a stop."""
        if self.stop_at is None:
            return None
        return MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(self.limit_usd, self.stop_at), 100)


def budget_id(scope: Scope, period: str) -> str:
    return joined_id(";".join(f"{key}={value}" for key, value in scope), period)


def joined_id(scope_text: str, period: str) -> str:
    """The id from a scope's text (`workflow_id=support;tenant_id=acme`) and a period, as on a span."""
    return f"{scope_text};{names.LABEL_PERIOD}={period}"


@dataclass(frozen=True, slots=True)
class Budgets:
    """Every budget of the budgets file, in file order."""

    items: tuple[Budget, ...] = field(default_factory=tuple)

    @property
    def monthly(self) -> Mapping[str, Decimal]:
        """The monthly budgets whose scope is one workflow_id: workflow_id -> limit (the file's old form)."""
        return {budget.scope[0][1]: budget.limit_usd for budget in self.items if budget.is_monthly_workflow}

    def by_id(self) -> dict[str, Budget]:
        return {budget.id: budget for budget in self.items}

    def retention_problem(self, retention_days: int) -> str | None:
        """Why `retention_days` is too short for these budgets' periods, or None."""
        periods = {budget.period for budget in self.items}
        period = max(periods, key=RETENTION_DAYS_NEEDED.__getitem__, default=None)
        if period is None or retention_days >= RETENTION_DAYS_NEEDED[period]:
            return None
        return (
            f"retention_days is {retention_days}: the ledger would purge calls of the current period that"
            f" the {period} budgets sum; set retention_days to at least {RETENTION_DAYS_NEEDED[period]}"
        )
