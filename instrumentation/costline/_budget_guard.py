"""The budget guard: the snapshot the hot path reads, and its state machine (fresh, stale, unavailable).

`check(attribution)` is all a call pays: `Snapshot.match` on the current snapshot. Everything else happens
off the hot path, in the refresher thread: it publishes each read (`published`) or failure (`failed`), and
wakes when the snapshot's time is up (`tick`: max staleness reached, or a stopped budget's period over) to
rebuild it. A read in progress delays a tick by at most the read's deadline.

State changes are logged once each, from whichever side notices them: the source read again, became
unavailable (and what the failure policy does then), a budget stopped or started again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Final

from costline._budget_settings import GuardSettings
from costline._budget_snapshot import (
    Index,
    Snapshot,
    Verdict,
    block_everything,
    index_of,
    stop_message,
    stopped_verdict,
    unavailable_verdict,
)
from costline._budget_state import ON_STOP_BLOCK, BudgetState
from costline.budgets import scope_words

logger = logging.getLogger("costline")

PENDING: Final = "pending"  # nothing read yet
FRESH: Final = "fresh"
STALE: Final = "stale"  # the last read failed; the previous one is still young enough to use
UNAVAILABLE: Final = "unavailable"  # nothing usable: the failure policy applies

Clock = Callable[[], float]


class BudgetGuard:
    def __init__(self, settings: GuardSettings, description: str, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self.description = description
        self.clock = clock
        self._lock = threading.Lock()
        self.state = PENDING
        self.snapshot: Snapshot = Snapshot((), -math.inf)  # re-evaluated by the first tick
        self._last_error = "not read yet"
        self._stopped: dict[str, tuple[BudgetState, str]] = {}  # budget id -> (state, line logged)
        self.on_period_end: Callable[[], None] = lambda: None  # the refresher reads again at once

    # --- the hot path ---------------------------------------------------------------------------------
    def check(self, attribution: dict[str, str]) -> Verdict | None:
        return self.snapshot.match(attribution)

    def _use(self, snapshot: Snapshot) -> None:
        """Swap in a new snapshot (under the lock); the wrappers read its index through `INDEX`."""
        global INDEX  # noqa: PLW0603 - one module-level read is all a call pays
        self.snapshot = snapshot
        if ACTIVE is self:
            INDEX = snapshot.index

    # --- off the hot path ---------------------------------------------------------------------------
    def published(self, states: list[BudgetState], fetched: float) -> None:
        """A successful read at monotonic time `fetched`."""
        with self._lock:
            self._use(self._build(tuple(states), fetched, fetched))
            stopped = sum(state.stopped for state in states)
            self._enter(FRESH, f"{len(states)} budget(s) with a stop, {stopped} stopped")
            self._log_stops(states)

    def failed(self, error: str) -> None:
        with self._lock:
            self._last_error = error
            if self.state in (FRESH, STALE) and self.clock() < self.snapshot.expires:
                self._enter(STALE, error)
            else:
                self._unavailable(error)

    def tick(self) -> None:
        """Re-evaluate the snapshot once its time is up (the refresher calls this; never the hot path)."""
        if self.clock() >= self.snapshot.expires:
            self._expired()

    def _expired(self) -> None:
        with self._lock:
            snapshot, now = self.snapshot, self.clock()
            if now < snapshot.expires:
                return
            if self.state == PENDING or now >= snapshot.fetched + self.settings.max_staleness_s:
                why = self._last_error if self.state != FRESH else "no answer for too long"
                self._unavailable(f"{why}; last read {self._age(now)}")
            else:  # a stopped budget's period is over: its calls flow until the next read says otherwise
                self._use(self._build(snapshot.states, snapshot.fetched, now))
                self.on_period_end()

    def _build(self, states: tuple[BudgetState, ...], fetched: float, now: float) -> Snapshot:
        enforce = self.settings.enforce
        expires = fetched + self.settings.max_staleness_s
        pairs = []
        for state in states:
            if not state.stopped:
                continue
            ends = fetched + state.resets_in_s if state.resets_in_s is not None else math.inf
            if ends <= now:
                continue
            expires = min(expires, ends)
            pairs.append((state, stopped_verdict(state, enforce)))
        return Snapshot(index_of(pairs), expires, states, fetched)

    def _unavailable(self, why: str) -> None:
        settings, states = self.settings, self.snapshot.states
        if not settings.fail_closed:
            self._use(Snapshot((), math.inf, states, self.snapshot.fetched))
            consequence = "calls proceed without budget checks (COSTLINE_BUDGETS_FAIL=open)"
        elif self.snapshot.fetched == -math.inf:
            self._use(block_everything(settings.enforce, why))
            consequence = "every LLM call is blocked until it answers (COSTLINE_BUDGETS_FAIL=closed)"
        else:
            pairs = [(state, unavailable_verdict(state, settings.enforce, why)) for state in states]
            self._use(Snapshot(index_of(pairs), math.inf, states, self.snapshot.fetched))
            consequence = "calls under a budget with a stop are blocked (COSTLINE_BUDGETS_FAIL=closed)"
        if not settings.enforce:
            consequence += "; dry run (COSTLINE_BUDGETS_ENFORCE=false): nothing is blocked, spans say so"
        self._enter(UNAVAILABLE, f"{why}; {consequence}")

    def _enter(self, state: str, detail: str) -> None:
        previous, self.state = self.state, state
        if previous == state:
            return
        if state == FRESH:
            level = logging.INFO if previous == PENDING else logging.WARNING
            logger.log(level, "costline budgets: reading %s (%s)", self.description, detail)
        elif state == STALE:
            logger.warning("costline budgets: cannot refresh from %s (%s); using the last read for up to %ss",
                           self.description, detail, self.settings.max_staleness_s)  # fmt: skip
        else:
            logger.warning("costline budgets: %s is unavailable (%s)", self.description, detail)

    def _log_stops(self, states: list[BudgetState]) -> None:
        now_stopped = {
            state.budget_id: (state, self._consequence(state)) for state in states if state.stopped
        }
        for budget_id, (_, line) in now_stopped.items():
            previous = self._stopped.get(budget_id)
            if previous is None or previous[1] != line:
                logger.warning("costline budgets: %s", line)
        for budget_id in self._stopped.keys() - now_stopped.keys():
            released = self._stopped[budget_id][0]
            logger.warning("costline budgets: the %s budget of %s is no longer stopped; its calls flow again",
                           released.period, scope_words(dict(released.scope)))  # fmt: skip
        self._stopped = now_stopped

    def _consequence(self, state: BudgetState) -> str:
        dry = "" if self.settings.enforce else " (dry run, COSTLINE_BUDGETS_ENFORCE=false: nothing changes)"
        calls = "LLM calls would be" if dry else "LLM calls are"
        if state.on_stop == ON_STOP_BLOCK:
            return stop_message(state, f"{calls} blocked") + dry
        if state.downgrade_to is None:
            return stop_message(
                state, "LLM calls are sent unchanged: the budget says downgrade but names no model"
            )
        return stop_message(state, f"{calls} downgraded to {state.downgrade_to}") + dry

    def _age(self, now: float) -> str:
        fetched = self.snapshot.fetched
        return "never" if fetched == -math.inf else f"{now - fetched:.0f}s ago"


ACTIVE: BudgetGuard | None = None  # the installed guard (costline._budget_install)
INDEX: Index = ()  # ACTIVE's current stopped budgets: the wrappers read this on every call


def activate(guard: BudgetGuard | None) -> None:
    """Make `guard` the one the wrappers consult (None: none)."""
    global ACTIVE, INDEX
    if guard is None:
        ACTIVE, INDEX = None, ()
        return
    with guard._lock:  # a read published meanwhile cannot be overwritten by an older index
        ACTIVE, INDEX = guard, guard.snapshot.index
