"""The pipeline with its real parts (normaliser, pricer, SQLite ledger, metrics, gRPC forwarder to a capture).

Expected costs are computed here from list prices per million tokens (never with our pricing code):
claude-sonnet-4-0: input $3, cache read $0.30, cache write (5 min) $3.75, output $15.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline import attributes as attr
from costline_processor import metric_names as names
from costline_processor.enrich import cost_attributes, string_attribute
from costline_processor.forwarder import GrpcForwarder
from costline_processor.ledger import Ledger
from costline_processor.metrics import CostMetrics, LabelLimits, SelfTelemetry
from costline_processor.model import Cost
from costline_processor.pipeline import Overloaded, Pipeline, Unavailable
from costline_processor.pricing import Pricer
from genai_spans import Call, encode_request, make_call_spans, make_spans
from otlp_grpc_capture import GrpcTraceCapture

M = Decimal(1_000_000)
SONNET = Call(
    "anthropic", "claude-sonnet-4-0", 10_000, 500, cache_read=6_000, cache_write=2_000, response_id="msg_1"
)
# 2,000 uncached input at $3 + 6,000 cache read at $0.30 + 2,000 cache write at $3.75 + 500 output at $15
SONNET_COST = (2_000 * Decimal(3) + 6_000 * Decimal("0.30") + 2_000 * Decimal("3.75") + 500 * Decimal(15)) / M


class Parts:
    def __init__(self, tmp_path: Path, tempo: GrpcTraceCapture, max_inflight: int = 4) -> None:
        self.telemetry = SelfTelemetry()
        self.ledger = Ledger(tmp_path / "ledger.sqlite3")
        self.metrics = CostMetrics(
            limits=LabelLimits(max_values_per_label=100), service_instance_id="t", telemetry=self.telemetry
        )
        self.forwarder = GrpcForwarder(
            tempo.endpoint,
            headers=[("X-Scope-OrgID", "acme")],
            timeout_s=5,
            max_message_bytes=4 << 20,
            telemetry=self.telemetry,
        )
        self.pipeline = Pipeline(
            pricer=Pricer.load(None),
            ledger=self.ledger,
            metrics=self.metrics,
            telemetry=self.telemetry,
            forwarder=self.forwarder,
            max_inflight=max_inflight,
        )

    def close(self) -> None:
        self.forwarder.close()
        self.ledger.close()


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


@pytest.fixture
def parts(tmp_path: Path, tempo: GrpcTraceCapture) -> Iterator[Parts]:
    made = Parts(tmp_path, tempo)
    yield made
    made.close()


def llm_spans(tempo: GrpcTraceCapture) -> list[dict[str, object]]:
    return [s.attributes for s in tempo.spans if attr.GEN_AI_PROVIDER_NAME in s.attributes]


def test_llm_spans_are_priced_enriched_and_every_span_forwarded(
    parts: Parts, tempo: GrpcTraceCapture
) -> None:
    request = encode_request(make_spans([SONNET], plain_spans=2))
    report = parts.pipeline.export(request)
    assert (report.spans, report.llm_calls, report.new_calls) == (4, 1, 1)
    assert len(tempo.spans) == 4
    (enriched,) = llm_spans(tempo)
    assert enriched[attr.LLM_COST_USD] == float(SONNET_COST)
    assert enriched[attr.LLM_COST_CACHE_READ_USD] == float(6_000 * Decimal("0.30") / M)
    assert enriched[attr.LLM_COST_CACHE_WRITE_USD] == float(2_000 * Decimal("3.75") / M)
    assert enriched[attr.LLM_PRICING_SOURCE]
    plain = [s for s in tempo.spans if s.name.startswith("db query")]
    assert all(not any(k.startswith("llm.") for k in s.attributes) for s in plain)
    assert tempo.metadata[0]["x-scope-orgid"] == "acme"
    assert parts.ledger.totals().cost_total == SONNET_COST


def test_a_redelivered_batch_is_counted_once_and_forwarded_again(
    parts: Parts, tempo: GrpcTraceCapture
) -> None:
    payload = encode_request(make_spans([SONNET])).SerializeToString()
    first = parts.pipeline.export(ExportTraceServiceRequest.FromString(payload))
    second = parts.pipeline.export(ExportTraceServiceRequest.FromString(payload))
    assert (first.new_calls, second.new_calls) == (1, 0)
    assert parts.ledger.totals().requests == 1
    assert parts.ledger.totals().cost_total == SONNET_COST
    spans = llm_spans(tempo)
    assert len(spans) == 2
    assert all(s[attr.LLM_COST_USD] == float(SONNET_COST) for s in spans)


def test_two_spans_of_one_call_are_counted_once(parts: Parts, tempo: GrpcTraceCapture) -> None:
    # same trace, same response id, same model and usage, nested in time: one call, two instrumentations
    spans = make_call_spans([SONNET], ["opentelemetry.instrumentation.anthropic", attr.INSTRUMENTATION_SCOPE])
    parts.pipeline.export(encode_request(spans))
    assert parts.ledger.totals().requests == 1
    first, second = llm_spans(tempo)
    canonical = next(s for s in tempo.spans if attr.LLM_COST_USD in s.attributes)
    assert first[attr.LLM_COST_USD] == float(SONNET_COST)
    assert attr.LLM_COST_USD not in second
    assert second[attr.LLM_COST_DUPLICATE_OF] == canonical.span_id


def test_unpriced_calls_say_why(parts: Parts, tempo: GrpcTraceCapture) -> None:
    unknown = Call("openai", "no-such-model-xyz", 10, 10, response_id="r1")
    hostile = Call("openai", "gpt-4o", 10, 10, response_id="r2", extra={attr.GEN_AI_USAGE_INPUT_TOKENS: -5})
    parts.pipeline.export(encode_request(make_spans([unknown, hostile])))
    reasons = sorted(str(s[attr.LLM_COST_UNPRICED_REASON]) for s in llm_spans(tempo))
    assert reasons == ["invalid_usage", "unknown_model"]
    assert parts.ledger.totals().unpriced == 2


def test_forged_cost_attributes_are_replaced(parts: Parts, tempo: GrpcTraceCapture) -> None:
    request = encode_request(make_spans([SONNET]))
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.append(KeyValue(key=attr.LLM_COST_USD))
    span.attributes[-1].value.double_value = 999.0
    parts.pipeline.export(request)
    (forwarded,) = (s for s in tempo.spans if attr.LLM_COST_USD in s.attributes)
    assert forwarded.attributes[attr.LLM_COST_USD] == float(SONNET_COST)


def costline_spans(request: ExportTraceServiceRequest) -> list[Span]:
    return [
        span
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        if scope_spans.scope.name == attr.INSTRUMENTATION_SCOPE
        for span in scope_spans.spans
    ]


def test_the_de_facto_cost_attribute_is_costlines_price_once(parts: Parts, tempo: GrpcTraceCapture) -> None:
    # LiteLLM writes its own estimate in gen_ai.usage.cost: the span must carry costline's price, once
    request = encode_request(make_spans([SONNET]))
    (span,) = costline_spans(request)
    span.attributes.append(KeyValue(key=attr.GEN_AI_USAGE_COST))
    span.attributes[-1].value.double_value = 0.5
    parts.pipeline.export(request)
    (forwarded,) = (span for sent in tempo.requests for span in costline_spans(sent))
    costs = [kv.value.double_value for kv in forwarded.attributes if kv.key == attr.GEN_AI_USAGE_COST]
    assert costs == [float(SONNET_COST)]


def test_downstream_down_then_up_loses_nothing(parts: Parts, tempo: GrpcTraceCapture) -> None:
    payload = encode_request(make_spans([SONNET])).SerializeToString()
    tempo.fail_with = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(Unavailable, match="UNAVAILABLE"):
        parts.pipeline.export(ExportTraceServiceRequest.FromString(payload))
    assert parts.ledger.totals().requests == 1  # recorded before forwarding; the retry will not recount
    tempo.fail_with = None
    parts.pipeline.export(ExportTraceServiceRequest.FromString(payload))
    assert parts.ledger.totals().requests == 1
    assert len(llm_spans(tempo)) == 1


def test_a_permanent_downstream_refusal_is_acknowledged_and_counted(
    parts: Parts, tempo: GrpcTraceCapture
) -> None:
    tempo.fail_with = grpc.StatusCode.INVALID_ARGUMENT
    parts.pipeline.export(encode_request(make_spans([SONNET], plain_spans=1)))
    assert parts.ledger.totals().requests == 1
    assert parts.telemetry.value(names.SELF_SPANS_DROPPED, reason="downstream_rejected") == 3


def test_more_batches_than_the_in_flight_limit_are_refused(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    parts = Parts(tmp_path, tempo, max_inflight=1)
    entered, release = threading.Event(), threading.Event()
    original = parts.ledger.record

    def slow_record(*args: object, **kwargs: object) -> object:
        entered.set()
        release.wait(10)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    parts.ledger.record = slow_record  # type: ignore[method-assign]
    worker = threading.Thread(target=parts.pipeline.export, args=(encode_request(make_spans([SONNET])),))
    worker.start()
    try:
        assert entered.wait(10)
        with pytest.raises(Overloaded) as refused:
            parts.pipeline.export(encode_request(make_spans([SONNET])))
        assert refused.value.retry_after_s > 0
    finally:
        release.set()
        worker.join(10)
        parts.close()


def test_a_ledger_failure_is_retryable(parts: Parts) -> None:
    parts.ledger.close()
    with pytest.raises(Unavailable, match="ledger"):
        parts.pipeline.export(encode_request(make_spans([SONNET])))


def test_pre_encoded_attributes_equal_what_the_protobuf_api_builds() -> None:
    cost = Cost(
        Decimal("0.1"), Decimal("0.02"), Decimal("0.003"), Decimal("1.5"), source="genai-prices 0.2.3"
    )
    span = Span()
    span.MergeFromString(cost_attributes(cost))
    long_value = "é" * 300  # a multi-byte length varint
    span.MergeFromString(string_attribute(attr.LLM_COST_UNPRICED_REASON, long_value))
    expected = Span()
    for key, value in (
        (attr.LLM_COST_USD, cost.total),
        (attr.GEN_AI_USAGE_COST, cost.total),  # the de facto name other trace UIs read
        (attr.LLM_COST_INPUT_USD, cost.input),
        (attr.LLM_COST_OUTPUT_USD, cost.output),
        (attr.LLM_COST_CACHE_READ_USD, cost.cache_read),
        (attr.LLM_COST_CACHE_WRITE_USD, cost.cache_write),
    ):
        expected.attributes.add(key=key).value.double_value = float(value)
    expected.attributes.add(key=attr.LLM_PRICING_SOURCE).value.string_value = cost.source
    expected.attributes.add(key=attr.LLM_COST_UNPRICED_REASON).value.string_value = long_value
    assert span == expected
    assert span.SerializeToString() == expected.SerializeToString()
