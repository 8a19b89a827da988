"""What a budget verdict does to one call: block it, downgrade its model, or mark its span (dry run).

Used by `costline._wrapper` for every surface. A downgrade changes only the `model` argument (same SDK,
same client, same response type) and only for chat-like operations; a provider answering the downgraded
request with 404 (a model it does not serve) makes the guard stop downgrading to that model there, and the
call is sent again as the app asked (logged once): a downgrade never turns into an error for the app.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from costline import _budget_guard
from costline import attributes as a
from costline._budget_snapshot import DOWNGRADE, Verdict
from costline._safety import report_internal_error
from costline._span import AttrDict, Request, Surface

logger = logging.getLogger("costline")

DOWNGRADABLE_OPERATIONS: Final = frozenset({a.OPERATION_CHAT, a.OPERATION_TEXT_COMPLETION})
_NOT_FOUND: Final = 404
_told: set[tuple[str, str]] = set()  # (surface, budget scope) already logged as not downgradable


def checked(guard: _budget_guard.BudgetGuard, attribution: dict[str, str]) -> Verdict | None:
    """The guard's verdict; a failure of the guard itself lets the call proceed (fail open)."""
    try:
        return guard.check(attribution)
    except Exception as exc:
        report_internal_error("budgets.check", exc)
        return None


def downgrade_target(verdict: Verdict, surface: Surface, provider: str, model: Any) -> str | None:
    """The model to send instead of `model`, or None when this call keeps its model."""
    target = verdict.model
    if verdict.kind != DOWNGRADE or target is None or model == target:
        return None
    if surface.operation not in DOWNGRADABLE_OPERATIONS:
        told = (surface.name, str(verdict.attributes.get(a.LLM_BUDGET_SCOPE)))
        if told not in _told:
            _told.add(told)
            logger.warning(
                "costline budgets: %s calls cannot be downgraded to %s (%s); they are sent unchanged",
                surface.name, target, told[1],
            )  # fmt: skip
        return None
    guard = _budget_guard.ACTIVE
    if guard is not None and guard.downgrade_rejected(provider, target):
        return None
    return target


def apply_verdict(
    verdict: Verdict, request: Request, attrs: AttrDict, surface: Surface, requested: Any
) -> None:
    """Put the verdict on the span attributes; for a downgrade, also on the request (kwargs, model)."""
    attrs.update(verdict.attributes)
    provider = str(attrs.get(a.GEN_AI_PROVIDER_NAME, ""))
    target = downgrade_target(verdict, surface, provider, request.model)
    if target is not None:
        request.kwargs = {**request.kwargs, "model": target}
        request.model = target
        attrs[a.GEN_AI_REQUEST_MODEL] = target
    if request.model != requested and type(requested) is str:
        attrs[a.LLM_BUDGET_DOWNGRADED_FROM] = requested
        request.downgraded_to = (provider, str(request.model))


def rejected_downgrade(request: Request, exc: BaseException) -> bool:
    """True when the provider refused the downgraded model: the caller then sends the call unchanged."""
    downgraded = request.downgraded_to
    if downgraded is None or getattr(exc, "status_code", None) != _NOT_FOUND:
        return False
    guard = _budget_guard.ACTIVE
    if guard is not None:
        guard.reject_downgrade(*downgraded, why=f"HTTP 404: {str(exc)[:200]}")
    return True
