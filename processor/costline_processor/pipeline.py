"""One OTLP export request in, priced and enriched spans out: normalise, price, record, observe, forward.

The order is the delivery guarantee: the ledger commits (durable, deduplicated) before metrics observe it,
and the request is acknowledged only after the forwarder's downstream accepted the enriched spans. A request
that fails anywhere raises, the receiver answers with a retryable status, the collector sends it again, and
the ledger recognises the calls it already holds ("redelivered"), so costs are counted once while the spans
are forwarded again (span writes are idempotent in Tempo).

Extraction and enrichment are pure functions of the protobuf message; the I/O (ledger, forwarder) is at the
edges and injected.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline._safety import report_internal_error
from costline_processor import metric_names as names
from costline_processor.enrich import enrich, may_carry_processor_attributes
from costline_processor.forwarder import DownstreamUnavailable, Forwarder
from costline_processor.ledger import STATUS_NEW, LedgerStore, LedgerUnavailableError, RecordResult
from costline_processor.metrics import CostMetrics, SelfTelemetry
from costline_processor.model import LlmCall, Outcome, PricedCall
from costline_processor.normalize import normalize_in_scope, outcome_in_scope, wire_scope_view
from costline_processor.normalize.wire import lean_request
from costline_processor.pricing import Pricer
from costline_processor.unpriced_log import UnpricedLog

logger = logging.getLogger("costline.pipeline")

OVERLOAD_RETRY_AFTER_S: Final = 1.0


class Overloaded(Exception):
    """Too many export requests in flight; the sender should retry after `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"overloaded: more than the configured in-flight batches; retry in {retry_after_s}s")
        self.retry_after_s = retry_after_s


class Unavailable(Exception):
    """The request was not (fully) handled, for a reason a retry can fix (ledger or downstream down)."""


@dataclass(frozen=True, slots=True)
class Extracted:
    """The LLM calls and outcomes found in one request; `spans[i]` is the span `calls[i]` came from.

    `blocked`: the (scope, period) of each call the app's budget guard blocked; such a call was never made,
    so it is not a call of the ledger, only a count of the budget's blocked requests.
    """

    spans: list[Span]
    calls: list[LlmCall]
    outcomes: list[Outcome]
    span_count: int
    blocked: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class BatchReport:
    spans: int
    llm_calls: int
    outcomes: int
    new_calls: int


def extract(request: ExportTraceServiceRequest, raw: bytes | None = None) -> Extracted:
    """Normalise every span of the request; a span whose normaliser fails is forwarded as a plain span.

    `raw` is the request's encoding, when the caller has it: the normaliser reads the spans from a lean
    decoding of it (normalize.wire), the enrichment writes onto the spans of `request`.
    """
    spans: list[Span] = []
    calls: list[LlmCall] = []
    outcomes: list[Outcome] = []
    blocked: list[tuple[str, str]] = []
    count = 0
    lean = lean_request(request.SerializeToString() if raw is None else raw)
    for resource_spans, wire_resource_spans in zip(request.resource_spans, lean.resource_spans, strict=True):
        wire_resource = wire_resource_spans.resource.attributes
        for scope_spans, wire_scope_spans in zip(
            resource_spans.scope_spans, wire_resource_spans.scope_spans, strict=True
        ):
            try:
                view = wire_scope_view(wire_resource, wire_scope_spans.scope.name)  # read once per scope
            except Exception as exc:
                report_internal_error("pipeline.extract", exc)
                count += len(scope_spans.spans)
                continue
            for span, wire_span in zip(scope_spans.spans, wire_scope_spans.spans, strict=True):
                count += 1
                try:
                    call = normalize_in_scope(wire_span, view)
                    if call is None:
                        outcome = outcome_in_scope(wire_span, view)
                        if outcome is not None:
                            outcomes.append(outcome)
                        continue
                except Exception as exc:
                    report_internal_error("pipeline.extract", exc)
                    continue
                if call.blocked_by is not None:
                    blocked.append(call.blocked_by)
                    continue
                spans.append(span)
                calls.append(call)
    return Extracted(spans, calls, outcomes, count, blocked)


class Pipeline:
    """Runs export requests through normalise → price → ledger → metrics → enrich → forward."""

    def __init__(
        self,
        *,
        pricer: Pricer,
        ledger: LedgerStore,
        metrics: CostMetrics,
        telemetry: SelfTelemetry,
        forwarder: Forwarder | None,
        max_inflight: int,
    ) -> None:
        self._pricer = pricer
        self._ledger = ledger
        self._metrics = metrics
        self._telemetry = telemetry
        self._forwarder = forwarder
        self._unpriced_log = UnpricedLog()
        self._slots = threading.BoundedSemaphore(max_inflight)
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        # SQLite has one writer; serialising here keeps the ledger and the metrics in the same order.
        self._record_lock = threading.Lock()
        self._resync_pending = False
        # One request at a time through the pure-Python stages (extract + price, enrich + serialise):
        # threads interleaving them under the GIL cost ~25% more CPU per span on one core than the same
        # work done one request after another (bench_processor.py, 4 requests in flight vs 1); waiters
        # block here, not on the GIL. The ledger write (its fsync) and the forward's network wait stay
        # outside, so they overlap with the next request's work.
        self._work_lock = threading.Lock()

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one of the `max_inflight` slots, or raise `Overloaded` at once (never wait for one).

        Receivers take the slot before they read the request body, so at most `max_inflight` request
        bodies are in memory however many senders are connected; a refused body is never read.
        """
        if not self._slots.acquire(blocking=False):
            self._telemetry.inc(names.SELF_REQUESTS_REFUSED, reason="overloaded")
            raise Overloaded(OVERLOAD_RETRY_AFTER_S)
        self._track_inflight(+1)
        try:
            yield
        finally:
            self._track_inflight(-1)
            self._slots.release()

    def export(self, request: ExportTraceServiceRequest, raw: bytes | None = None) -> BatchReport:
        """Handle one request; raise `Overloaded` or `Unavailable` when the sender must retry it."""
        with self.admit():
            return self.export_admitted(request, raw)

    def export_admitted(
        self, request: ExportTraceServiceRequest, raw: bytes | None = None, *, raw_is_protobuf: bool = True
    ) -> BatchReport:
        """`export` for a caller already inside `admit()`; raise `Unavailable` when the sender must retry.

        `raw` is the request as received, if the receiver has it: a quick scan of it saves looking for
        processor attributes to strip span by span, and its protobuf encoding is what the normaliser reads
        (OTLP/JSON is encoded again for that).
        """
        strip = raw is None or may_carry_processor_attributes(raw)
        return self._export(request, raw if raw_is_protobuf else None, strip)

    def _track_inflight(self, delta: int) -> None:
        with self._inflight_lock:
            self._inflight += delta
            self._telemetry.set_gauge(names.SELF_INFLIGHT_BATCHES, self._inflight)

    def _export(self, request: ExportTraceServiceRequest, raw: bytes | None, strip: bool) -> BatchReport:
        with self._work_lock:
            found = extract(request, raw)
            priced = [PricedCall(call, self._pricer.price(call)) for call in found.calls]
            self._unpriced_log.note(priced)
        result = self._record(priced, found.outcomes)
        with self._work_lock:
            enrich(found.spans, priced, result.items, strip=strip)
            payload = request.SerializeToString() if self._forwarder is not None else b""
        if self._forwarder is not None:
            try:
                self._forwarder.forward(payload, found.span_count)
            except DownstreamUnavailable as exc:
                raise Unavailable(str(exc)) from exc
        if found.blocked:  # after the forward: a batch the sender must retry is not counted yet
            self._metrics.budgets.count_blocked(found.blocked)
        new_calls = sum(1 for item in result.items if item.status == STATUS_NEW)
        self._telemetry.inc(names.SELF_SPANS_RECEIVED, found.span_count)
        self._telemetry.inc(names.SELF_LLM_SPANS_RECEIVED, len(priced))
        return BatchReport(found.span_count, len(priced), len(found.outcomes), new_calls)

    def _record(self, priced: list[PricedCall], outcomes: list[Outcome]) -> RecordResult:
        with self._record_lock:
            try:
                result = self._ledger.record(priced, outcomes)
            except LedgerUnavailableError as exc:  # the database is down or failing over: no traceback
                logger.warning("ledger unavailable, the sender will retry the batch: %s", exc)
                self._telemetry.inc(names.SELF_REQUESTS_REFUSED, reason="ledger")
                raise Unavailable(f"ledger unavailable: {exc}") from exc
            except Exception as exc:
                logger.exception("ledger write failed; the sender will retry the batch")
                self._telemetry.inc(names.SELF_REQUESTS_REFUSED, reason="ledger")
                raise Unavailable(f"ledger write failed: {exc}") from exc
            # An earlier write raised although its COMMIT may have happened (the database went away during
            # it): its calls may be in the ledger and not in the counters. The ledger is the truth, and it
            # holds this request's calls too, so the counters are rebuilt from it instead of observing them.
            self._resync_pending = self._resync_pending or self._ledger.take_resync()
            if not self._resync_pending:
                self._metrics.observe(result)
                return result
            try:
                self._metrics.resync(self._ledger, result)
                self._resync_pending = False
            except LedgerUnavailableError as exc:  # committed: acknowledged; the next request rebuilds
                logger.warning("rebuilding the counters from the ledger failed, will retry: %s", exc)
        return result
