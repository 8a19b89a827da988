"""The costline_genai sampler keeps every LLM call span and delegates the rest, with the real SDK."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from opentelemetry import trace
from opentelemetry.sdk._configuration import _import_sampler
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import costline
from costline import attributes
from costline.sampling import GenAiSampler, parse_delegate, sampler_from_env

GENAI_START = {attributes.GEN_AI_OPERATION_NAME: "chat", attributes.GEN_AI_PROVIDER_NAME: "openai"}


Build = Callable[[str | None], tuple[trace.Tracer, InMemorySpanExporter]]


@pytest.fixture
def sampled_with(set_global_tracer_provider: Callable[[TracerProvider], None]) -> Build:
    """Install a global provider sampling as `OTEL_TRACES_SAMPLER_ARG` says; return (tracer, exporter)."""

    def build(arg: str | None) -> tuple[trace.Tracer, InMemorySpanExporter]:
        exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=sampler_from_env(arg))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        set_global_tracer_provider(provider)
        return provider.get_tracer("test"), exporter

    return build


def _names(exporter: InMemorySpanExporter) -> list[str]:
    return sorted(span.name for span in exporter.get_finished_spans())


def test_llm_spans_and_outcomes_are_kept_when_everything_else_is_dropped(sampled_with: Build) -> None:
    tracer, exporter = sampled_with("always_off")
    tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=GENAI_START).end()
    tracer.start_span(
        "openllmetry", kind=SpanKind.CLIENT, attributes={attributes.GEN_AI_SYSTEM: "openai"}
    ).end()
    tracer.start_span("anthropic.messages.create", kind=SpanKind.CLIENT).end()
    tracer.start_span("GET /", kind=SpanKind.CLIENT, attributes={"http.request.method": "GET"}).end()
    tracer.start_span("agent step", kind=SpanKind.INTERNAL, attributes=GENAI_START).end()
    tracer.start_span("handler", kind=SpanKind.SERVER).end()
    with costline.workflow("support"):
        costline.record_outcome("resolved")
    assert _names(exporter) == [
        "anthropic.messages.create",
        "chat gpt-4o",
        attributes.OUTCOME_SPAN_NAME,
        "openllmetry",
    ]


def test_llm_span_under_an_unsampled_parent_is_kept_as_a_fragment(sampled_with: Build) -> None:
    tracer, exporter = sampled_with("0")
    with tracer.start_as_current_span("request") as parent:
        assert not parent.get_span_context().trace_flags.sampled
        with tracer.start_as_current_span("chat", kind=SpanKind.CLIENT, attributes=GENAI_START):
            # Children of the kept LLM span follow it (parent-based delegate): HTTP spans are kept too.
            tracer.start_span("POST /v1/chat/completions", kind=SpanKind.CLIENT).end()
    http, llm = sorted(exporter.get_finished_spans(), key=lambda s: s.name)  # 'POST' < 'chat'
    assert llm.context.trace_id == parent.get_span_context().trace_id
    assert llm.parent is not None
    assert llm.parent.span_id == parent.get_span_context().span_id  # the parent itself is never exported
    assert http.parent is not None
    assert http.parent.span_id == llm.context.span_id


def test_default_delegate_samples_everything(sampled_with: Build) -> None:
    tracer, exporter = sampled_with(None)
    tracer.start_span("handler", kind=SpanKind.SERVER).end()
    assert _names(exporter) == ["handler"]


@pytest.mark.parametrize(
    ("arg", "description"),
    [
        (None, "ParentBased{root:AlwaysOnSampler"),
        ("", "ParentBased{root:AlwaysOnSampler"),
        ("0.1", "ParentBased{root:TraceIdRatioBased{0.1}"),
        ("parentbased_traceidratio:0.25", "ParentBased{root:TraceIdRatioBased{0.25}"),
        ("traceidratio:0.5", "TraceIdRatioBased{0.5}"),
        ("TRACEIDRATIO", "TraceIdRatioBased{1.0}"),
        ("always_off", "AlwaysOffSampler"),
        (" always_on ", "AlwaysOnSampler"),
        ("parentbased_always_off", "ParentBased{root:AlwaysOffSampler"),
    ],
)
def test_delegate_is_parsed_from_the_sampler_arg(arg: str | None, description: str) -> None:
    sampler = sampler_from_env(arg)
    assert isinstance(sampler, GenAiSampler)
    assert sampler.get_description().startswith(f"CostlineGenAiSampler{{delegate={description}")


@pytest.mark.parametrize("arg", ["ten_percent", "1.5", "-0.1", "traceidratio:x", "always_on:0.5", "nan"])
def test_bad_arg_is_rejected_by_the_parser_and_defaulted_by_the_factory(
    arg: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ValueError, match=r"unknown sampler|sampling ratio"):
        parse_delegate(arg)
    with caplog.at_level(logging.WARNING, logger="costline"):
        sampler = sampler_from_env(arg)
    assert "bad OTEL_TRACES_SAMPLER_ARG" in caplog.text
    assert sampler.get_description().startswith("CostlineGenAiSampler{delegate=ParentBased{root:AlwaysOn")


def test_loaded_by_the_sdk_from_the_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    # The path OTEL_TRACES_SAMPLER=costline_genai takes in the SDK's auto-configuration.
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "parentbased_traceidratio:0.2")
    sampler = _import_sampler("costline_genai")
    assert isinstance(sampler, GenAiSampler)
    assert "TraceIdRatioBased{0.2}" in sampler.get_description()
