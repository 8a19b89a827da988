"""Build GenAI client spans the way costline's instrumentation emits them, with the real OTel SDK.

`make_spans` records spans with an SDK `TracerProvider` and `encode_request` turns them into the
`ExportTraceServiceRequest` an OTLP exporter would send, so processor tests see exactly the wire format.
Token counts follow the semconv (inclusive) model: input includes cache reads and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from costline import attributes as attr


@dataclass(frozen=True)
class Call:
    """One LLM call to emit as a span (tokens inclusive, as semconv)."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0
    response_id: str | None = None
    workflow_id: str | None = "support"
    batch: bool = False
    extra: dict[str, AttributeValue] = field(default_factory=dict)

    def attributes(self) -> dict[str, AttributeValue]:
        found: dict[str, AttributeValue] = {
            attr.GEN_AI_PROVIDER_NAME: self.provider,
            attr.GEN_AI_OPERATION_NAME: attr.OPERATION_CHAT,
            attr.GEN_AI_REQUEST_MODEL: self.model,
            attr.GEN_AI_RESPONSE_MODEL: self.model,
            attr.GEN_AI_USAGE_INPUT_TOKENS: self.input_tokens,
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: self.output_tokens,
        }
        if self.cache_read:
            found[attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = self.cache_read
        if self.cache_write:
            found[attr.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = self.cache_write
        if self.reasoning:
            found[attr.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = self.reasoning
        if self.response_id is not None:
            found[attr.GEN_AI_RESPONSE_ID] = self.response_id
        if self.workflow_id is not None:
            found[attr.WORKFLOW_ID] = self.workflow_id
        if self.batch:
            found[attr.LLM_REQUEST_BATCH] = True
        found.update(self.extra)
        return found


def provider(service_name: str = "checkout-app") -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider, exporter


@dataclass(frozen=True)
class OutcomeSpec:
    """A business outcome as `costline.record_outcome` sends it (an INTERNAL `costline.outcome` span)."""

    workflow_id: str
    outcome: str
    count: int = 1


def emit(
    tracer_provider: TracerProvider,
    calls: Sequence[Call],
    *,
    plain_spans: int = 0,
    outcomes: Sequence[OutcomeSpec] = (),
) -> None:
    """Emit `calls` as GenAI client spans (scope `costline`) inside one root span, plus plain spans."""
    tracer = tracer_provider.get_tracer(attr.INSTRUMENTATION_SCOPE)
    app = tracer_provider.get_tracer("app")
    with app.start_as_current_span("handle request", kind=SpanKind.SERVER):
        for call in calls:
            name = f"{attr.OPERATION_CHAT} {call.model}"
            tracer.start_span(name, kind=SpanKind.CLIENT, attributes=call.attributes()).end()
        for index in range(plain_spans):
            app.start_span(f"db query {index}", attributes={"db.system": "postgresql"}).end()
        for outcome in outcomes:
            outcome_attributes: dict[str, AttributeValue] = {
                attr.LLM_OUTCOME_NAME: outcome.outcome,
                attr.LLM_OUTCOME_COUNT: outcome.count,
                attr.WORKFLOW_ID: outcome.workflow_id,
            }
            tracer.start_span(attr.OUTCOME_SPAN_NAME, attributes=outcome_attributes).end()


def make_spans(
    calls: Sequence[Call],
    *,
    plain_spans: int = 0,
    outcomes: Sequence[OutcomeSpec] = (),
    service_name: str = "checkout-app",
) -> list[ReadableSpan]:
    tracer_provider, exporter = provider(service_name)
    emit(tracer_provider, calls, plain_spans=plain_spans, outcomes=outcomes)
    tracer_provider.shutdown()
    return list(exporter.get_finished_spans())


def make_call_spans(
    calls: Sequence[Call], scopes: Sequence[str], *, service_name: str = "checkout-app"
) -> list[ReadableSpan]:
    """Each call traced by several instrumentations, one after the other inside one root span.

    A call's spans nest as the wrappers of one SDK method do: the first scope's span is the outermost, so
    the spans of one call overlap in time and those of different calls do not.
    """
    tracer_provider, exporter = provider(service_name)
    app = tracer_provider.get_tracer("app")
    with app.start_as_current_span("handle request", kind=SpanKind.SERVER):
        for call in calls:
            name = f"{attr.OPERATION_CHAT} {call.model}"
            with ExitStack() as nested:
                for scope in scopes:
                    span = tracer_provider.get_tracer(scope).start_as_current_span(
                        name, kind=SpanKind.CLIENT, attributes=call.attributes()
                    )
                    nested.enter_context(span)
    tracer_provider.shutdown()
    return list(exporter.get_finished_spans())


def encode_request(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    return encode_spans(spans)
