"""A budget's state at a moment: spent this period, ratio, linear projection to the period's end, status.

The status is judged on exact Decimals (spent x 100 against limit x percent), never on the rounded ratio:
`ok` < `alert_<N>` (the highest alert threshold below 100 that is crossed) < `over` (>= 100 %) <
`stopped` (>= stop_at %, only for a budget with a stop).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from costline.attributes import BUDGET_STATUS_STOPPED
from costline_processor.budgets.model import Budget
from costline_processor.budgets.periods import Period

STATUS_OK: Final = "ok"
STATUS_OVER: Final = "over"
STATUS_STOPPED: Final = BUDGET_STATUS_STOPPED
ALERT_PREFIX: Final = "alert_"
RATIO_QUANTUM: Final = Decimal("0.000001")  # ratio and projection: six decimals
_CONTEXT: Final = decimal.Context(prec=60)
_MICROSECOND: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget: Budget
    period: Period
    spent: Decimal  # exact: the ledger's calls of this period under the budget's scope
    ratio: Decimal | None  # spent / limit, rounded down to six decimals; None for a zero limit
    projected: Decimal  # spent extrapolated linearly to the period's end, six decimals
    status: str

    @property
    def stopped(self) -> bool:
        return self.status == STATUS_STOPPED


def status_of(budget: Budget, spent: Decimal) -> str:
    limit = budget.limit_usd
    used = spent * 100  # compared with limit x percent: exact
    if budget.stop_at is not None and used >= limit * budget.stop_at:
        return STATUS_STOPPED
    if spent >= limit:
        return STATUS_OVER
    crossed = [percent for percent in budget.alert_at if percent < 100 and used >= limit * percent]
    return f"{ALERT_PREFIX}{max(crossed)}" if crossed else STATUS_OK


def budget_status(budget: Budget, spent: Decimal, period: Period, now: datetime) -> BudgetStatus:
    with decimal.localcontext(_CONTEXT):
        ratio = None
        if budget.limit_usd:
            ratio = (spent / budget.limit_usd).quantize(RATIO_QUANTUM, rounding=decimal.ROUND_DOWN)
        length = (period.resets_at - period.start) // _MICROSECOND
        elapsed = max((now - period.start) // _MICROSECOND, 0)
        projected = spent * length / elapsed if elapsed else spent
        projected = projected.quantize(RATIO_QUANTUM, rounding=decimal.ROUND_HALF_EVEN)
    return BudgetStatus(budget, period, spent, ratio, projected, status_of(budget, spent))
