"""bench_processor.py's workload: realistic, distinct LLM spans in pre-encoded OTLP export requests, and the
budgets file over them."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline import attributes as attr

MARKER = b"~0000"
SPAN_SPACING_NS = 30_000  # start times as of spans sent at ~33k/s
BASE_BATCHES = 32


def _kv(key: str, value: str | int) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = value
    return kv


def make_batches(count: int, spans_per_batch: int, start_ns: int | None = None) -> list[bytes]:
    """`count` requests of distinct, realistic LLM spans (as costline's instrumentation emits them): 12
    workflows, 97 users, token counts that differ from span to span, random trace ids (as the OTel SDK
    makes them: a ledger's dedupe indexes see no order in them) and start times that advance.

    Every id holds the marker `~0000`; `variant()` replaces it to make another `count` distinct requests
    (same length, so the protobuf stays valid) and moves their start times on.
    """
    template = Span(name="chat gpt-4o-mini", kind=Span.SPAN_KIND_CLIENT)
    template.attributes.extend(
        [
            _kv(attr.GEN_AI_PROVIDER_NAME, attr.PROVIDER_OPENAI),
            _kv(attr.GEN_AI_OPERATION_NAME, attr.OPERATION_CHAT),
            _kv(attr.GEN_AI_REQUEST_MODEL, "gpt-4o-mini"),
            _kv(attr.GEN_AI_RESPONSE_MODEL, "gpt-4o-mini-2024-07-18"),
            _kv(attr.GEN_AI_RESPONSE_ID, ""),
            _kv(attr.GEN_AI_USAGE_INPUT_TOKENS, 1_200),
            _kv(attr.GEN_AI_USAGE_OUTPUT_TOKENS, 300),
            _kv(attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 256),
            _kv(attr.SERVER_ADDRESS, "api.openai.com"),
            _kv(attr.WORKFLOW_ID, ""),
            _kv(attr.FEATURE_ID, "chat"),
            _kv(attr.TENANT_ID, "acme"),
            _kv(attr.USER_ID, "u-1"),
        ]
    )
    at = {kv.key: i for i, kv in enumerate(template.attributes)}
    now = time.time_ns() if start_ns is None else start_ns
    batches = []
    for b in range(count):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(
            [_kv("service.name", "bench-app"), _kv("telemetry.sdk.name", "opentelemetry")]
        )
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = attr.INSTRUMENTATION_SCOPE
        for n in range(spans_per_batch):
            serial = b * spans_per_batch + n
            span = scope_spans.spans.add()
            span.CopyFrom(template)
            span.trace_id = secrets.token_bytes(11) + MARKER  # new to a ledger that earlier runs filled
            span.span_id = secrets.token_bytes(3) + MARKER
            span.start_time_unix_nano = now + serial * SPAN_SPACING_NS
            span.end_time_unix_nano = span.start_time_unix_nano + 900_000_000
            attributes = span.attributes
            response_id = f"chatcmpl-{MARKER.decode()}-{serial:08x}"
            attributes[at[attr.GEN_AI_RESPONSE_ID]].value.string_value = response_id
            attributes[at[attr.WORKFLOW_ID]].value.string_value = f"workflow-{n % 12}"
            attributes[at[attr.USER_ID]].value.string_value = f"u-{serial % 97}"
            # Token counts vary as real calls' do (a scrambled serial: no two neighbours alike).
            input_tokens = 100 + serial * 7919 % 19_900
            attributes[at[attr.GEN_AI_USAGE_INPUT_TOKENS]].value.int_value = input_tokens
            attributes[at[attr.GEN_AI_USAGE_OUTPUT_TOKENS]].value.int_value = 1 + serial * 104_729 % 2_000
            attributes[at[attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]].value.int_value = min(
                input_tokens, serial * 131 % 8 * 1_024
            )
        batches.append(request.SerializeToString())
    return batches


def write_budgets(count: int, path: Path) -> Path | None:
    """`count` budgets over the sent traffic: daily and monthly per workflow, then monthly for the tenant."""
    if count == 0:
        return None
    entries = [f"  - {{workflow_id: workflow-{n // 2 % 12}, period: {('daily', 'monthly')[n % 2]},"
               f" limit_usd: 1000000}}" for n in range(count - 1)]  # fmt: skip
    entries.append("  - {tenant_id: acme, period: monthly, limit_usd: 1000000, stop_at: 100, on_stop: block}")
    path.write_text("budgets:\n" + "\n".join(entries) + "\n", encoding="utf-8")
    return path


def variant(batch: bytes, number: int) -> bytes:
    """The same request with every id changed and its start times moved past the earlier variants'."""
    request = ExportTraceServiceRequest.FromString(batch.replace(MARKER, b"~%04x" % number))
    spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    shift = number * BASE_BATCHES * len(spans) * SPAN_SPACING_NS
    for span in spans:
        span.start_time_unix_nano += shift
        span.end_time_unix_nano += shift
    return request.SerializeToString()
