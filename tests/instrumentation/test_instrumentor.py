"""The instrumentor's contract: exact uninstrument, no double wrap, entry point, span processor, settings."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable
from typing import Any

import anthropic
import anthropic._base_client
import botocore.client
import openai
import openai.resources.chat.completions
import openai.resources.completions
import openai.resources.embeddings
import openai.resources.responses
import pytest
import wrapt
from anthropic.resources.messages import messages as anthropic_messages
from google.genai import models as genai_models
from llm_harness import llm_spans
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from costline._config import load_settings, parse_overrides
from costline._provider_overrides import ProviderOverrides
from costline.instrumentor import CostlineInstrumentor
from costline.span_processor import AttributionSpanProcessor

# Every target costline wraps in the installed SDK versions (owner, attribute).
TARGETS: list[tuple[Any, str]] = (
    [
        (owner, name)
        for owner in (
            openai.resources.chat.completions.Completions,
            openai.resources.chat.completions.AsyncCompletions,
            openai.resources.responses.Responses,
            openai.resources.responses.AsyncResponses,
        )
        for name in ("create", "parse", "stream")
    ]
    + [
        (openai.resources.completions.Completions, "create"),
        (openai.resources.completions.AsyncCompletions, "create"),
        (openai.resources.embeddings.Embeddings, "create"),
        (openai.resources.embeddings.AsyncEmbeddings, "create"),
        (anthropic_messages.Messages, "create"),
        (anthropic_messages.Messages, "parse"),
        (anthropic_messages.Messages, "stream"),
        (anthropic_messages.AsyncMessages, "create"),
        (anthropic_messages.AsyncMessages, "stream"),
        (anthropic._base_client, "start_api_call_span"),
    ]
    + [
        (owner, name)
        for owner in (genai_models.Models, genai_models.AsyncModels)
        for name in ("_generate_content", "_generate_content_stream", "_embed_content")
    ]
    + [(botocore.client.BaseClient, "_make_api_call")]
)


def _originals() -> dict[tuple[Any, str], Any]:
    return {(owner, name): owner.__dict__[name] for owner, name in TARGETS}


def test_uninstrument_restores_the_very_same_functions() -> None:
    before = _originals()
    assert not any(isinstance(value, wrapt.FunctionWrapper) for value in before.values())
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    try:
        wrapped = _originals()
        assert all(isinstance(value, wrapt.FunctionWrapper) for value in wrapped.values())
        assert all(wrapped[key].__wrapped__ is before[key] for key in before)
    finally:
        instrumentor.uninstrument()
    after = _originals()
    assert all(after[key] is before[key] for key in before)


def test_instrumenting_twice_never_double_wraps(
    otel_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    before = _originals()
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    instrumentor._instrument()  # bypass BaseInstrumentor's own guard: our patching must refuse too
    try:
        for key, value in _originals().items():
            assert value.__wrapped__ is before[key], key
        openai_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert len(llm_spans(otel_spans)) == 1
    finally:
        instrumentor.uninstrument()
    after = _originals()
    assert all(after[key] is before[key] for key in before)  # `is`: a FunctionWrapper == its wrapped


def test_wrappers_of_others_are_left_in_place() -> None:
    """Uninstrument removes costline's wrapper only when it is the outermost one."""
    owner, name = openai.resources.embeddings.Embeddings, "create"
    original = owner.__dict__[name]
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    try:
        wrapt.wrap_function_wrapper(
            owner, name, lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs)
        )
        theirs = owner.__dict__[name]
    finally:
        instrumentor.uninstrument()
    assert owner.__dict__[name] is theirs
    setattr(owner, name, original)


def test_entry_point_and_optional_dependencies() -> None:
    (entry_point,) = importlib.metadata.entry_points(group="opentelemetry_instrumentor", name="costline")
    assert entry_point.load() is CostlineInstrumentor
    assert list(CostlineInstrumentor().instrumentation_dependencies()) == []


def _attribution_processors(provider: TracerProvider) -> int:
    processors = provider._active_span_processor._span_processors
    return sum(isinstance(processor, AttributionSpanProcessor) for processor in processors)


def test_attribution_processor_registered_once_on_the_global_sdk_provider(
    set_global_tracer_provider: Callable[[TracerProvider], None],
) -> None:
    sdk_provider = TracerProvider()
    sdk_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    set_global_tracer_provider(sdk_provider)
    instrumentor = CostlineInstrumentor()
    for _ in range(2):
        instrumentor.instrument()
        instrumentor.uninstrument()
    assert _attribution_processors(sdk_provider) == 1
    assert trace.get_tracer_provider() is sdk_provider


def test_settings_precedence(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("COSTLINE_CAPTURE_CONTENT", "TRUE")
    monkeypatch.setenv("COSTLINE_INJECT_STREAM_USAGE", "maybe")
    monkeypatch.setenv("COSTLINE_PROVIDER_OVERRIDES", "Gateway.Internal=openai, 127.0.0.1=anthropic")
    with caplog.at_level(logging.WARNING, logger="costline"):
        settings = load_settings()
    assert settings.capture_content is True
    assert settings.inject_stream_usage is True  # bad value: logged and defaulted
    assert "COSTLINE_INJECT_STREAM_USAGE" in caplog.text
    assert settings.provider_overrides == ProviderOverrides.from_mapping(
        {"gateway.internal": "openai", "127.0.0.1": "anthropic"}
    )
    assert load_settings(capture_content=False).capture_content is False  # explicit beats environment
    with pytest.raises(ValueError, match="capture_content"):
        load_settings(capture_content="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="host=provider"):
        parse_overrides("no-equals-sign")
