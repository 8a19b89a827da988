"""AttributionSpanProcessor: every span started under a workflow carries its attribution keys."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry import baggage, context, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from costline import attributes
from costline.outbound import hide_attribution_from_propagation
from costline.span_processor import AttributionSpanProcessor, register


def _attrs(exporter: InMemorySpanExporter) -> dict[str, dict[str, object]]:
    return {span.name: dict(span.attributes or {}) for span in exporter.get_finished_spans()}


def test_copies_attribution_onto_every_span_under_a_workflow(otel_spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("outside"):
        with costline.workflow("support", tenant_id="acme"), tracer.start_as_current_span("inside"):
            with tracer.start_as_current_span("child"):
                pass
            with costline.workflow("billing", user_id="u1"), tracer.start_as_current_span("nested"):
                pass
        with tracer.start_as_current_span("after"):
            pass
    spans = _attrs(otel_spans)
    assert spans["inside"] == {attributes.WORKFLOW_ID: "support", attributes.TENANT_ID: "acme"}
    assert spans["child"] == spans["inside"]
    assert spans["nested"] == {
        attributes.WORKFLOW_ID: "billing",
        attributes.TENANT_ID: "acme",
        attributes.USER_ID: "u1",
    }
    assert spans["outside"] == {}
    assert spans["after"] == {}


def test_never_overwrites_an_attribute_the_span_already_has(otel_spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("app")
    with costline.workflow("support", tenant_id="acme"):
        tracer.start_span("explicit", attributes={attributes.TENANT_ID: "globex"}).end()
    assert _attrs(otel_spans)["explicit"] == {
        attributes.TENANT_ID: "globex",
        attributes.WORKFLOW_ID: "support",
    }


def test_reads_the_context_passed_to_start_span(otel_spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("app")
    with costline.workflow("captured"):
        captured = context.get_current()
    with costline.workflow("current"):
        tracer.start_span("with_context", context=captured).end()
    assert _attrs(otel_spans)["with_context"] == {attributes.WORKFLOW_ID: "captured"}


def test_drops_invalid_propagated_values_and_names_them(otel_spans: InMemorySpanExporter) -> None:
    # An upstream caller's baggage gets the rule costline.workflow() enforces: invalid values are left out.
    inbound = W3CBaggagePropagator().extract(
        {"baggage": f"workflow_id={'w' * 300},tenant_id=acme%20corp,feature_id=chat,region=eu"}
    )
    token = context.attach(inbound)
    try:
        trace.get_tracer("app").start_span("server").end()
    finally:
        context.detach(token)
    assert _attrs(otel_spans)["server"] == {
        attributes.FEATURE_ID: "chat",
        attributes.LLM_ATTRIBUTION_REJECTED: (attributes.WORKFLOW_ID, attributes.TENANT_ID),
    }


def test_attributes_spans_while_attribution_is_hidden_from_propagation(
    otel_spans: InMemorySpanExporter,
) -> None:
    tracer = trace.get_tracer("sdk")
    with costline.workflow("support", feature_id="chat"), hide_attribution_from_propagation():
        assert baggage.get_all() == {}
        tracer.start_span("llm_call").end()
    assert _attrs(otel_spans)["llm_call"] == {
        attributes.WORKFLOW_ID: "support",
        attributes.FEATURE_ID: "chat",
    }


def test_register_adds_one_processor_to_sdk_providers_only() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    assert register(provider) is True
    assert register(provider) is True  # idempotent: a second call adds nothing
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with costline.workflow("support"):
        provider.get_tracer("app").start_span("s").end()
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {}) == {attributes.WORKFLOW_ID: "support"}
    processors = provider._active_span_processor._span_processors
    assert sum(isinstance(p, AttributionSpanProcessor) for p in processors) == 1
    assert register(trace.NoOpTracerProvider()) is False
    provider.shutdown()


def test_the_manual_setup_of_the_docs_registers_one_processor(
    set_global_tracer_provider: Callable[[TracerProvider], None],
) -> None:
    """docs/app-api.md's own SDK setup, as written: the app adds the processor, then instruments."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from costline.instrumentor import CostlineInstrumentor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(costline.AttributionSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    set_global_tracer_provider(provider)
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    try:
        processors = provider._active_span_processor._span_processors
        assert sum(isinstance(p, AttributionSpanProcessor) for p in processors) == 1
    finally:
        instrumentor.uninstrument()
