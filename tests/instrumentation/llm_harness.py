"""Shared pieces of the SDK instrumentation tests: instrumented real clients, span lookup, expected usage.

Real `openai`/`anthropic` clients talk HTTP to the fake provider on 127.0.0.1 (max_retries=0); spans go
to a real SDK TracerProvider with an InMemorySpanExporter (the `otel_spans` fixture of this folder's
conftest, installed as the global provider).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from costline import attributes as a
from costline.instrumentor import CostlineInstrumentor
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

USAGE = MockUsage(
    input_tokens=120,
    output_tokens=30,
    cache_read_tokens=40,
    cache_write_tokens=20,
    cache_write_1h_tokens=5,
    reasoning_tokens=7,
)
TEXT = "Hello from the mock provider, in five pieces."


def behaviour(**changes: Any) -> MockBehaviour:
    return MockBehaviour(usage=USAGE, text=TEXT, chunks=5, **changes)


@pytest.fixture
def instrumented(otel_spans: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """costline instrumenting both SDKs against the test's global provider; uninstrumented afterwards."""
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        yield otel_spans
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def fake_provider(mock_provider: MockProvider) -> MockProvider:
    mock_provider.default = behaviour()
    return mock_provider


@pytest.fixture
def openai_client(fake_provider: MockProvider) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=fake_provider.openai_base_url, api_key="test", max_retries=0)
    with client:
        yield client


@pytest.fixture
async def async_openai_client(fake_provider: MockProvider) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=fake_provider.openai_base_url, api_key="test", max_retries=0)
    async with client:
        yield client


@pytest.fixture
def anthropic_client(fake_provider: MockProvider) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=fake_provider.anthropic_base_url, api_key="test", max_retries=0)
    with client:
        yield client


@pytest.fixture
async def async_anthropic_client(fake_provider: MockProvider) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(
        base_url=fake_provider.anthropic_base_url, api_key="test", max_retries=0
    )
    async with client:
        yield client


def llm_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """Every finished span that describes an LLM call, whoever made it (costline, the anthropic SDK...)."""
    return [
        span
        for span in exporter.get_finished_spans()
        if span.attributes is not None and a.GEN_AI_OPERATION_NAME in span.attributes
    ]


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    """The one GenAI span of the one call a test made, checked to be costline's CLIENT span."""
    spans = llm_spans(exporter)
    assert len(spans) == 1, [
        (s.name, s.instrumentation_scope and s.instrumentation_scope.name) for s in spans
    ]
    span = spans[0]
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == a.INSTRUMENTATION_SCOPE
    assert span.kind is trace.SpanKind.CLIENT
    return span


def attrs(span: ReadableSpan) -> dict[str, Any]:
    assert span.attributes is not None
    return dict(span.attributes)


def exact_usage(*, cache_write_1h: bool, output: bool = True) -> dict[str, int]:
    """The usage attributes `USAGE` must produce (semconv: input inclusive of cache tokens)."""
    expected = {a.GEN_AI_USAGE_INPUT_TOKENS: USAGE.input_tokens}
    if not output:
        return expected
    expected |= {
        a.GEN_AI_USAGE_OUTPUT_TOKENS: USAGE.output_tokens,
        a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: USAGE.cache_read_tokens,
        a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: USAGE.cache_write_tokens,
        a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: USAGE.reasoning_tokens,
    }
    if cache_write_1h:
        expected[a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS] = USAGE.cache_write_1h_tokens
    return expected


USAGE_KEYS = (
    a.GEN_AI_USAGE_INPUT_TOKENS,
    a.GEN_AI_USAGE_OUTPUT_TOKENS,
    a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS,
)


def usage_of(values: dict[str, Any]) -> dict[str, Any]:
    return {key: values[key] for key in USAGE_KEYS if key in values}


def assert_typed(values: dict[str, Any]) -> None:
    """Ints are ints (never bools or floats), finish reasons a tuple of str."""
    for key in (*USAGE_KEYS, a.SERVER_PORT):
        if key in values:
            assert type(values[key]) is int, (key, values[key])
    if a.GEN_AI_RESPONSE_FINISH_REASONS in values:
        reasons = values[a.GEN_AI_RESPONSE_FINISH_REASONS]
        assert type(reasons) is tuple
        assert all(type(reason) is str for reason in reasons)
