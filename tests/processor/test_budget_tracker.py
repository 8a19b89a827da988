"""Each budget's spend per UTC day: exact, per scope, across day and month ends, and the same after a restart.

A fake clock drives the tracker; the calls go through a real ledger, whose `record()` result is what the
pipeline hands to `observe()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from _ledger_factories import make_call, priced, unpriced

from costline_processor import metric_names as names
from costline_processor.budgets import BudgetTracker, parse_budgets
from costline_processor.ledger import Ledger

BUDGETS = parse_budgets("""\
budgets:
  - {workflow_id: support, period: daily, limit_usd: 10, alert_at: [25, 50, 90, 150], stop_at: 200,
     on_stop: block}
  - {workflow_id: support, period: monthly, limit_usd: 100}
  - {tenant_id: acme, period: monthly, limit_usd: 0}
  - {workflow_id: support, tenant_id: acme, period: daily, limit_usd: 5}
""")  # fmt: skip
CALL_USD = Decimal("0.004")  # what _ledger_factories.priced() charges: 0.0015 + 0.000375 + 0.000125 + 0.002


def ns(moment: str) -> int:
    return int(datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


class Clock:
    def __init__(self, moment: str) -> None:
        self.now = ns(moment)

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite3") as opened:
        yield opened


def record(  # noqa: PLR0917 - the tests' shorthand
    ledger: Ledger, tracker: BudgetTracker, clock: Clock, moment: str, count: int, first: int = 0, **keys: str
) -> None:
    """`count` calls starting at `moment`, arriving at the clock's now."""
    calls = [priced(make_call(first + n, start_ns=ns(moment) + n, **keys)) for n in range(count)]
    tracker.observe(ledger.record(calls, received_ns=clock.now))


def spent(tracker: BudgetTracker) -> list[tuple[str, Decimal, str]]:
    return [(state.budget.id, state.spent, state.status) for state in tracker.statuses()[1]]


def test_each_call_counts_for_every_budget_whose_scope_it_has(ledger: Ledger) -> None:
    clock = Clock("2026-12-15T12:00:00")
    tracker = BudgetTracker(BUDGETS, clock=clock)
    record(ledger, tracker, clock, "2026-12-15T08:00:00", 3, workflow="support")
    record(ledger, tracker, clock, "2026-12-15T09:00:00", 2, first=10, workflow="support", tenant="acme")
    record(ledger, tracker, clock, "2026-12-15T09:00:00", 4, first=20, workflow="sales", tenant="acme")
    record(ledger, tracker, clock, "2026-12-15T09:00:00", 1, first=30, workflow=None)  # unattributed
    tracker.observe(ledger.record([unpriced(make_call(40, start_ns=ns("2026-12-15T09:00:00")),
                                            names.REASON_UNKNOWN_MODEL)], received_ns=clock.now))  # fmt: skip
    assert spent(tracker) == [
        ("workflow_id=support;period=daily", 5 * CALL_USD, "ok"),
        ("workflow_id=support;period=monthly", 5 * CALL_USD, "ok"),
        ("tenant_id=acme;period=monthly", 6 * CALL_USD, "over"),  # a zero budget is over from the start
        ("workflow_id=support;tenant_id=acme;period=daily", 2 * CALL_USD, "ok"),
    ]


def test_a_redelivered_batch_counts_once(ledger: Ledger) -> None:
    clock = Clock("2026-12-15T12:00:00")
    tracker = BudgetTracker(BUDGETS, clock=clock)
    calls = [priced(make_call(n, start_ns=ns("2026-12-15T08:00:00"))) for n in range(3)]
    tracker.observe(ledger.record(calls, received_ns=clock.now))
    tracker.observe(ledger.record(calls, received_ns=clock.now))
    assert spent(tracker)[0][1] == 3 * CALL_USD


@pytest.mark.parametrize(
    ("calls", "status"),
    [(0, "ok"), (624, "ok"), (625, "alert_25"), (1249, "alert_25"), (1250, "alert_50"), (2250, "alert_90"),
     (2499, "alert_90"), (2500, "over"), (3750, "over"), (4999, "over"), (5000, "stopped")],
)  # fmt: skip
def test_the_status_is_judged_exactly_at_each_threshold(ledger: Ledger, calls: int, status: str) -> None:
    """Daily limit 10 USD at 0.004 a call: 2,500 calls are exactly 100 %; alerts above 100 % are no status."""
    clock = Clock("2026-12-15T12:00:00")
    tracker = BudgetTracker(BUDGETS, clock=clock)
    record(ledger, tracker, clock, "2026-12-15T08:00:00", calls)
    (daily, *_) = tracker.statuses()[1]
    assert (daily.status, daily.stopped) == (status, status == "stopped")
    assert daily.ratio == calls * CALL_USD / 10


def test_periods_reset_at_utc_midnight_and_on_the_first(ledger: Ledger) -> None:
    clock = Clock("2026-12-31T23:00:00")
    tracker = BudgetTracker(BUDGETS, clock=clock)
    record(ledger, tracker, clock, "2026-12-30T10:00:00", 1)
    record(ledger, tracker, clock, "2026-12-31T22:00:00", 2, first=10)
    assert [s for _, s, _ in spent(tracker)[:2]] == [2 * CALL_USD, 3 * CALL_USD]
    daily, monthly, *_ = tracker.statuses()[1]
    assert (daily.period.start, daily.period.resets_at) == (
        datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    assert monthly.period.resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    # a sender's clock a little ahead: a call dated tomorrow counts tomorrow, not today
    record(ledger, tracker, clock, "2027-01-01T00:00:05", 4, first=20)
    assert [s for _, s, _ in spent(tracker)[:2]] == [2 * CALL_USD, 3 * CALL_USD]
    clock.now = ns("2027-01-01T00:00:10")
    daily, monthly, *_ = tracker.statuses()[1]
    assert (daily.spent, monthly.spent) == (4 * CALL_USD, 4 * CALL_USD)
    assert (daily.period.start, monthly.period.start) == (datetime(2027, 1, 1, tzinfo=UTC),) * 2
    assert monthly.period.resets_at == datetime(2027, 2, 1, tzinfo=UTC)
    record(ledger, tracker, clock, "2026-12-31T23:59:00", 1, first=30)  # late: last year's spend is closed
    assert tracker.statuses()[1][1].spent == 4 * CALL_USD


def test_seeding_from_the_ledger_gives_what_observing_gave(ledger: Ledger) -> None:
    clock = Clock("2026-12-15T12:00:00")
    live = BudgetTracker(BUDGETS, clock=clock)
    record(ledger, live, clock, "2026-11-30T23:59:59", 7)  # last month: in no current period
    record(ledger, live, clock, "2026-12-01T00:00:00", 3, first=10, tenant="acme")
    record(ledger, live, clock, "2026-12-15T11:00:00", 5, first=20, tenant="acme")
    record(ledger, live, clock, "2026-12-16T00:00:01", 2, first=30)  # tomorrow, by a fast clock
    restarted = BudgetTracker(BUDGETS, clock=clock)
    restarted.seed(ledger)
    assert spent(restarted) == spent(live)
    assert spent(live)[:2] == [
        ("workflow_id=support;period=daily", 5 * CALL_USD, "ok"),
        ("workflow_id=support;period=monthly", 10 * CALL_USD, "ok"),  # tomorrow is this month too
    ]


def test_the_projection_is_linear_over_the_period(ledger: Ledger) -> None:
    clock = Clock("2026-12-15T06:00:00")
    tracker = BudgetTracker(BUDGETS, clock=clock)  # a quarter of the day
    record(ledger, tracker, clock, "2026-12-15T01:00:00", 250)  # 1 USD
    daily, monthly, *_ = tracker.statuses()[1]
    assert daily.projected == Decimal(4)
    # December 14.25 days in of 31: 1 x 31 / 14.25
    assert monthly.projected == (Decimal(31) / Decimal("14.25")).quantize(Decimal("0.000001"))


def test_memory_is_bounded_to_the_current_month(ledger: Ledger) -> None:
    clock = Clock("2026-12-15T12:00:00")
    tracker = BudgetTracker(BUDGETS, clock=clock)
    for day in range(1, 16):
        record(ledger, tracker, clock, f"2026-12-{day:02d}T12:00:00", 1, first=day * 10)
    # start times out of range (a broken clock): the ledger places the calls at their arrival, so do budgets
    record(ledger, tracker, clock, "2027-06-01T00:00:00", 1, first=500)
    record(ledger, tracker, clock, "1970-01-01T00:00:00", 1, first=600)
    assert tracker.statuses()[1][0].spent == 3 * CALL_USD
    clock.now = ns("2027-01-02T00:00:00")
    assert [s for _, s, _ in spent(tracker)] == [0, 0, 0, 0]
    assert sum(len(days) for days in tracker._spent) == 0
