"""`costline.BudgetExceeded`: what an LLM call raises when a budget with `on_stop: block` stopped it.

Raised by the instrumented SDK method itself, before any byte of the request leaves the process, and only
when a budget says block (or when `COSTLINE_BUDGETS_FAIL=closed` and the budgets source cannot be read).
Stdlib only: `import costline` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Final

REASON_STOPPED: Final = "stopped"  # the budget's spend reached its stop line
REASON_UNAVAILABLE: Final = "source_unavailable"  # fail closed: the spend cannot be known

_SCOPE_WORDS: Final = {"workflow_id": "workflow", "feature_id": "feature", "tenant_id": "tenant"}
_CENT: Final = Decimal("0.01")


class BudgetExceeded(Exception):
    """An LLM call was not sent because of a budget.

    `scope` is the budget's scope (`{"workflow_id": "customer_support"}`), empty when no budget is known
    (fail closed before the first read); `spent_usd`, `limit_usd`, `percent` and `resets_at` are None when
    the source did not say. `reason` is `"stopped"` or `"source_unavailable"` (fail closed).
    """

    def __init__(
        self,
        message: str,
        *,
        budget_id: str = "",
        scope: Mapping[str, str] | None = None,
        period: str | None = None,
        spent_usd: Decimal | None = None,
        limit_usd: Decimal | None = None,
        resets_at: datetime | None = None,
        reason: str = REASON_STOPPED,
    ) -> None:
        super().__init__(message)
        self.budget_id = budget_id
        self.scope: Mapping[str, str] = MappingProxyType(dict(scope or {}))
        self.period = period
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.resets_at = resets_at
        self.reason = reason

    @property
    def percent(self) -> int | None:
        """Spent as a whole percentage of the limit (121 for 121.01 %), None without both numbers."""
        return percent_of(self.spent_usd, self.limit_usd)

    def __reduce__(self) -> tuple[object, ...]:  # picklable (multiprocessing, task queues)
        state = {"budget_id": self.budget_id, "scope": dict(self.scope), "period": self.period,
                 "spent_usd": self.spent_usd, "limit_usd": self.limit_usd, "resets_at": self.resets_at,
                 "reason": self.reason}  # fmt: skip
        return _rebuild, (str(self), state)


def _rebuild(message: str, state: dict[str, Any]) -> BudgetExceeded:
    return BudgetExceeded(message, **state)


def percent_of(spent: Decimal | None, limit: Decimal | None) -> int | None:
    if spent is None or limit is None or limit <= 0:
        return None
    return int((spent * 100 / limit).quantize(Decimal(1), ROUND_HALF_UP))


def usd(amount: Decimal) -> str:
    """`$1,452.10`: to the cent, half up."""
    return f"${amount.quantize(_CENT, ROUND_HALF_UP):,}"


def scope_words(scope: Mapping[str, str]) -> str:
    """`workflow 'support', tenant 'acme'`."""
    return ", ".join(f"{_SCOPE_WORDS.get(key, key)} '{value}'" for key, value in scope.items())


def minute(at: datetime) -> str:
    """`2027-01-01T00:00Z` (UTC)."""
    return at.strftime("%Y-%m-%dT%H:%MZ")


__all__ = ["REASON_STOPPED", "REASON_UNAVAILABLE", "BudgetExceeded", "percent_of"]
