"""Each budget's spend per UTC day, exact, kept up to date with every ledger commit.

`seed()` reads the ledger's calls of the current month (a query at start-up), then `observe()` adds the
calls each `Ledger.record()` reports as new, right after its commit (the pipeline calls it under the same
lock as the write), so the spend a `GET /v1/budgets` shows is the ledger's to the last committed batch:
there is no timer. Days before the current month are dropped when the month turns, days far ahead of the
clock are not kept, so memory is bounded by (budgets x ~33 days).
"""

from __future__ import annotations

import decimal
import operator
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from costline.attributes import FEATURE_ID, TENANT_ID, UNATTRIBUTED, WORKFLOW_ID
from costline_processor.budgets.model import SCOPE_KEYS, Budget, Budgets, joined_id
from costline_processor.budgets.periods import current_period, day_number
from costline_processor.budgets.status import BudgetStatus, budget_status
from costline_processor.ledger import NS_PER_DAY, STATUS_NEW, LedgerStore, RecordResult, SpendRow
from costline_processor.ledger.rows import MONEY_CONTEXT, ZERO
from costline_processor.model import Cost

DAYS_AHEAD: Final = 2  # a call dated up to this many days after today is kept for its day (clock skew)
# A shared ledger's other replicas' spend, read for `statuses(whole_ledger=True)`, is reused this long.
OTHERS_MAX_AGE_S: Final = 0.25

SpendKey = tuple[int, str, str, str]  # day, workflow_id, feature_id, tenant_id
# Per combination of scope keys: a getter of their values from a SpendKey, and values -> budget numbers.
# (itemgetter of one position returns the value itself, of several a tuple: the table's keys match.)
_Index = list[tuple[Callable[[SpendKey], object], dict[object, list[int]]]]


def _index(budgets: tuple[Budget, ...]) -> _Index:
    shapes: dict[tuple[int, ...], dict[object, list[int]]] = {}
    for number, budget in enumerate(budgets):
        shape = tuple(1 + SCOPE_KEYS.index(key) for key, _ in budget.scope)  # SpendKey[0] is the day
        values = tuple(value for _, value in budget.scope)
        shapes.setdefault(shape, {}).setdefault(values if len(values) > 1 else values[0], []).append(number)
    return [(operator.itemgetter(*shape), table) for shape, table in shapes.items()]


class BudgetTracker:
    """Spend per budget and day, from the ledger (thread-safe)."""

    def __init__(self, budgets: Budgets, *, clock: Callable[[], int] = time.time_ns) -> None:
        self.budgets = budgets.items
        self._clock = clock
        self._index = _index(self.budgets)
        self._spent: list[dict[int, Decimal]] = [{} for _ in self.budgets]
        self._numbers = {budget.id: number for number, budget in enumerate(self.budgets)}
        self._blocked = [0 for _ in self.budgets]  # calls the app blocked, from its spans (this process)
        self._blocked_unmatched = 0
        self._lock = threading.Lock()
        self._others_of: Callable[[int, int], list[SpendRow]] = lambda _first, _end: []
        self._others: tuple[float, list[dict[int, Decimal]]] | None = None  # (read at, spend per budget)
        self._others_lock = threading.Lock()  # one read of the other replicas' spend at a time
        self._today = -1
        self._first_day = self._end_day = 0  # the days kept: [start of this month, today + DAYS_AHEAD]
        self._roll(self._now())

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock() / 1e9, tz=UTC)

    def _roll(self, now: datetime) -> None:
        """Move the window of kept days to `now`'s month; drop the days before it (under the lock)."""
        today = day_number(now)
        if today == self._today:
            return
        self._today = today
        self._first_day = min(current_period(budget.period, now).first_day for budget in self.budgets) \
            if self.budgets else today  # fmt: skip
        self._end_day = today + DAYS_AHEAD + 1
        for spent in self._spent:
            for day in [day for day in spent if day < self._first_day]:
                del spent[day]

    # --- input ---------------------------------------------------------------------------------------------
    def seed(self, ledger: LedgerStore) -> None:
        """Rebuild the spend from the ledger's stored calls of the kept days (at start-up)."""
        if not self.budgets:
            return
        with self._lock:
            self._roll(self._now())
            rows = ledger.spend_by_day(self._first_day * NS_PER_DAY, self._end_day * NS_PER_DAY)
            self._spent = [{} for _ in self.budgets]  # replaced only once the ledger has answered
            self._add(self._spent, _keyed(rows))
            self._others_of = ledger.others_spend_by_day

    def observe(self, result: RecordResult) -> None:
        """Add the priced calls the ledger just committed as new."""
        if not self.budgets:
            return
        groups: dict[SpendKey, Decimal] = {}
        with decimal.localcontext(MONEY_CONTEXT):
            for item in result.items:  # hot path: one pass, inlined (ledger.rows.label_key's defaults)
                cost = item.priced.result
                if item.status != STATUS_NEW or type(cost) is not Cost:
                    continue
                call = item.priced.call
                get = call.attribution.get
                placed = result.received_ns if item.start_time_out_of_range else call.start_time_ns
                key = (placed // NS_PER_DAY, get(WORKFLOW_ID) or UNATTRIBUTED,
                       get(FEATURE_ID) or UNATTRIBUTED, get(TENANT_ID) or UNATTRIBUTED)  # fmt: skip
                total = groups.get(key)
                parts = cost.input + cost.cache_read + cost.cache_write + cost.output
                groups[key] = parts if total is None else total + parts
        if groups:
            with self._lock:
                self._roll(self._now())
                self._add(self._spent, groups.items())

    def _add(self, into: list[dict[int, Decimal]], groups: Iterable[tuple[SpendKey, Decimal]]) -> None:
        first, end = self._first_day, self._end_day
        with decimal.localcontext(MONEY_CONTEXT):  # exact: Inexact raises
            for key, cost in groups:
                day = key[0]
                if not first <= day < end:
                    continue
                for values_of, table in self._index:
                    for number in table.get(values_of(key), ()):
                        spent = into[number]
                        spent[day] = spent.get(day, ZERO) + cost

    def count_blocked(self, blocked_by: Iterable[tuple[str, str]]) -> None:
        """Count calls the app blocked, by the (scope, period) of the budget that stopped them; a block
        that names no budget of this file (the guard failed closed, another file) is counted apart."""
        with self._lock:
            for scope, period in blocked_by:
                number = self._numbers.get(joined_id(scope, period))
                if number is None:
                    self._blocked_unmatched += 1
                else:
                    self._blocked[number] += 1

    def blocked(self) -> tuple[list[int], int]:
        """Blocked calls per budget (file order), and those that named no budget of this file."""
        with self._lock:
            return list(self._blocked), self._blocked_unmatched

    # --- output --------------------------------------------------------------------------------------------
    def statuses(self, *, whole_ledger: bool = False) -> tuple[datetime, list[BudgetStatus]]:
        """The moment (as_of) and every budget's state at it, in file order.

        This replica's share of the spend (its metrics; summed over replicas in PromQL), or with
        `whole_ledger` every replica's of a shared ledger (`GET /v1/budgets`): the other replicas' spend is
        read from the ledger, at most OTHERS_MAX_AGE_S old; LedgerUnavailableError when it cannot be read.
        """
        others = self._other_replicas() if whole_ledger else None
        now = self._now()
        result = []
        with self._lock, decimal.localcontext(MONEY_CONTEXT):
            self._roll(now)
            for number, (budget, spent) in enumerate(zip(self.budgets, self._spent, strict=True)):
                period = current_period(budget.period, now)
                days = range(period.first_day, period.reset_day)
                total = sum((cost for day, cost in spent.items() if day in days), ZERO)
                if others is not None:
                    total = sum((cost for day, cost in others[number].items() if day in days), total)
                result.append(budget_status(budget, total, period, now))
        return now, result

    def _other_replicas(self) -> list[dict[int, Decimal]]:
        """The other replicas' spend per budget and day, read again once OTHERS_MAX_AGE_S old."""
        with self._others_lock:
            cached = self._others
            if cached is not None and time.monotonic() - cached[0] < OTHERS_MAX_AGE_S:
                return cached[1]
            read_at = time.monotonic()
            with self._lock:
                self._roll(self._now())
                first, end = self._first_day, self._end_day
            spent: list[dict[int, Decimal]] = [{} for _ in self.budgets]
            rows = self._others_of(first, end) if self.budgets else []
            with self._lock:
                self._add(spent, _keyed(rows))
            self._others = (read_at, spent)
            return spent


def _keyed(rows: Iterable[SpendRow]) -> Iterator[tuple[SpendKey, Decimal]]:
    return (((day, wf, feature, tenant), cost) for day, wf, feature, tenant, cost in rows)
