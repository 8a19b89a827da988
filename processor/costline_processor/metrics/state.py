"""The cost metrics' state: cumulative counters per label set, cardinality guard and exemplars.

Counters are derived from the ledger only: `observe()` adds the calls a `RecordResult` marks "new", and
`seed_from()` rebuilds every counter from the ledger's cumulative totals after a restart, so a counter
continues exactly where it was (no reset, no jump). Costs are summed as Decimal and become floats only when
rendered.
"""

from __future__ import annotations

import decimal
import heapq
import os
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from costline_processor import metric_names as names
from costline_processor.budgets import Budgets, BudgetTracker
from costline_processor.budgets.clock import budget_clock
from costline_processor.ledger import Aggregate, LedgerStore, OutcomeAggregate, RecordResult
from costline_processor.ledger.rows import ZERO, LabelKey, counted_usage, label_key
from costline_processor.metrics.guard import LabelGuard, LabelLimits
from costline_processor.metrics.otlp_export import build_request
from costline_processor.metrics.prometheus_text import render
from costline_processor.metrics.self_telemetry import SelfTelemetry
from costline_processor.metrics.snapshot import Exemplar, MetricsSnapshot, OutcomeKey, RequestKey, UnpricedKey
from costline_processor.model import Cost, Outcome, PricedCall

_CONTEXT: Final = decimal.Context(prec=60)
_TOKENS_COUNTED_REASONS: Final = ("", names.REASON_UNKNOWN_MODEL)


class CostMetrics:
    """Cumulative cost, token, request, unpriced and outcome counters (thread-safe)."""

    def __init__(
        self,
        *,
        limits: LabelLimits = LabelLimits(),  # noqa: B008 - frozen dataclass, safe as a default
        budgets: Budgets | None = None,
        service_instance_id: str | None = None,
        telemetry: SelfTelemetry | None = None,
    ) -> None:
        self.limits = limits
        # The budgets' spend follows every ledger commit this object observes (budgets/tracker.py).
        self.budgets = BudgetTracker(budgets or Budgets(), clock=budget_clock())
        self.telemetry = telemetry or SelfTelemetry()
        self._service_instance_id = service_instance_id
        self._lock = threading.Lock()
        self._seeding = False
        self.start_time_ns = time.time_ns()
        self._reset()

    def _reset(self) -> None:
        self._guard = LabelGuard(self.limits, self._overflowed)
        self._cost: dict[LabelKey, list[Decimal]] = {}
        self._tokens: dict[LabelKey, list[int]] = {}
        self._requests: dict[RequestKey, int] = {}
        self._unpriced: dict[UnpricedKey, int] = {}
        self._outcomes: dict[OutcomeKey, int] = {}
        self._exemplars: dict[LabelKey, list[Exemplar | None]] = {}

    def _overflowed(self, label: str) -> None:
        if not self._seeding:
            self.telemetry.inc(names.SELF_LABEL_OVERFLOW, label=label)

    @property
    def service_instance_id(self) -> str:
        """The `service.instance.id` of the pushed metrics: explicit, else the ledger's stable id."""
        return self._service_instance_id or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def series_count(self) -> int:
        with self._lock:
            return self._guard.series_count

    # --- input ---------------------------------------------------------------------------------------------
    def seed_from(self, ledger: LedgerStore) -> None:
        """Rebuild every counter from the ledger's cumulative totals, in order of first appearance.

        Everything is read before anything is replaced: a ledger that fails midway leaves the counters as
        they were.
        """
        aggregates, outcome_aggregates = (
            list(ledger.iter_aggregates()),
            list(ledger.iter_outcome_aggregates()),
        )
        with self._lock, decimal.localcontext(_CONTEXT):
            self.budgets.seed(ledger)
            self._reset()
            self._seeding = True
            try:
                # Calls and outcomes share the workflow_id admissions: replay them in ledger order.
                merged: Iterator[Aggregate | OutcomeAggregate] = heapq.merge(
                    aggregates, outcome_aggregates, key=lambda a: a.first_seq
                )
                for aggregate in merged:
                    if isinstance(aggregate, Aggregate):
                        self._add_aggregate(aggregate)
                    else:
                        self._add_outcome(aggregate.workflow_id, aggregate.outcome, aggregate.count)
            finally:
                self._seeding = False
            # The ledger's creation, not this process's start: the cumulative series never restart.
            self.start_time_ns = ledger.created_ns
            if self._service_instance_id is None:
                self._service_instance_id = ledger.instance_id

    def _add_aggregate(self, agg: Aggregate) -> None:
        labels = self._guard.map_key(agg.labels)
        key = (labels, agg.status)
        self._requests[key] = self._requests.get(key, 0) + agg.requests
        if agg.reason:
            unpriced_key = (labels[3], labels[4], labels[5], agg.reason)
            self._unpriced[unpriced_key] = self._unpriced.get(unpriced_key, 0) + agg.requests
        if agg.reason in _TOKENS_COUNTED_REASONS:
            tokens = self._tokens.setdefault(labels, [0, 0, 0, 0])
            for i in range(4):
                tokens[i] += agg.tokens[i]
        if not agg.reason:
            cost = self._cost.setdefault(labels, [ZERO, ZERO, ZERO, ZERO])
            for i in range(4):
                cost[i] += agg.cost[i]

    def _add_outcome(self, workflow_id: str, outcome: str, count: int) -> None:
        key = (
            self._guard.map_value(names.LABEL_WORKFLOW_ID, workflow_id),
            self._guard.map_value(names.LABEL_OUTCOME, outcome),
        )
        self._outcomes[key] = self._outcomes.get(key, 0) + count

    def observe(self, result: RecordResult) -> None:
        """Count the calls and outcomes the ledger recorded as new; duplicates only go to self-telemetry."""
        priced = unpriced = redelivered = duplicate = 0
        with self._lock, decimal.localcontext(_CONTEXT):
            now = time.time_ns()
            for item in result.items:
                if item.status == "new":
                    if self._observe_call(item.priced, now):
                        priced += 1
                    else:
                        unpriced += 1
                elif item.status == "redelivered":
                    redelivered += 1
                else:
                    duplicate += 1
            outcome: Outcome
            for outcome in result.new_outcomes:
                self._add_outcome(outcome.workflow_id, outcome.outcome, outcome.count)
        self.budgets.observe(result)
        self._count_self(result, priced, redelivered, duplicate)

    def resync(self, ledger: LedgerStore, result: RecordResult) -> None:
        """Rebuild the counters from a ledger that holds `result` already; count `result` only in
        self-telemetry (what `observe()` would have added is in the ledger's totals)."""
        self.seed_from(ledger)
        new = [item for item in result.items if item.status == "new"]
        priced = sum(1 for item in new if isinstance(item.priced.result, Cost))
        redelivered = sum(1 for item in result.items if item.status == "redelivered")
        self._count_self(result, priced, redelivered, len(result.items) - len(new) - redelivered)

    def _count_self(self, result: RecordResult, priced: int, redelivered: int, duplicate: int) -> None:
        telemetry = self.telemetry
        if priced:
            telemetry.inc(names.SELF_SPANS_PRICED, priced)
        for item in result.items:
            if item.status == "new" and not isinstance(item.priced.result, Cost):
                telemetry.inc(names.SELF_SPANS_UNPRICED, reason=item.priced.result.reason)
        rejections = [
            r for i in result.items if i.status == "new" for r in i.priced.call.rejected_attribution
        ]
        for key, rejected_by in rejections + [r for o in result.new_outcomes for r in o.rejected_attribution]:
            telemetry.inc(names.SELF_ATTRIBUTION_REJECTED, key=key, rejected_by=rejected_by)
        if redelivered:
            telemetry.inc(names.SELF_DUPLICATES_IGNORED, redelivered, kind="redelivered")
        if duplicate:
            telemetry.inc(names.SELF_DUPLICATES_IGNORED, duplicate, kind="duplicate_call")
        if result.duplicate_outcomes:
            telemetry.inc(names.SELF_DUPLICATES_IGNORED, result.duplicate_outcomes, kind="outcome")
        if result.response_id_collisions:
            telemetry.inc(names.SELF_RESPONSE_ID_COLLISIONS, result.response_id_collisions)
        out_of_range = sum(1 for item in result.items if item.start_time_out_of_range)
        if out_of_range:
            telemetry.inc(names.SELF_START_TIME_OUT_OF_RANGE, out_of_range)

    def _observe_call(self, priced: PricedCall, now: int) -> bool:
        """Add one new call; return whether it was priced."""
        labels = self._guard.map_key(label_key(priced))
        status = names.STATUS_ERROR if priced.call.error_type else names.STATUS_OK
        requests = self._requests
        requests[labels, status] = requests.get((labels, status), 0) + 1
        result = priced.result
        usage = counted_usage(priced)
        if usage is not None:
            tokens = self._tokens.get(labels)
            if tokens is None:
                tokens = self._tokens[labels] = [0, 0, 0, 0]
            tokens[0] += usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
            tokens[1] += usage.cache_read_tokens
            tokens[2] += usage.cache_write_tokens
            tokens[3] += usage.output_tokens
        if not isinstance(result, Cost):
            key = (labels[3], labels[4], labels[5], result.reason)
            self._unpriced[key] = self._unpriced.get(key, 0) + 1
            return False
        cost = self._cost.get(labels)
        if cost is None:
            cost = self._cost[labels] = [ZERO, ZERO, ZERO, ZERO]
        exemplars = self._exemplars.get(labels)
        if exemplars is None:  # also after seed_from: exemplars are not persisted
            exemplars = self._exemplars[labels] = [None, None, None, None]
        call = priced.call
        for i, part in enumerate((result.input, result.cache_read, result.cache_write, result.output)):
            if part:
                cost[i] += part
                exemplars[i] = (call.trace_id, call.span_id, part, now)
        return True

    # --- output --------------------------------------------------------------------------------------------
    def snapshot(self) -> MetricsSnapshot:
        _, budgets = self.budgets.statuses()
        budget_blocked, blocked_unmatched = self.budgets.blocked()
        with self._lock:
            return MetricsSnapshot(
                cost={key: list(values) for key, values in self._cost.items()},
                tokens={key: list(values) for key, values in self._tokens.items()},
                requests=dict(self._requests),
                unpriced=dict(self._unpriced),
                outcomes=dict(self._outcomes),
                exemplars={key: list(values) for key, values in self._exemplars.items()},
                budgets=budgets,
                budget_blocked=budget_blocked,
                budget_blocked_unmatched=blocked_unmatched,
                telemetry=self.telemetry.snapshot(),
                start_time_ns=self.start_time_ns,
                service_instance_id=self.service_instance_id,
            )

    def render_prometheus(self, openmetrics: bool = False) -> bytes:
        """The text exposition of every metric (OpenMetrics adds trace exemplars on the cost counter)."""
        return render(self.snapshot(), openmetrics=openmetrics)

    def to_otlp(self, now_ns: int) -> ExportMetricsServiceRequest:
        """The cost metrics as one OTLP export request (cumulative, monotonic sums; budget gauge)."""
        return build_request(self.snapshot(), now_ns)
