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
# (gen_ai.provider.name, model) a provider answered 404 for as a downgrade: not tried there again.
REJECTED: set[tuple[Any, str]] = set()


def checked(guard: _budget_guard.BudgetGuard, attribution: dict[str, str]) -> Verdict | None:
    """The guard's verdict; a failure of the guard itself lets the call proceed (fail open)."""
    try:
        return guard.snapshot.match(attribution)  # BudgetGuard.check, one call less
    except Exception as exc:
        report_internal_error("budgets.check", exc)
        return None


def _cannot_downgrade(verdict: Verdict, surface: Surface) -> None:
    told = (surface.name, verdict.scope)
    if told not in _told:
        _told.add(told)
        logger.warning(
            "costline budgets: %s calls cannot be downgraded to %s (%s); they are sent unchanged",
            surface.name, verdict.model, verdict.scope,
        )  # fmt: skip


def downgrade_target(verdict: Verdict, surface: Surface, provider: Any, model: Any) -> str | None:
    """The model to send instead of `model`, or None when this call keeps its model."""
    target = verdict.model
    if target is None or model == target:
        return None
    if surface.operation not in DOWNGRADABLE_OPERATIONS:
        _cannot_downgrade(verdict, surface)
        return None
    if REJECTED and (provider, target) in REJECTED:
        return None
    return target


def apply_verdict(
    verdict: Verdict, request: Request, attrs: AttrDict, surface: Surface, requested: Any
) -> None:
    """Put the verdict on the span attributes; a downgrade also changes the request (kwargs, model).

    Written flat: on a downgraded call every step here is paid per call (bench/bench_budget_guard.py).
    """
    if verdict.kind != DOWNGRADE:
        attrs.update(verdict.attributes)
        return
    target = verdict.model
    if target is None:
        return
    if request.model != target:  # else a helper built the request with it already (precheck)
        provider = attrs.get(a.GEN_AI_PROVIDER_NAME)
        if REJECTED and (provider, target) in REJECTED:
            return
        if surface.operation not in DOWNGRADABLE_OPERATIONS:
            _cannot_downgrade(verdict, surface)
            return
        request.kwargs = {**request.kwargs, "model": target}
        request.model = target
        attrs[a.GEN_AI_REQUEST_MODEL] = target
    if requested != target and type(requested) is str:
        attrs[a.LLM_BUDGET_DOWNGRADED_FROM] = requested
        request.downgraded_to = (attrs.get(a.GEN_AI_PROVIDER_NAME), target)


def rejected_downgrade(request: Request, exc: BaseException) -> bool:
    """True when the provider refused the downgraded model: the caller then sends the call unchanged."""
    downgraded = request.downgraded_to
    if downgraded is None or getattr(exc, "status_code", None) != _NOT_FOUND:
        return False
    if downgraded not in REJECTED:
        REJECTED.add(downgraded)
        logger.warning(
            "costline budgets: the %s provider rejected the downgrade model %r (HTTP 404: %s); calls that a "
            "budget downgrades to it are sent with the model the app asked for instead",
            downgraded[0], downgraded[1], str(exc)[:200],
        )  # fmt: skip
    return True
