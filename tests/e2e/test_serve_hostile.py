"""Malformed and hostile input never crashes `costline serve`: a clear error, or an unpriced count.

Memory stays bounded: 100,000 distinct workflow ids fold into `__overflow__` past the label limit, and the
process's resident memory is checked against a fixed bound.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from genai_spans import Call, encode_request, make_spans
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
RSS_BOUND_BYTES = 400 * 1024 * 1024
DISTINCT_WORKFLOWS = 100_000
PER_BATCH = 10_000


def export(target: str, payload: bytes) -> grpc.StatusCode:
    with grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        try:
            channel.unary_unary(EXPORT)(payload, timeout=60)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
            return code
    return grpc.StatusCode.OK


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def too_deep_request(depth: int) -> bytes:
    """A resource attribute nested `depth` arrays deep; Python's protobuf cannot even build it."""
    value = field(1, b"bottom")  # AnyValue.string_value
    for _ in range(depth):
        value = field(5, field(1, value))  # AnyValue.array_value -> ArrayValue.values
    key_value = field(1, b"deep") + field(2, value)
    return field(1, field(1, field(1, key_value)))  # request.resource_spans.resource.attributes


def malformed_payloads() -> dict[str, bytes]:
    good = encode_request(make_spans([Call("openai", "gpt-4o", 10, 10)])).SerializeToString()
    bad_utf8 = good.replace(b"gpt-4o", b"gpt-4\xff", 1)
    return {
        "truncated": good[: len(good) - 7],
        "garbage": b"\xff" * 64,
        "invalid utf-8 in a string": bad_utf8,
        "nesting deeper than the decoder allows": too_deep_request(300),
    }


HOSTILE_CALLS = {
    # name: (extra attributes, must be unpriced)
    "negative tokens": ({attr.GEN_AI_USAGE_INPUT_TOKENS: -5}, True),
    "huge tokens": ({attr.GEN_AI_USAGE_INPUT_TOKENS: 10**15}, True),
    "max int64 tokens": ({attr.GEN_AI_USAGE_OUTPUT_TOKENS: 2**63 - 1}, True),
    "NaN tokens": ({attr.GEN_AI_USAGE_INPUT_TOKENS: math.nan}, True),
    "infinite tokens": ({attr.GEN_AI_USAGE_OUTPUT_TOKENS: math.inf}, True),
    "cache read above input": ({attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 50}, True),
    "string tokens": ({attr.GEN_AI_USAGE_INPUT_TOKENS: "lots"}, True),
    "array tokens": ({attr.GEN_AI_USAGE_INPUT_TOKENS: [1, 2]}, True),
    "bool model": ({attr.GEN_AI_REQUEST_MODEL: True, attr.GEN_AI_RESPONSE_MODEL: False}, False),
    "float tokens": ({attr.GEN_AI_USAGE_INPUT_TOKENS: 10.0}, False),
    "workflow id with control characters": ({attr.WORKFLOW_ID: 'a\nb\x00c"}'}, False),
    "very long workflow id": ({attr.WORKFLOW_ID: "w" * 100_000}, False),
}


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def test_malformed_payloads_get_invalid_argument(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        for name, payload in malformed_payloads().items():
            assert export(serve.grpc_target, payload) == grpc.StatusCode.INVALID_ARGUMENT, name
        assert serve.get("/healthz")[0] == 200
        samples = serve.metrics()
    assert total(samples, names.SELF_REQUESTS_INVALID, reason="malformed") == 4
    assert tempo.spans == []


def test_hostile_attributes_are_unpriced_never_fatal(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    calls = [
        Call("openai", "gpt-4o", 10, 10, response_id=f"hostile-{n}", extra=extra)
        for n, (extra, _) in enumerate(HOSTILE_CALLS.values())
    ]
    must_be_unpriced = sum(1 for _, unpriced in HOSTILE_CALLS.values() if unpriced)
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        assert (
            export(serve.grpc_target, encode_request(make_spans(calls)).SerializeToString())
            == grpc.StatusCode.OK
        )
        samples = serve.metrics()
    assert total(samples, names.PROM_REQUESTS_TOTAL) == len(calls)
    assert total(samples, names.PROM_UNPRICED_REQUESTS_TOTAL, reason="invalid_usage") >= must_be_unpriced
    assert len(tempo.spans) == len(calls) + 1  # every span forwarded, with its reason when unpriced
    reasons = [s.attributes.get(attr.LLM_COST_UNPRICED_REASON) for s in tempo.spans]
    assert reasons.count("invalid_usage") >= must_be_unpriced


def many_workflows(start: int, count: int) -> bytes:
    """`count` calls, each with its own workflow id, cloned from one SDK-made span."""
    template = encode_request(make_spans([Call("openai", "gpt-4o", 1_000, 100, workflow_id="w")]))
    scope_spans = template.resource_spans[0].scope_spans
    llm_scope = next(s for s in scope_spans if s.scope.name == attr.INSTRUMENTATION_SCOPE)
    (span,) = llm_scope.spans
    request = ExportTraceServiceRequest()
    request.resource_spans.add().CopyFrom(template.resource_spans[0])
    out = next(s for s in request.resource_spans[0].scope_spans if s.scope.name == attr.INSTRUMENTATION_SCOPE)
    del out.spans[:]
    workflow_index = next(i for i, kv in enumerate(span.attributes) if kv.key == attr.WORKFLOW_ID)
    for n in range(start, start + count):
        clone = out.spans.add()
        clone.CopyFrom(span)
        clone.span_id = (n + 1).to_bytes(8, "big")
        clone.attributes[workflow_index].value.string_value = f"run-{n:06d}"
    return request.SerializeToString()


def test_100k_distinct_workflow_ids_keep_memory_and_series_bounded(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}", "--label-limit=500"]) as serve:
        for start in range(0, DISTINCT_WORKFLOWS, PER_BATCH):
            assert export(serve.grpc_target, many_workflows(start, PER_BATCH)) == grpc.StatusCode.OK
        rss = serve.rss_bytes()
        samples = serve.metrics()
    workflows = {
        dict(labels)[attr.WORKFLOW_ID]
        for (name, labels), _ in samples.items()
        if name == names.PROM_REQUESTS_TOTAL
    }
    assert len(workflows) <= 501
    assert names.OVERFLOW_LABEL_VALUE in workflows
    assert total(samples, names.PROM_REQUESTS_TOTAL) == DISTINCT_WORKFLOWS  # folded, never dropped
    assert total(samples, names.SELF_LABEL_OVERFLOW) > 0
    assert rss < RSS_BOUND_BYTES, f"RSS {rss / 2**20:.0f} MiB"
