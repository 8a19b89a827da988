"""What the hot path reads: the stopped budgets, indexed by scope, each with its precomputed verdict.

`Snapshot.match(attribution)` does one dict lookup per distinct scope shape in use (e.g. `(workflow_id,)`
and `(workflow_id, tenant_id)`: at most 7 shapes over the 3 scope keys), on an index built once per refresh.
Verdicts (span attributes, exception message) are built here too, so a matching call allocates nothing
but its exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from opentelemetry.util.types import AttributeValue

from costline import attributes as a
from costline._budget_state import ON_STOP_BLOCK, BudgetState
from costline.budgets import REASON_UNAVAILABLE, BudgetExceeded, minute, percent_of, scope_words, usd

BLOCK: Final = 3
DOWNGRADE: Final = 2
WOULD: Final = 1  # dry run: the call proceeds unchanged, its span says what would have happened


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: int  # BLOCK, DOWNGRADE or WOULD; a higher kind wins when several budgets match
    # Added to the call's span. Each attribute costs about 0.7 us over a span's life, so a call that is
    # sent (downgraded, dry run) gets only what says what happened; a blocked call also gets the scope.
    attributes: dict[str, AttributeValue]
    scope: str = ""  # the budget's scope text, for log lines
    model: str | None = None  # DOWNGRADE: the model to send instead
    error: Callable[[], BudgetExceeded] | None = None  # BLOCK: a fresh exception per call


# Each budget is filed under the first key of its scope (SCOPE_KEYS order) and that key's value, with the
# rest of its scope as extra (key, value) pairs to check: a call costs one dict lookup per key that heads
# some stopped budget (at most 3), plus a comparison per extra pair of the budgets filed under its value.
Entry = tuple[tuple[tuple[str, str], ...], Verdict]
Index = tuple[tuple[str, dict[str | None, tuple[Entry, ...]]], ...]
# Fail closed before the first read files one verdict here: no attribution has this key, so every call's
# lookup of it gives None, and None is where the verdict is filed.
EVERY_CALL_KEY: Final = ""


def match(index: Index, attribution: dict[str, str]) -> Verdict | None:
    """The strongest verdict of the stopped budgets whose whole scope is in `attribution` (the hot path)."""
    found: Verdict | None = None
    get = attribution.get
    for key, by_value in index:
        entries = by_value.get(get(key))
        if entries is None:
            continue
        for extra, verdict in entries:
            for extra_key, value in extra:
                if get(extra_key) != value:
                    break
            else:
                if found is None or verdict.kind > found.kind:
                    found = verdict
    return found


class Snapshot:
    """Immutable once built; the guard swaps the whole object (an atomic attribute store)."""

    __slots__ = ("expires", "fetched", "index", "states")

    def __init__(
        self, index: Index, expires: float, states: tuple[BudgetState, ...] = (), fetched: float = -math.inf
    ) -> None:
        self.index = index
        self.expires = expires  # monotonic time when this snapshot must be re-evaluated (the guard's tick)
        self.states = states  # what it was built from (to rebuild when a period ends)
        self.fetched = fetched

    def match(self, attribution: dict[str, str]) -> Verdict | None:
        return match(self.index, attribution)


EMPTY: Final = Snapshot((), math.inf)


def _base_attributes(state: BudgetState) -> dict[str, AttributeValue]:
    return {a.LLM_BUDGET_SCOPE: state.scope_text, a.LLM_BUDGET_PERIOD: state.period}


BLOCKED: Final = "LLM calls are blocked"


def stop_message(state: BudgetState, consequence: str) -> str:
    """`workflow 'x' is over its monthly budget: $1,452.10 of $1,200.00 (121 %); LLM calls are blocked
    until 2027-01-01T00:00Z` (`consequence` is the clause after the semicolon)."""
    who, percent = scope_words(dict(state.scope)), percent_of(state.spent_usd, state.limit_usd)
    until = f" until {minute(state.resets_at)}" if state.resets_at is not None else ""
    if state.limit_usd is None or percent is None:
        status = f"has reached the stop of its {state.period} budget: {usd(state.spent_usd)} spent"
    elif percent >= 100:
        amounts = f"{usd(state.spent_usd)} of {usd(state.limit_usd)}"
        status = f"is over its {state.period} budget: {amounts} ({percent} %)"
    else:
        stop = f", stop at {state.stop_at.normalize():f} %" if state.stop_at is not None else ""
        status = (f"has reached the stop of its {state.period} budget: {usd(state.spent_usd)} of "
                  f"{usd(state.limit_usd)} ({percent} %{stop})")  # fmt: skip
    return f"{who} {status}; {consequence}{until}"


def _raiser(state: BudgetState, message: str, reason: str) -> Callable[[], BudgetExceeded]:
    def error() -> BudgetExceeded:
        return BudgetExceeded(message, budget_id=state.budget_id, scope=dict(state.scope),
                              period=state.period, spent_usd=state.spent_usd, limit_usd=state.limit_usd,
                              resets_at=state.resets_at, reason=reason)  # fmt: skip

    return error


def stopped_verdict(state: BudgetState, enforce: bool) -> Verdict | None:
    """What a stopped budget does to its calls; None when it can do nothing (a downgrade naming no model)."""
    scope = state.scope_text
    if state.on_stop == ON_STOP_BLOCK:
        if not enforce:
            return Verdict(WOULD, {a.LLM_BUDGET_WOULD_BLOCK: True}, scope)
        error = _raiser(state, stop_message(state, BLOCKED), "stopped")
        return Verdict(BLOCK, {**_base_attributes(state), a.LLM_BUDGET_BLOCKED: True}, scope, error=error)
    if state.downgrade_to is None:
        return None
    if not enforce:
        return Verdict(WOULD, {a.LLM_BUDGET_WOULD_DOWNGRADE_TO: state.downgrade_to}, scope)
    return Verdict(DOWNGRADE, {}, scope, model=state.downgrade_to)  # the span gets downgraded_from


def unavailable_verdict(state: BudgetState, enforce: bool, why: str) -> Verdict:
    """Fail closed: a budget with a stop whose spend cannot be read blocks its calls."""
    attributes = _base_attributes(state)
    if not enforce:
        return Verdict(WOULD, {a.LLM_BUDGET_WOULD_BLOCK: True}, state.scope_text)
    message = (f"{scope_words(dict(state.scope))} has a {state.period} budget with a stop and its spend "
               f"cannot be read ({why}); LLM calls are blocked while the budgets source is unavailable "
               "(COSTLINE_BUDGETS_FAIL=closed)")  # fmt: skip
    error = _raiser(state, message, REASON_UNAVAILABLE)
    return Verdict(BLOCK, {**attributes, a.LLM_BUDGET_BLOCKED: True}, state.scope_text, error=error)


def block_everything(enforce: bool, why: str) -> Snapshot:
    """Fail closed before any budget was read: no call can be shown to be within a budget."""
    if not enforce:
        verdict = Verdict(WOULD, {a.LLM_BUDGET_WOULD_BLOCK: True})
    else:
        message = (f"LLM calls are blocked: no budget has been read yet ({why}) and "
                   "COSTLINE_BUDGETS_FAIL=closed")  # fmt: skip

        def error() -> BudgetExceeded:
            return BudgetExceeded(message, reason=REASON_UNAVAILABLE)

        verdict = Verdict(BLOCK, {a.LLM_BUDGET_BLOCKED: True}, error=error)
    return Snapshot(((EVERY_CALL_KEY, {None: (((), verdict),)}),), math.inf)


def index_of(pairs: Iterable[tuple[BudgetState, Verdict | None]]) -> Index:
    filed: dict[str, dict[str | None, list[Entry]]] = {}
    for state, verdict in pairs:
        if verdict is None or not state.scope:
            continue
        (key, value), extra = state.scope[0], state.scope[1:]
        filed.setdefault(key, {}).setdefault(value, []).append((extra, verdict))
    return tuple(
        (key, {value: tuple(entries) for value, entries in by_value.items()})
        for key, by_value in filed.items()
    )
