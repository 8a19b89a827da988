"""The global budget state over several `costline serve` replicas, from the `llm_budget_*` series in PromQL.

Each replica exports its own ledger's share of a budget's period spend (`llm_budget_spent_usd`) and, for a
budget with a stop, its stop line in USD (`llm_budget_stop_usd`, labelled with `on_stop` and `downgrade_to`).
The global state is: stopped <=> sum over replicas of the spend >= the stop line. A label that is absent,
empty or `*` is a key the budget is not scoped by. The period end is computed here (UTC calendar).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from costline import attributes as a
from costline._budget_state import (
    ON_STOP_ACTIONS,
    ON_STOP_BLOCK,
    ON_STOP_DOWNGRADE,
    PERIODS,
    SCOPE_KEYS,
    BudgetState,
    Scope,
    SourceError,
    period_end,
)

_NOT_SCOPED: Final = ("", "*")

_BY: Final = ", ".join((*SCOPE_KEYS, a.LABEL_PERIOD))
PROMQL_QUERIES: Final = (
    f"max by ({_BY}, {a.LABEL_ON_STOP}, {a.LABEL_DOWNGRADE_TO}) ({a.PROM_BUDGET_STOP_USD})",
    f"sum by ({_BY}) ({a.PROM_BUDGET_SPENT_USD})",
    f"max by ({_BY}) ({a.PROM_BUDGET_USD})",
)

Key = tuple[Scope, str]  # (scope, period)


def _vector(answer: Any, url: str, query: str) -> list[tuple[dict[str, str], Decimal]]:
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(answer, dict) or answer.get("status") != "success" or not isinstance(data, dict):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise SourceError(f"{url} did not answer {query!r} with success ({error or 'no data'})")
    if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
        raise SourceError(f"{url} answered {query!r} with no instant vector")
    samples = []
    for item in data["result"]:
        try:
            labels, (_, raw) = item["metric"], item["value"]
            value = Decimal(raw)
            if not isinstance(labels, dict) or not value.is_finite():
                raise ValueError
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise SourceError(f"{url} answered {query!r} with an unusable sample {item!r}") from None
        samples.append(({str(k): str(v) for k, v in labels.items()}, value))
    return samples


def _key(labels: dict[str, str]) -> Key | None:
    period = labels.get(a.LABEL_PERIOD)
    scope = tuple((key, labels[key]) for key in SCOPE_KEYS if labels.get(key, "") not in _NOT_SCOPED)
    if period not in PERIODS or not scope:
        return None
    return scope, period


def _stricter(found: tuple[Decimal, str, str | None], previous: tuple[Decimal, str, str | None]) -> bool:
    """Replicas disagreeing (mid-rollout of a budgets file): block beats downgrade, then the lower line."""
    if (found[1] == ON_STOP_BLOCK) != (previous[1] == ON_STOP_BLOCK):
        return found[1] == ON_STOP_BLOCK
    return found[0] < previous[0]


def _stops(samples: list[tuple[dict[str, str], Decimal]]) -> dict[Key, tuple[Decimal, str, str | None]]:
    """(stop line in USD, action, downgrade model) per budget."""
    stops: dict[Key, tuple[Decimal, str, str | None]] = {}
    for labels, value in samples:
        key, action = _key(labels), labels.get(a.LABEL_ON_STOP)
        if key is None or action not in ON_STOP_ACTIONS:
            continue
        model: str | None = labels.get(a.LABEL_DOWNGRADE_TO, "")
        if action != ON_STOP_DOWNGRADE or model in _NOT_SCOPED:
            model = None
        found = (value, action, model)
        previous = stops.get(key)
        if previous is None or _stricter(found, previous):
            stops[key] = found
    return stops


def _by_key(samples: list[tuple[dict[str, str], Decimal]], *, add: bool) -> dict[Key, Decimal]:
    found: dict[Key, Decimal] = {}
    for labels, value in samples:
        key = _key(labels)
        if key is None:
            continue
        previous = found.get(key)
        if previous is None:
            found[key] = value
        else:
            found[key] = previous + value if add else max(previous, value)
    return found


def states_from_promql(answers: list[Any], as_of: datetime, url: str) -> list[BudgetState]:
    """The budgets with a stop line, from the answers to `PROMQL_QUERIES` (in that order)."""
    stop_samples, spent_samples, limit_samples = (
        _vector(answer, url, query) for answer, query in zip(answers, PROMQL_QUERIES, strict=True)
    )
    spent, limits = _by_key(spent_samples, add=True), _by_key(limit_samples, add=False)
    states = []
    for (scope, period), (stop_usd, action, model) in sorted(_stops(stop_samples).items()):
        limit = limits.get((scope, period))
        total = spent.get((scope, period), Decimal(0))
        resets_at = period_end(period, as_of)
        states.append(
            BudgetState(
                scope=scope,
                period=period,
                spent_usd=total,
                limit_usd=limit,
                stop_at=stop_usd * 100 / limit if limit else None,
                on_stop=action,
                downgrade_to=model,
                stopped=total >= stop_usd,
                resets_at=resets_at,
                resets_in_s=(resets_at - as_of).total_seconds(),
            )
        )
    return states
