"""The guard's decisions and state machine, with an injected monotonic clock (no I/O, no threads).

The real-process tests (tests/e2e/test_budget_guard_e2e.py) run the same logic against a real serve; here
each rule is pinned exactly: which budget matches, which wins, when a stop ends, what staleness does under
each failure policy, and that every state change is logged once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from costline import attributes as a
from costline._budget_guard import FRESH, STALE, UNAVAILABLE, BudgetGuard
from costline._budget_settings import GuardSettings
from costline._budget_snapshot import BLOCK, DOWNGRADE, WOULD
from costline._budget_state import BudgetState, period_end
from costline.budgets import BudgetExceeded


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state(scope: dict[str, str], **changes: object) -> BudgetState:
    base = BudgetState(
        scope=tuple((k, scope[k]) for k in ("workflow_id", "feature_id", "tenant_id") if k in scope),
        period="monthly",
        spent_usd=Decimal("1452.1034"),
        limit_usd=Decimal(1200),
        stop_at=Decimal(120),
        on_stop="block",
        downgrade_to=None,
        stopped=True,
        resets_at=datetime(2027, 1, 1, tzinfo=UTC),
        resets_in_s=3600.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def guard(clock: Clock, **settings: object) -> BudgetGuard:
    return BudgetGuard(GuardSettings(url="http://unused", **settings), "the test source", clock)  # type: ignore[arg-type]


def test_the_contract_example_blocks_with_the_documented_message() -> None:
    clock = Clock()
    g = guard(clock)
    g.published([state({"workflow_id": "customer_support"})], clock.now)
    verdict = g.check({"workflow_id": "customer_support", "tenant_id": "acme"})
    assert verdict is not None
    assert verdict.kind == BLOCK
    assert verdict.error is not None
    error = verdict.error()
    assert str(error) == (
        "workflow 'customer_support' is over its monthly budget: $1,452.10 of $1,200.00 (121 %); "
        "LLM calls are blocked until 2027-01-01T00:00Z"
    )
    assert isinstance(error, BudgetExceeded)
    assert (error.spent_usd, error.limit_usd, error.percent) == (Decimal("1452.1034"), 1200, 121)
    assert error.scope == {"workflow_id": "customer_support"}
    assert error.period == "monthly"
    assert error.resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert verdict.attributes == {
        a.LLM_BUDGET_BLOCKED: True,
        a.LLM_BUDGET_SCOPE: "workflow_id=customer_support",
        a.LLM_BUDGET_PERIOD: "monthly",
    }
    assert verdict.error() is not error  # a fresh exception (and traceback) per blocked call


def test_a_budget_matches_only_calls_with_every_scope_key() -> None:
    clock = Clock()
    g = guard(clock)
    g.published([state({"workflow_id": "support", "tenant_id": "acme"})], clock.now)
    assert g.check({"workflow_id": "support", "tenant_id": "acme", "user_id": "u1"}) is not None
    assert g.check({"workflow_id": "support", "tenant_id": "globex"}) is None
    assert g.check({"workflow_id": "support"}) is None
    assert g.check({"tenant_id": "acme"}) is None
    assert g.check({}) is None


def test_not_stopped_budgets_and_other_workflows_pass() -> None:
    clock = Clock()
    g = guard(clock)
    g.published([state({"workflow_id": "a"}, stopped=False), state({"workflow_id": "b"})], clock.now)
    assert g.check({"workflow_id": "a"}) is None
    assert g.check({"workflow_id": "c"}) is None
    assert g.check({"workflow_id": "b"}) is not None


def test_block_wins_over_downgrade_when_both_apply() -> None:
    clock = Clock()
    g = guard(clock)
    downgrade = state({"workflow_id": "w"}, on_stop="downgrade", downgrade_to="cheap")
    g.published([downgrade, state({"tenant_id": "acme"}, period="daily")], clock.now)
    assert g.check({"workflow_id": "w"}).kind == DOWNGRADE  # type: ignore[union-attr]
    both = g.check({"workflow_id": "w", "tenant_id": "acme"})
    assert both is not None
    assert both.kind == BLOCK
    assert both.attributes[a.LLM_BUDGET_SCOPE] == "tenant_id=acme"


def test_a_stop_ends_with_its_period_before_the_next_read() -> None:
    clock = Clock()
    g = guard(clock, refresh_s=15.0)
    woken: list[bool] = []
    g.on_period_end = lambda: woken.append(True)
    g.published([state({"workflow_id": "w"}, period="daily", resets_in_s=30.0)], clock.now)
    clock.now += 29.9
    g.tick()  # what the refresher does whenever the snapshot's time may be up
    assert g.check({"workflow_id": "w"}) is not None
    clock.now += 0.1
    g.tick()
    assert g.check({"workflow_id": "w"}) is None
    assert woken == [True]  # the refresher is asked for the new period's state at once
    assert g.state == FRESH


def test_dry_run_never_blocks_and_marks_the_span() -> None:
    clock = Clock()
    g = guard(clock, enforce=False)
    down = state({"workflow_id": "d"}, on_stop="downgrade", downgrade_to="claude-haiku-4-5")
    g.published([state({"workflow_id": "b"}), down], clock.now)
    blocked, downgraded = g.check({"workflow_id": "b"}), g.check({"workflow_id": "d"})
    assert blocked is not None
    assert blocked.kind == WOULD
    assert blocked.error is None
    assert blocked.attributes[a.LLM_BUDGET_WOULD_BLOCK] is True
    assert downgraded is not None
    assert downgraded.kind == WOULD
    assert downgraded.model is None
    assert downgraded.attributes[a.LLM_BUDGET_WOULD_DOWNGRADE_TO] == "claude-haiku-4-5"


def test_a_downgrade_naming_no_model_lets_calls_proceed() -> None:
    clock = Clock()
    g = guard(clock)
    g.published([state({"workflow_id": "w"}, on_stop="downgrade", downgrade_to=None)], clock.now)
    assert g.check({"workflow_id": "w"}) is None


def test_fail_open_keeps_the_last_read_until_max_staleness_then_lets_calls_proceed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    g = guard(clock, max_staleness_s=300.0)
    g.published([state({"workflow_id": "w"})], clock.now)
    clock.now += 100
    caplog.clear()
    with caplog.at_level(logging.WARNING, "costline"):
        g.failed("cannot read http://x: connection refused")
        g.failed("cannot read http://x: connection refused")
        assert g.state == STALE
        assert g.check({"workflow_id": "w"}) is not None
        clock.now += 200
        g.tick()
        assert g.check({"workflow_id": "w"}) is None  # stale: fail open
        assert g.check({"workflow_id": "w"}) is None
        g.failed("cannot read http://x: connection refused")
    assert g.state == UNAVAILABLE
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # one per state change: stale, then unavailable
    assert "cannot refresh" in lines[0]
    assert "unavailable" in lines[1]
    assert "COSTLINE_BUDGETS_FAIL=open" in lines[1]


def test_fail_closed_blocks_budgeted_calls_when_stale_and_lets_others_through() -> None:
    clock = Clock()
    g = guard(clock, fail_closed=True, max_staleness_s=60.0)
    g.published([state({"workflow_id": "w"}, stopped=False)], clock.now)
    assert g.check({"workflow_id": "w"}) is None
    g.failed("cannot read http://x: HTTP 503")
    clock.now += 61
    g.tick()
    verdict = g.check({"workflow_id": "w"})
    assert verdict is not None
    assert verdict.error is not None
    error = verdict.error()
    assert error.reason == "source_unavailable"
    assert "cannot be read (cannot read http://x: HTTP 503" in str(error)
    assert "COSTLINE_BUDGETS_FAIL=closed" in str(error)
    assert g.check({"workflow_id": "no_budget"}) is None
    g.published([state({"workflow_id": "w"}, stopped=False)], clock.now)  # back: calls flow
    assert g.check({"workflow_id": "w"}) is None


def test_fail_closed_before_any_read_blocks_every_call() -> None:
    clock = Clock()
    g = guard(clock, fail_closed=True)
    g.failed("cannot read http://x: connection refused")
    g.failed("cannot read http://x: connection refused")
    verdict = g.check({})
    assert verdict is not None
    assert verdict.error is not None
    assert "no budget has been read yet" in str(verdict.error())


def test_a_failure_before_any_read_fails_open_by_default() -> None:
    clock = Clock()
    g = guard(clock)
    assert g.check({"workflow_id": "w"}) is None  # pending, no read yet
    g.failed("boom")
    assert g.check({"workflow_id": "w"}) is None
    assert g.state == UNAVAILABLE


def test_each_stop_and_release_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    g = guard(clock)
    with caplog.at_level(logging.INFO, "costline"):
        for _ in range(3):
            g.published([state({"workflow_id": "w"})], clock.now)
        g.published([state({"workflow_id": "w"}, stopped=False)], clock.now)
        g.published([state({"workflow_id": "w"}, stopped=False)], clock.now)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert "reading the test source" in lines[0]
    assert "workflow 'w' is over its monthly budget" in lines[1]
    assert "no longer stopped" in lines[2]


def test_below_100_percent_the_message_names_the_stop_line() -> None:
    clock = Clock()
    g = guard(clock)
    near = state({"workflow_id": "w"}, spent_usd=Decimal(91), limit_usd=Decimal(100), stop_at=Decimal(90))
    g.published([near], clock.now)
    verdict = g.check({"workflow_id": "w"})
    assert verdict is not None
    assert verdict.error is not None
    assert "has reached the stop of its monthly budget: $91.00 of $100.00 (91 %, stop at 90 %)" in str(
        verdict.error()
    )


@pytest.mark.parametrize(
    ("period", "at", "end"),
    [
        ("daily", datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("monthly", datetime(2026, 12, 2, 19, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("monthly", datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_period_ends_on_the_utc_calendar(period: str, at: datetime, end: datetime) -> None:
    assert period_end(period, at) == end


def test_budget_exceeded_pickles() -> None:
    import pickle

    clock = Clock()
    g = guard(clock)
    g.published([state({"workflow_id": "w"})], clock.now)
    verdict = g.check({"workflow_id": "w"})
    assert verdict is not None
    assert verdict.error is not None
    error = verdict.error()
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.scope == error.scope
    assert copy.spent_usd == error.spent_usd
