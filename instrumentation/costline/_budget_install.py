"""Turning the budget guard on and off (`CostlineInstrumentor.instrument()` / `uninstrument()`)."""

from __future__ import annotations

from costline import _budget_guard
from costline._budget_calls import REJECTED
from costline._budget_guard import BudgetGuard
from costline._budget_refresher import Refresher, register_fork_handler
from costline._budget_settings import GuardSettings
from costline._budget_sources import source_for

_refresher: Refresher | None = None


def install(settings: GuardSettings | None) -> BudgetGuard | None:
    """Start guarding calls (after one first read of the source); None and no thread when not configured."""
    global _refresher  # noqa: PLW0603 - one guard per process, like the instrumentor itself
    uninstall()
    if settings is None:
        return None
    source, description = source_for(settings.url, settings.token, settings.timeout_s)
    guard = BudgetGuard(settings, description)
    _refresher = Refresher(guard, source)
    register_fork_handler(_refresher)
    _refresher.start()
    _budget_guard.activate(guard)
    return guard


def uninstall() -> None:
    global _refresher  # noqa: PLW0603
    _budget_guard.activate(None)
    REJECTED.clear()  # a provider's 404 is remembered for one guard's life
    if _refresher is not None:
        _refresher.stop()
        _refresher = None


def read_now() -> None:
    """Read the budgets once, now, in the calling thread (no-op without a guard).

    For `costline demo` only: it replays weeks of traffic in seconds, so before a call it gives the guard the
    read that real time would have given it. Apps rely on the refresher.
    """
    refresher = _refresher
    if refresher is not None:
        refresher.read_once()
