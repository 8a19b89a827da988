"""Fixtures shared by the instrumentation tests: real OTel SDK TracerProviders installed globally."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from costline.span_processor import AttributionSpanProcessor


def _replace_global_tracer_provider(provider: TracerProvider | None) -> None:
    # The API lets a process set the global provider once; each test needs its own.
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    if provider is not None:
        trace.set_tracer_provider(provider)


@pytest.fixture
def set_global_tracer_provider() -> Iterator[Callable[[TracerProvider], None]]:
    """Install SDK providers as the global one; each is shut down and the global reset after the test."""
    installed: list[TracerProvider] = []

    def install(provider: TracerProvider) -> None:
        installed.append(provider)
        _replace_global_tracer_provider(provider)

    yield install
    for provider in installed:
        provider.shutdown()
    _replace_global_tracer_provider(None)


@pytest.fixture
def otel_spans(
    set_global_tracer_provider: Callable[[TracerProvider], None],
) -> InMemorySpanExporter:
    """A fresh global SDK TracerProvider (attribution processor + in-memory exporter) for one test."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(AttributionSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    set_global_tracer_provider(provider)
    return exporter


# Fixtures of the SDK instrumentation tests (instrumented clients against the fake provider).
from llm_harness import (  # noqa: E402, F401
    anthropic_client,
    async_anthropic_client,
    async_openai_client,
    fake_provider,
    instrumented,
    openai_client,
)
