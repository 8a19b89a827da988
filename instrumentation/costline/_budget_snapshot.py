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
from typing import Any, Final

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
    attributes: dict[str, AttributeValue]  # added to the call's span
    model: str | None = None  # DOWNGRADE: the model to send instead
    error: Callable[[], BudgetExceeded] | None = None  # BLOCK: a fresh exception per call


Shape = tuple[str, ...]
Index = tuple[tuple[Shape, dict[Any, Verdict]], ...]


class Snapshot:
    """Immutable once built; the guard swaps the whole object (an atomic attribute store)."""

    __slots__ = ("expires", "fetched", "index", "states")

    def __init__(
        self, index: Index, expires: float, states: tuple[BudgetState, ...] = (), fetched: float = -math.inf
    ) -> None:
        self.index = index
        self.expires = expires  # monotonic time when this snapshot must be re-evaluated
        self.states = states  # what it was built from (to rebuild when a period ends)
        self.fetched = fetched

    def match(self, attribution: dict[str, str]) -> Verdict | None:
        found: Verdict | None = None
        for shape, by_values in self.index:
            if len(shape) == 1:
                verdict = by_values.get(attribution.get(shape[0]))
            else:
                verdict = by_values.get(tuple(map(attribution.get, shape)))
            if verdict is not None and (found is None or verdict.kind > found.kind):
                found = verdict
        return found


EMPTY: Final = Snapshot((), math.inf)


def _base_attributes(state: BudgetState) -> dict[str, AttributeValue]:
    return {a.LLM_BUDGET_SCOPE: state.scope_text, a.LLM_BUDGET_PERIOD: state.period}


def stop_message(state: BudgetState, consequence: str) -> str:
    """`workflow 'x' is over its monthly budget: $1,452.10 of $1,200.00 (121 %); LLM calls are ...`."""
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
    return f"{who} {status}; LLM calls are {consequence}{until}"


def _raiser(state: BudgetState, message: str, reason: str) -> Callable[[], BudgetExceeded]:
    def error() -> BudgetExceeded:
        return BudgetExceeded(message, budget_id=state.budget_id, scope=dict(state.scope),
                              period=state.period, spent_usd=state.spent_usd, limit_usd=state.limit_usd,
                              resets_at=state.resets_at, reason=reason)  # fmt: skip

    return error


def stopped_verdict(state: BudgetState, enforce: bool) -> Verdict | None:
    """What a stopped budget does to its calls; None when it can do nothing (a downgrade naming no model)."""
    attributes = _base_attributes(state)
    if state.on_stop == ON_STOP_BLOCK:
        if not enforce:
            return Verdict(WOULD, {**attributes, a.LLM_BUDGET_WOULD_BLOCK: True})
        error = _raiser(state, stop_message(state, "blocked"), "stopped")
        return Verdict(BLOCK, {**attributes, a.LLM_BUDGET_BLOCKED: True}, error=error)
    if state.downgrade_to is None:
        return None
    if not enforce:
        return Verdict(WOULD, {**attributes, a.LLM_BUDGET_WOULD_DOWNGRADE_TO: state.downgrade_to})
    return Verdict(DOWNGRADE, attributes, model=state.downgrade_to)


def unavailable_verdict(state: BudgetState, enforce: bool, why: str) -> Verdict:
    """Fail closed: a budget with a stop whose spend cannot be read blocks its calls."""
    attributes = _base_attributes(state)
    if not enforce:
        return Verdict(WOULD, {**attributes, a.LLM_BUDGET_WOULD_BLOCK: True})
    message = (f"{scope_words(dict(state.scope))} has a {state.period} budget with a stop and its spend "
               f"cannot be read ({why}); LLM calls are blocked while the budgets source is unavailable "
               "(COSTLINE_BUDGETS_FAIL=closed)")  # fmt: skip
    error = _raiser(state, message, REASON_UNAVAILABLE)
    return Verdict(BLOCK, {**attributes, a.LLM_BUDGET_BLOCKED: True}, error=error)


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
    return Snapshot((((), {(): verdict}),), math.inf)


def index_of(pairs: Iterable[tuple[BudgetState, Verdict | None]]) -> Index:
    shapes: dict[Shape, dict[Any, Verdict]] = {}
    for state, verdict in pairs:
        if verdict is None:
            continue
        shape = tuple(key for key, _ in state.scope)
        values = tuple(value for _, value in state.scope)
        by_values = shapes.setdefault(shape, {})
        lookup = values[0] if len(values) == 1 else values
        previous = by_values.get(lookup)
        if previous is None or verdict.kind > previous.kind:
            by_values[lookup] = verdict
    return tuple(shapes.items())
