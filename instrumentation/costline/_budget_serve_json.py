"""The answer of `GET /v1/budgets` (BUDGETS_CONTRACT: money as decimal strings, times RFC 3339 UTC).

Validated strictly: an answer with any unusable budget is rejected whole (a `SourceError` naming the field),
because silently dropping one budget could hide a stop. Budgets without a stop line are skipped: the guard
has nothing to do for them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final

from costline import attributes as a
from costline._budget_state import (
    ON_STOP_ACTIONS,
    ON_STOP_DOWNGRADE,
    PERIODS,
    SCOPE_KEYS,
    BudgetState,
    SourceError,
    canonical_scope,
    parse_time,
)

STATUS_STOPPED: Final = a.BUDGET_STATUS_STOPPED


class _Bad(ValueError):
    pass


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    if type(value) is not str or not value:
        raise _Bad(f"{key} must be a non-empty string (got {value!r})")
    return value


def _money(entry: dict[str, Any], key: str, *, optional: bool = False) -> Decimal | None:
    value = entry.get(key)
    if value is None and optional:
        return None
    try:
        if type(value) is not str:
            raise InvalidOperation
        amount = Decimal(value)
    except InvalidOperation:
        raise _Bad(f"{key} must be a decimal string (got {value!r})") from None
    if not amount.is_finite() or amount < 0:
        raise _Bad(f"{key} must be a finite amount >= 0 (got {value!r})")
    return amount


def _percent(entry: dict[str, Any], key: str) -> Decimal | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"{key} must be a number (got {value!r})")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _Bad(f"{key} must be a number (got {value!r})") from None
    if not number.is_finite() or number <= 0:
        raise _Bad(f"{key} must be > 0 (got {value!r})")
    return number


def _scope(entry: dict[str, Any]) -> dict[str, str]:
    scope = entry.get("scope")
    if not isinstance(scope, dict) or not scope:
        raise _Bad(f"scope must be a non-empty object (got {scope!r})")
    for key, value in scope.items():
        if key not in SCOPE_KEYS or type(value) is not str or not value:
            raise _Bad(f"scope has {key!r}: {value!r} (keys are {', '.join(SCOPE_KEYS)}, values strings)")
    return scope


def _state(entry: Any, as_of: float) -> BudgetState | None:
    if not isinstance(entry, dict):
        raise _Bad(f"is not an object (got {entry!r})")
    on_stop = entry.get("on_stop")
    if on_stop is None:
        return None
    if on_stop not in ON_STOP_ACTIONS:
        raise _Bad(f"on_stop must be one of {', '.join(ON_STOP_ACTIONS)} or null (got {on_stop!r})")
    period = _text(entry, "period")
    if period not in PERIODS:
        raise _Bad(f"period must be one of {', '.join(PERIODS)} (got {period!r})")
    # A downgrade naming no model is kept: the guard logs it and lets its calls proceed (never a block).
    model = entry.get("downgrade_to")
    downgrade_to = model if on_stop == ON_STOP_DOWNGRADE and type(model) is str and model else None
    try:
        resets_at = parse_time(_text(entry, "resets_at"))
    except ValueError as exc:
        raise _Bad(f"resets_at: {exc}") from None
    status = _text(entry, "status")
    spent = _money(entry, "spent_usd")
    assert spent is not None
    return BudgetState(
        scope=canonical_scope(_scope(entry)),
        period=period,
        spent_usd=spent,
        limit_usd=_money(entry, "limit_usd", optional=True),
        stop_at=_percent(entry, "stop_at"),
        on_stop=on_stop,
        downgrade_to=downgrade_to,
        stopped=status == STATUS_STOPPED,
        resets_at=resets_at,
        resets_in_s=resets_at.timestamp() - as_of,
    )


def states_from_serve(answer: Any, url: str) -> tuple[list[BudgetState], float]:
    """(budgets with a stop, as_of as a Unix time) from the decoded JSON; SourceError when unusable."""
    if not isinstance(answer, dict) or not isinstance(answer.get("budgets"), list):
        raise SourceError(f"{url} answered JSON without a 'budgets' list")
    try:
        as_of = parse_time(_text(answer, "as_of")).timestamp()
    except ValueError as exc:
        raise SourceError(f"{url} answered an unusable as_of: {exc}") from None
    states = []
    for index, entry in enumerate(answer["budgets"]):
        try:
            state = _state(entry, as_of)
        except _Bad as exc:
            raise SourceError(f"{url} answered an unusable budgets[{index}]: {exc}") from None
        if state is not None:
            states.append(state)
    return states, as_of
