"""Delivery guarantees of `costline serve`, with real processes: never lose, never double-count.

A small "collector" here keeps every batch until `costline serve` acknowledges it and resends the rest,
as the OTel Collector's retrying exporter with a persistent queue does. Every priced call is a gpt-4o call
of 1,000 input and 100 output tokens: at the list price ($2.50 / $10 per million tokens) $0.0035 each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from genai_spans import Call, encode_request, make_call_spans, make_spans
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
CALL_COST = (1_000 * Decimal("2.50") + 100 * Decimal(10)) / Decimal(1_000_000)


def batch(index: int, calls: int) -> bytes:
    """One export request of `calls` distinct gpt-4o calls (plus the app's root span)."""
    specs = [Call("openai", "gpt-4o", 1_000, 100, response_id=f"chatcmpl-{index}-{n}") for n in range(calls)]
    return encode_request(make_spans(specs)).SerializeToString()


class Collector:
    """Sends raw export requests over gRPC and remembers which ones were acknowledged."""

    def __init__(self, batches: Sequence[bytes]) -> None:
        self.batches = list(batches)
        self.acked: set[int] = set()
        self.refusals: list[grpc.StatusCode] = []

    def send(self, target: str, index: int) -> bool:
        with grpc.insecure_channel(target) as channel:
            try:
                channel.unary_unary(EXPORT)(self.batches[index], timeout=10)
            except grpc.RpcError as error:
                self.refusals.append(error.code())  # type: ignore[attr-defined]
                return False
        self.acked.add(index)
        return True

    def send_all(self, target: str, stop: threading.Event | None = None) -> None:
        for index in range(len(self.batches)):
            if stop is not None and stop.is_set():
                return
            if index not in self.acked:
                self.send(target, index)

    def redeliver(self, target: str, timeout_s: float = 30.0) -> None:
        """Resend every unacknowledged batch until all are acknowledged."""
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < len(self.batches):
            assert time.monotonic() < deadline, f"{len(self.batches) - len(self.acked)} batches never acked"
            self.send_all(target)
            if len(self.acked) < len(self.batches):
                time.sleep(0.2)


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def llm_span_ids(tempo: GrpcTraceCapture) -> set[str]:
    return {s.span_id for s in tempo.spans if attr.GEN_AI_PROVIDER_NAME in s.attributes}


def test_kill_9_mid_load_then_redelivery_counts_every_call_once(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    calls_per_batch, batch_count = 50, 40
    collector = Collector([batch(i, calls_per_batch) for i in range(batch_count)])
    args = [f"--traces-endpoint={tempo.endpoint}"]
    serve = ServeProcess(tmp_path, args=args).start()
    sender = threading.Thread(target=collector.send_all, args=(serve.grpc_target,))
    sender.start()
    deadline = time.monotonic() + 30
    while len(collector.acked) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    serve.kill9()  # mid-load: some batches acked, maybe one committed but unacknowledged, the rest unsent
    sender.join(30)
    acked_before_crash = len(collector.acked)
    assert 5 <= acked_before_crash < batch_count
    assert grpc.StatusCode.UNAVAILABLE in collector.refusals

    with ServeProcess(tmp_path, args=args) as restarted:
        collector.redeliver(restarted.grpc_target)
        samples = restarted.metrics()
    calls = calls_per_batch * batch_count
    assert total(samples, names.PROM_REQUESTS_TOTAL) == calls
    assert (
        Decimal(repr(total(samples, names.PROM_COST_USD_TOTAL))).quantize(Decimal("1e-9"))
        == calls * CALL_COST
    )
    assert len(llm_span_ids(tempo)) == calls  # every span reached Tempo (some twice: idempotent there)


def test_crash_after_commit_before_ack_is_not_counted_twice(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    """The narrowest window: the ledger has committed the batch, Tempo has not answered, kill -9."""
    collector = Collector([batch(0, 10)])
    tempo.hold = threading.Event()
    args = [f"--traces-endpoint={tempo.endpoint}"]
    serve = ServeProcess(tmp_path, args=args).start()
    sender = threading.Thread(target=collector.send, args=(serve.grpc_target, 0))
    sender.start()
    deadline = time.monotonic() + 15
    while total(serve.metrics(), names.PROM_REQUESTS_TOTAL) < 10:  # committed and counted, not acked
        assert time.monotonic() < deadline, serve.log()
        time.sleep(0.02)
    serve.kill9()
    sender.join(15)
    assert collector.acked == set()
    tempo.hold.set()
    with ServeProcess(tmp_path, args=args) as restarted:
        collector.redeliver(restarted.grpc_target)
        samples = restarted.metrics()
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 10
    assert total(samples, names.SELF_DUPLICATES_IGNORED) == 10
    assert len(llm_span_ids(tempo)) == 10


def test_same_batch_twice_is_counted_once_and_forwarded_twice(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    collector = Collector([batch(0, 3)])
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        assert collector.send(serve.grpc_target, 0)
        assert collector.send(serve.grpc_target, 0)
        samples = serve.metrics()
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 3
    assert total(samples, names.PROM_COST_USD_TOTAL) == pytest.approx(float(3 * CALL_COST), rel=1e-12)
    assert total(samples, names.SELF_DUPLICATES_IGNORED) == 3
    assert len(tempo.spans) == 2 * 4
    priced = [s for s in tempo.spans if attr.LLM_COST_USD in s.attributes]
    assert len(priced) == 6  # both copies carry the cost: Tempo keeps one span per span id


def test_one_call_as_two_genai_spans_is_counted_once(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    """costline's span and the official OTel GenAI instrumentation's span of the same call."""
    call = Call("openai", "gpt-4o", 1_000, 100, response_id="chatcmpl-shared")
    scopes = ["opentelemetry.instrumentation.genai.openai", attr.INSTRUMENTATION_SCOPE]
    spans = make_call_spans([call], scopes)  # nested: both wrap the one SDK call
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        otlp = OTLPSpanExporter(endpoint=serve.grpc_target, insecure=True)
        assert otlp.export(spans) == SpanExportResult.SUCCESS
        otlp.shutdown()
        samples = serve.metrics()
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 1
    assert total(samples, names.PROM_COST_USD_TOTAL) == pytest.approx(float(CALL_COST), rel=1e-12)
    first, second = (s for s in tempo.spans if attr.GEN_AI_PROVIDER_NAME in s.attributes)
    assert first.attributes[attr.LLM_COST_USD] == pytest.approx(float(CALL_COST), rel=1e-12)
    assert second.attributes[attr.LLM_COST_DUPLICATE_OF] == first.span_id
    assert attr.LLM_COST_USD not in second.attributes


def test_tempo_down_then_up_loses_nothing(tmp_path: Path) -> None:
    """The SDK exporter gets UNAVAILABLE with a RetryInfo, retries, and succeeds once Tempo is back."""
    tempo = GrpcTraceCapture().start()
    tempo_port = tempo.port
    tempo.stop()  # Tempo is down
    spans = make_spans([Call("openai", "gpt-4o", 1_000, 100, response_id=f"r{n}") for n in range(5)])
    with ServeProcess(tmp_path, args=[f"--traces-endpoint=http://127.0.0.1:{tempo_port}"]) as serve:
        otlp = OTLPSpanExporter(endpoint=serve.grpc_target, insecure=True, timeout=30)
        result: list[SpanExportResult] = []
        exporting = threading.Thread(target=lambda: result.append(otlp.export(spans)))
        exporting.start()
        deadline = time.monotonic() + 15
        while total(serve.metrics(), names.SELF_FORWARD_FAILURES) < 1:
            assert time.monotonic() < deadline, serve.log()
            time.sleep(0.05)
        tempo = GrpcTraceCapture(port=tempo_port).start()  # Tempo is back on the same address
        try:
            exporting.join(30)
            assert result == [SpanExportResult.SUCCESS]
            otlp.shutdown()
            samples = serve.metrics()
        finally:
            tempo.stop()
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 5
    assert total(samples, names.PROM_COST_USD_TOTAL) == pytest.approx(float(5 * CALL_COST), rel=1e-12)
    assert len(llm_span_ids(tempo)) == 5
