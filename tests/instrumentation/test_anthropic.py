"""Anthropic SDK specifics: one span despite the SDK's own tracing, stream helper consumers, beta, Vertex."""

from __future__ import annotations

import gc

import anthropic
import pytest
from anthropic.lib.streaming import AsyncMessageStream, MessageStream, MessageStreamManager
from llm_harness import (
    TEXT,
    USAGE,
    assert_typed,
    attrs,
    behaviour,
    exact_usage,
    llm_spans,
    only_span,
    usage_of,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from costline import attributes as a
from costline.instrumentor import CostlineInstrumentor
from costline_processor.mock_provider import MockProvider

MODEL = "claude-test-model"
MESSAGES = [{"role": "user", "content": "hi"}]
NATIVE_SCOPE = "com.anthropic.sdk.python"


def _create(client: anthropic.Anthropic) -> anthropic.types.Message:
    return client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]


def test_exactly_one_span_although_the_sdk_traces_itself(
    otel_spans: InMemorySpanExporter, anthropic_client: anthropic.Anthropic
) -> None:
    with costline.workflow("support", feature_id="triage"):
        _create(anthropic_client)
    native = llm_spans(otel_spans)
    # Without costline the SDK's own span is there: the one-span guarantee below is not vacuous.
    assert [span.instrumentation_scope.name for span in native if span.instrumentation_scope] == [
        NATIVE_SCOPE
    ]
    otel_spans.clear()

    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    try:
        with costline.workflow("support", feature_id="triage"):
            message = _create(anthropic_client)
    finally:
        instrumentor.uninstrument()
    span = only_span(otel_spans)
    values = attrs(span)
    assert_typed(values)
    assert span.name == f"chat {MODEL}"
    assert values[a.WORKFLOW_ID] == "support"
    assert values[a.FEATURE_ID] == "triage"
    assert values[a.GEN_AI_RESPONSE_ID] == message.id
    assert values[a.GEN_AI_USAGE_INPUT_TOKENS] == USAGE.input_tokens  # inclusive, though the wire's is not
    assert message.usage.input_tokens == USAGE.uncached_input_tokens
    assert usage_of(values) == exact_usage(cache_write_1h=True)
    assert values[a.LLM_SERVICE_TIER] == "default"

    otel_spans.clear()
    _create(anthropic_client)  # uninstrumented again: the SDK's span is back, costline's gone
    assert [s.instrumentation_scope.name for s in llm_spans(otel_spans) if s.instrumentation_scope] == [
        NATIVE_SCOPE
    ]


def test_attribution_is_not_sent_to_the_provider(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider, anthropic_client: anthropic.Anthropic
) -> None:
    with costline.workflow("secret_workflow", tenant_id="secret_tenant"):
        _create(anthropic_client)
    headers = " ".join(f"{k}={v}" for k, v in fake_provider.requests[-1].headers.items())
    assert "secret_" not in headers
    assert attrs(only_span(instrumented))[a.TENANT_ID] == "secret_tenant"


def test_stream_helper_text_stream_and_final_message(
    instrumented: InMemorySpanExporter, anthropic_client: anthropic.Anthropic
) -> None:
    manager = anthropic_client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
    assert isinstance(manager, MessageStreamManager)
    with manager as stream:
        assert type(stream) is MessageStream
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == TEXT
    values = attrs(only_span(instrumented))
    assert values[a.GEN_AI_RESPONSE_ID] == final.id
    assert values[a.GEN_AI_REQUEST_STREAM] is True
    assert values[a.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert usage_of(values) == exact_usage(cache_write_1h=True)
    assert a.LLM_USAGE_ESTIMATED not in values


async def test_async_stream_helper_final_message_only(
    instrumented: InMemorySpanExporter, async_anthropic_client: anthropic.AsyncAnthropic
) -> None:
    manager = async_anthropic_client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
    async with manager as stream:
        assert type(stream) is AsyncMessageStream
        final = await stream.get_final_message()
    assert final.usage.output_tokens == USAGE.output_tokens
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=True)


def test_raw_stream_isinstance_and_close(
    instrumented: InMemorySpanExporter, anthropic_client: anthropic.Anthropic
) -> None:
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    assert isinstance(stream, anthropic.Stream)
    first = next(iter(stream))
    assert first.type == "message_start"
    stream.close()
    stream.close()  # closing twice ends the span once
    values = attrs(only_span(instrumented))
    assert values[a.LLM_USAGE_ESTIMATED] is True
    assert values[a.GEN_AI_USAGE_INPUT_TOKENS] == USAGE.input_tokens


def test_beta_messages(instrumented: InMemorySpanExporter, anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.beta.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
    with anthropic_client.beta.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:  # type: ignore[arg-type]
        streamed = stream.get_final_message()
    spans = llm_spans(instrumented)
    assert len(spans) == 2
    assert {attrs(span)[a.GEN_AI_RESPONSE_ID] for span in spans} == {message.id, streamed.id}
    for span in spans:
        assert usage_of(attrs(span)) == exact_usage(cache_write_1h=True)


def test_with_raw_response(instrumented: InMemorySpanExporter, anthropic_client: anthropic.Anthropic) -> None:
    raw = anthropic_client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
    assert raw.headers["request-id"].startswith("req_mock")
    message = raw.parse()
    assert isinstance(message, anthropic.types.Message)
    assert attrs(only_span(instrumented))[a.GEN_AI_RESPONSE_ID] == message.id


def test_vertex_client_is_gcp_vertex_ai(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider
) -> None:
    client = anthropic.AnthropicVertex(
        region="us-east5",
        project_id="costline-test",
        access_token="token",
        base_url=fake_provider.vertex_base_url,
    )
    with client:
        client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
    values = attrs(only_span(instrumented))
    assert values[a.GEN_AI_PROVIDER_NAME] == a.PROVIDER_GCP_VERTEX_AI
    assert usage_of(values) == exact_usage(cache_write_1h=True)


@pytest.mark.parametrize("status", [400, 529])
async def test_async_http_error_is_reraised_unchanged(
    status: int,
    instrumented: InMemorySpanExporter,
    fake_provider: MockProvider,
    async_anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    fake_provider.enqueue(behaviour(error_status=status))
    with pytest.raises(anthropic.APIStatusError) as caught:
        await async_anthropic_client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.status_code == status
    values = attrs(only_span(instrumented))
    assert values[a.ERROR_TYPE] == str(status)
    assert usage_of(values) == {}


async def test_async_streaming_response_stream(
    instrumented: InMemorySpanExporter, async_anthropic_client: anthropic.AsyncAnthropic
) -> None:
    create = async_anthropic_client.messages.with_streaming_response.create
    async with create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True) as response:  # type: ignore[arg-type]
        stream = await response.parse()
        assert isinstance(stream, anthropic.AsyncStream)
        kinds = [event.type async for event in stream]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=True)


async def test_async_abandoned_stream_ends_once_on_garbage_collection(
    instrumented: InMemorySpanExporter, async_anthropic_client: anthropic.AsyncAnthropic
) -> None:
    stream = await async_anthropic_client.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
    )
    assert isinstance(stream, anthropic.AsyncStream)
    await stream.__anext__()
    await stream.response.aclose()  # release the connection; the stream object itself is dropped
    del stream
    gc.collect()
    values = attrs(only_span(instrumented))
    assert values[a.LLM_USAGE_ESTIMATED] is True
    assert values[a.GEN_AI_USAGE_INPUT_TOKENS] == USAGE.input_tokens  # from message_start: exact
    gc.collect()
    assert len(llm_spans(instrumented)) == 1
