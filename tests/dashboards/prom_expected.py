"""What each dashboard panel must show, computed from the known calls (the ledger of the history stage).

Windows are (end - range, end], as a counter difference measures them. Values are Decimal sums turned into
floats only at the end; NaN where Prometheus divides 0 by 0 (an hour without traffic).
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from prom_history import BUDGET_STOPS, BUDGETS, STREAMS, Call, History, Stream, outcome_count

from costline.attributes import UNATTRIBUTED
from costline_processor.metric_names import (
    PERIOD_MONTHLY,
    STATUS_ERROR,
    TOKEN_CACHE_READ,
    TOKEN_CACHE_WRITE,
    TOKEN_INPUT,
    TOKEN_TYPES,
)

Values = dict[tuple[str, ...], float]


@dataclass(frozen=True)
class Filters:
    """Dashboard variable selections; None is "All"."""

    workflow_id: tuple[str, ...] | None = None
    tenant_id: tuple[str, ...] | None = None
    service_name: tuple[str, ...] | None = None
    model: tuple[str, ...] | None = None

    @staticmethod
    def _ok(allowed: tuple[str, ...] | None, value: str) -> bool:
        return allowed is None or value in allowed

    def call(self, call: Call) -> bool:
        s = call.stream
        return (
            self._ok(self.workflow_id, s.workflow_id)
            and self._ok(self.tenant_id, s.tenant_id)
            and self._ok(self.service_name, s.service_name)
            and self._ok(self.model, s.model)
        )

    def unpriced(self, call: Call) -> bool:
        return self._ok(self.service_name, call.stream.service_name) and self._ok(
            self.model, call.stream.model
        )

    def workflow(self, workflow_id: str) -> bool:
        return self._ok(self.workflow_id, workflow_id)


def month_start(at_s: int) -> int:
    moment = datetime.fromtimestamp(at_s, UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())


def remaining_days(at_s: int) -> Decimal:
    moment = datetime.fromtimestamp(at_s, UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    return Decimal(days - moment.day + 1) - Decimal(at_s % 86400) / Decimal(86400)


def _probe(stream: Stream) -> Call:
    return Call(0, stream, (0, 0, 0, 0), (Decimal(0),) * 4, "ok")


def _ratio(numerator: Decimal, denominator: Decimal) -> float:
    return math.nan if denominator == 0 else float(numerator / denominator)


class Expectations:
    """Panel values for `history`; `priced`: the label sets with a cost series; `budgets`: budgets (monthly,
    per workflow); `stops`: the spend at which those with a stop stop."""

    def __init__(
        self,
        history: History,
        end_s: int,
        filters: Filters,
        priced: Sequence[Stream] = STREAMS,
        budgets: Mapping[str, Decimal] = BUDGETS,
        *,
        stops: Mapping[str, Decimal] = BUDGET_STOPS,
    ) -> None:
        self.history, self.end_s, self.filters, self.budget_file = history, end_s, filters, budgets
        self.stops = stops
        self.priced_streams = [s for s in priced if self.filters.call(_probe(s))]

    def _calls(self, after_s: float, until_s: float, where: Callable[[Call], bool]) -> list[Call]:
        return self.history.select(after_s, until_s, where)

    def spend(
        self, range_s: int, key: Callable[[Call], tuple[str, ...]], until_s: int | None = None
    ) -> dict[tuple[str, ...], Decimal]:
        """Cost by `key` over the window; every label set with a series is present (0 if idle)."""
        until = self.end_s if until_s is None else until_s
        totals: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
        for stream in self.priced_streams:
            totals[key(_probe(stream))] += 0
        for call in self._calls(until - range_s, until, self.filters.call):
            if call.unpriced_reason is None:  # an unpriced call adds to no cost series
                totals[key(call)] += sum(call.cost, Decimal(0))
        return dict(totals)

    # --- finance ---------------------------------------------------------------------------------------

    def by_label(self, range_s: int, attr: str) -> Values:
        return {k: float(v) for k, v in self.spend(range_s, lambda c: (getattr(c.stream, attr),)).items()}

    def total(self, range_s: int) -> Decimal:
        return sum(self.spend(range_s, lambda c: ()).values(), Decimal(0))

    def top3_share(self, range_s: int) -> Values:
        spent = self.spend(range_s, lambda c: (c.stream.workflow_id,))
        by_wf = sorted((v for k, v in spent.items() if k != (UNATTRIBUTED,)), reverse=True)
        return {(): _ratio(sum(by_wf[:3], Decimal(0)), self.total(range_s))}

    def unattributed_share(self, range_s: int) -> Values:
        by_wf = self.spend(range_s, lambda c: (c.stream.workflow_id,))
        return {(): _ratio(by_wf.get((UNATTRIBUTED,), Decimal(0)), self.total(range_s))}

    def budgets(self) -> dict[tuple[str, ...], Decimal]:
        return {(wf,): amount for wf, amount in self.budget_file.items() if self.filters.workflow(wf)}

    def budget_ratio(self, range_s: int) -> Values:
        spent = self.spend(range_s, lambda c: (c.stream.workflow_id,))
        return {k: _ratio(v, self.budgets()[k]) for k, v in spent.items() if k in self.budgets()}

    def budget_spent(self) -> dict[tuple[str, ...], Decimal]:
        """What the replicas' `llm_budget_spent_usd` add up to at the end: this month's spend of each budget
        held by the ledgers still alive (a replaced or lost ledger took its share with it)."""
        topology = self.history.topology
        totals = {(wf, PERIOD_MONTHLY): Decimal(0) for (wf,) in self.budgets()}
        for call in self._calls(month_start(self.end_s), self.end_s, lambda c: c.unpriced_reason is None):
            key = (call.stream.workflow_id, PERIOD_MONTHLY)
            alive = topology is None or topology.ledger(call.stream, call.time_s).last_sample_s >= self.end_s
            if key in totals and alive:
                totals[key] += sum(call.cost, Decimal(0))
        return totals

    def budget_gauge_ratio(self) -> Values:
        return {
            (wf, period): _ratio(v, self.budget_file[wf]) for (wf, period), v in self.budget_spent().items()
        }

    def budget_stop(self) -> Values:
        return {(wf, PERIOD_MONTHLY): float(v) for wf, v in self.stops.items() if self.filters.workflow(wf)}

    def budget_stopped(self) -> Values:
        spent = self.budget_spent()
        return {key: float(spent[key] >= Decimal(str(stop))) for key, stop in self.budget_stop().items()}

    def projection(self, range_s: int) -> Values:
        spent = self.spend(range_s, lambda c: (c.stream.workflow_id,))
        week = self.spend(7 * 86400, lambda c: (c.stream.workflow_id,))
        rest = remaining_days(self.end_s)
        return {k: float(v + week[k] / 7 * rest) for k, v in spent.items()}

    def cost_per_outcome(self, range_s: int) -> Values:
        spent = self.spend(range_s, lambda c: (c.stream.workflow_id,))
        counts = outcome_count(self.history, self.end_s - range_s, self.end_s)
        return {
            (wf, outcome): _ratio(spent[(wf,)], Decimal(n))
            for (wf, outcome), n in counts.items()
            if self.filters.workflow(wf) and (wf,) in spent
        }

    def month_over_month(self) -> Values:
        """The last 30 days' spend minus the 30 days before, per workflow."""
        last = self.spend(30 * 86400, lambda c: (c.stream.workflow_id,))
        both = self.spend(60 * 86400, lambda c: (c.stream.workflow_id,))
        return {k: float(2 * last[k] - both[k]) for k in last}

    def year_end(self, range_s: int) -> Values:
        """Spend so far (the panel's range) + the rest of the year at the 30-day growth rate (compounded from
        the last 30 days' midpoint), or at the last 30 days' flat pace when no growth can be measured."""
        so_far = self.total(range_s)
        last = sum(self.spend(30 * 86400, lambda c: ()).values(), Decimal(0))
        before = sum(self.spend(60 * 86400, lambda c: ()).values(), Decimal(0)) - last
        moment = datetime.fromtimestamp(self.end_s, UTC)
        days_in_year = 366 if calendar.isleap(moment.year) else 365
        days = days_in_year - moment.timetuple().tm_yday + 1 - (self.end_s % 86400) / 86400
        rate = float(last) / 30
        if before > 0 and last > 0 and last != before:
            growth = (float(last) / float(before)) ** (1 / 30)
            return {(): float(so_far) + rate * growth**15 * (growth**days - 1) / math.log(growth)}
        return {(): float(so_far) + rate * days}

    def daily_cost_per_outcome(self, step_end_s: int) -> Values:
        day = 86400
        spent = self.spend(day, lambda c: (c.stream.workflow_id,), step_end_s)
        counts = outcome_count(self.history, step_end_s - day, step_end_s)
        return {
            (wf, outcome): _ratio(spent[(wf,)], Decimal(n))
            for (wf, outcome), n in counts.items()
            if self.filters.workflow(wf) and (wf,) in spent
        }

    # --- engineering -----------------------------------------------------------------------------------

    def unpriced(self, range_s: int) -> Values:
        counts: dict[tuple[str, ...], int] = defaultdict(int)
        for call in self._calls(self.history.start_s, self.end_s, self.filters.unpriced):
            if call.unpriced_reason is not None:  # every series that exists at the end
                counts[call.unpriced_reason, call.stream.model] += 0
        for call in self._calls(self.end_s - range_s, self.end_s, self.filters.unpriced):
            if call.unpriced_reason is not None:
                counts[call.unpriced_reason, call.stream.model] += 1
        return {k: float(v) for k, v in counts.items()}

    def requests(self, after_s: int, until_s: int) -> dict[tuple[str, ...], list[Call]]:
        calls: dict[tuple[str, ...], list[Call]] = defaultdict(list)
        for stream in self.priced_streams:
            calls[(stream.workflow_id,)] = []
        for call in self._calls(after_s, until_s, self.filters.call):
            calls[(call.stream.workflow_id,)].append(call)
        return calls

    def cost_per_request(self, range_s: int) -> Values:
        spent = self.spend(range_s, lambda c: (c.stream.workflow_id,))
        calls = self.requests(self.end_s - range_s, self.end_s)
        return {k: _ratio(spent[k], Decimal(len(calls[k]))) for k in spent}

    def at_step(self, step_end_s: int, series: str) -> Values:
        """One point of a range panel: cost per outcome is per day before the step, the rest per hour."""
        if series == "outcome_daily":
            return self.daily_cost_per_outcome(step_end_s)
        return self.hourly(step_end_s, series)

    def hourly(self, step_end_s: int, series: str) -> Values:
        """One point of a range panel: the hour (step_end - 1h, step_end] (rate interval = step = 1h)."""
        hour = 3600
        if series == "burn_workflow":
            return {
                k: float(v)
                for k, v in self.spend(hour, lambda c: (c.stream.workflow_id,), step_end_s).items()
            }
        if series == "burn_model":
            return {k: float(v) for k, v in self.spend(hour, lambda c: (c.stream.model,), step_end_s).items()}
        calls = self.requests(step_end_s - hour, step_end_s)
        if series == "requests":
            return {k: len(v) / hour for k, v in calls.items()}
        if series == "errors":
            return {
                k: _ratio(Decimal(sum(c.status == STATUS_ERROR for c in v)), Decimal(len(v)))
                for k, v in calls.items()
            }
        if series == "cache":
            return {k: self._cache_ratio(v) for k, v in calls.items()}
        return self._tokens(calls)

    @staticmethod
    def _cache_ratio(calls: list[Call]) -> float:
        index = {t: i for i, t in enumerate(TOKEN_TYPES)}
        read = sum(c.tokens[index[TOKEN_CACHE_READ]] for c in calls)
        every = sum(
            c.tokens[index[t]] for c in calls for t in (TOKEN_INPUT, TOKEN_CACHE_READ, TOKEN_CACHE_WRITE)
        )
        return _ratio(Decimal(read), Decimal(every))

    @staticmethod
    def _tokens(calls: dict[tuple[str, ...], list[Call]]) -> Values:
        totals: Values = {(t,): 0.0 for t in TOKEN_TYPES}
        for group in calls.values():
            for call in group:
                for index, token_type in enumerate(TOKEN_TYPES):
                    totals[(token_type,)] += call.tokens[index] / 3600
        return totals
