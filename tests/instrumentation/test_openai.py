"""OpenAI SDK specifics: invisible usage injection, raw responses, helpers, legacy completions, content."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from llm_harness import (
    USAGE,
    assert_typed,
    attrs,
    behaviour,
    exact_usage,
    llm_spans,
    only_span,
    usage_of,
)
from openai.lib.streaming.chat import ChatCompletionStream, ChatCompletionStreamManager
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import BaseModel

from costline import attributes as a
from costline.instrumentor import CostlineInstrumentor
from costline_processor.mock_provider import MockProvider

MESSAGES = [{"role": "user", "content": "hi"}]


def _seen(stream: Any) -> list[dict[str, Any]]:
    """Every chunk the caller sees, in both public dump forms (to_dict leaves out fields not sent).

    `created` is the mock's wall clock, the one field allowed to differ between two calls.
    """
    seen = []
    for chunk in stream:
        dump, sent = chunk.model_dump(), chunk.to_dict()
        dump.pop("created")
        sent.pop("created")
        seen.append({"dump": dump, "sent": sent})
    return seen


def _delta_text(chunk: Any) -> str:
    return "".join(choice.delta.content or "" for choice in chunk.choices)


def _chat_stream(client: openai.OpenAI, **extra: Any) -> list[dict[str, Any]]:
    return _seen(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, **extra))


def _completion_stream(client: openai.OpenAI, **extra: Any) -> list[dict[str, Any]]:
    return _seen(client.completions.create(model="davinci-mock", prompt="hi", stream=True, **extra))


@pytest.mark.parametrize("read", [_chat_stream, _completion_stream], ids=["chat", "legacy_completions"])
def test_stream_is_identical_to_the_uninstrumented_one(
    read: Callable[..., list[dict[str, Any]]],
    otel_spans: InMemorySpanExporter,
    fake_provider: MockProvider,
    openai_client: openai.OpenAI,
) -> None:
    fake_provider.default = behaviour(response_id="same-response-id")
    plain = read(openai_client)
    assert "stream_options" not in fake_provider.requests[-1].body
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    try:
        seen = read(openai_client)
    finally:
        instrumentor.uninstrument()
    # costline asked for usage on the wire, and hid every trace of it from the caller.
    assert fake_provider.requests[-1].body["stream_options"] == {"include_usage": True}
    assert seen == plain
    assert all(chunk["dump"]["usage"] is None and "usage" not in chunk["sent"] for chunk in seen)
    values = attrs(only_span(otel_spans))
    assert usage_of(values)[a.GEN_AI_USAGE_INPUT_TOKENS] == USAGE.input_tokens
    assert usage_of(values)[a.GEN_AI_USAGE_OUTPUT_TOKENS] == USAGE.output_tokens
    assert a.LLM_USAGE_ESTIMATED not in values


def test_caller_asking_for_usage_sees_it_unchanged(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider, openai_client: openai.OpenAI
) -> None:
    options = {"include_usage": True}
    seen = _chat_stream(openai_client, stream_options=options)
    assert fake_provider.requests[-1].body["stream_options"] == options
    assert seen[-1]["dump"]["choices"] == []
    assert seen[-1]["dump"]["usage"]["prompt_tokens"] == USAGE.input_tokens
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=False)


def test_caller_refusing_usage_is_respected(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider, openai_client: openai.OpenAI
) -> None:
    _chat_stream(openai_client, stream_options={"include_usage": False})
    assert fake_provider.requests[-1].body["stream_options"] == {"include_usage": False}
    values = attrs(only_span(instrumented))
    assert usage_of(values) == {}
    assert values[a.LLM_USAGE_ESTIMATED] is True


def test_injection_can_be_disabled(
    monkeypatch: pytest.MonkeyPatch,
    otel_spans: InMemorySpanExporter,
    fake_provider: MockProvider,
    openai_client: openai.OpenAI,
) -> None:
    monkeypatch.setenv("COSTLINE_INJECT_STREAM_USAGE", "false")
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    try:
        _chat_stream(openai_client)
    finally:
        instrumentor.uninstrument()
    assert "stream_options" not in fake_provider.requests[-1].body
    values = attrs(only_span(otel_spans))
    assert usage_of(values) == {}
    assert values[a.LLM_USAGE_ESTIMATED] is True  # complete stream, but no usage reported: never a silent 0


def test_return_types_are_the_sdks(instrumented: InMemorySpanExporter, openai_client: openai.OpenAI) -> None:
    stream = openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    with stream:
        assert isinstance(next(iter(stream)), openai.types.chat.ChatCompletionChunk)
    completion = openai_client.chat.completions.create(model="m", messages=MESSAGES)
    assert type(completion) is openai.types.chat.ChatCompletion
    with openai_client.chat.completions.stream(model="m", messages=MESSAGES) as helper_stream:
        assert isinstance(helper_stream, ChatCompletionStream)
        assert helper_stream.get_final_completion().choices[0].message.content


async def test_async_return_types_are_the_sdks(
    instrumented: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    stream = await async_openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert attrs(only_span(instrumented))[a.GEN_AI_USAGE_OUTPUT_TOKENS] == USAGE.output_tokens


def test_with_raw_response(instrumented: InMemorySpanExporter, openai_client: openai.OpenAI) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert type(raw) is openai._legacy_response.LegacyAPIResponse
    assert raw.headers["x-request-id"].startswith("req_mock")
    completion = raw.parse()
    assert type(completion) is openai.types.chat.ChatCompletion
    values = attrs(only_span(instrumented))
    assert values[a.GEN_AI_RESPONSE_ID] == completion.id
    assert usage_of(values) == exact_usage(cache_write_1h=False)


def test_with_raw_response_stream(instrumented: InMemorySpanExporter, openai_client: openai.OpenAI) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES, stream=True)
    assert isinstance(raw, openai._legacy_response.LegacyAPIResponse)
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    del raw  # the stream outlives its raw response: the span must wait for the stream
    gc.collect()
    assert llm_spans(instrumented) == []
    texts = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]
    assert "".join(t for t in texts if t) == behaviour().text
    values = attrs(only_span(instrumented))
    assert usage_of(values) == exact_usage(cache_write_1h=False)
    assert values[a.GEN_AI_REQUEST_STREAM] is True


def test_with_streaming_response(instrumented: InMemorySpanExporter, openai_client: openai.OpenAI) -> None:
    with openai_client.chat.completions.with_streaming_response.create(
        model="m", messages=MESSAGES
    ) as response:
        assert isinstance(response, openai._response.APIResponse)
        assert llm_spans(instrumented) == []  # body not read yet
        completion = response.parse()
    assert type(completion) is openai.types.chat.ChatCompletion
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=False)


def test_with_streaming_response_read_as_json(
    instrumented: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    with openai_client.chat.completions.with_streaming_response.create(
        model="m", messages=MESSAGES
    ) as response:
        body = response.json()
    assert body["usage"]["prompt_tokens"] == USAGE.input_tokens
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=False)


async def test_async_with_streaming_response_stream(
    instrumented: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    create = async_openai_client.chat.completions.with_streaming_response.create
    async with create(model="m", messages=MESSAGES, stream=True) as response:
        assert isinstance(response, openai._response.AsyncAPIResponse)
        stream = await response.parse()
        assert isinstance(stream, openai.AsyncStream)
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=False)


class Answer(BaseModel):
    answer: str


def test_parse_structured_output(instrumented: InMemorySpanExporter, openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.parse(model="m", messages=MESSAGES, response_format=Answer)
    assert isinstance(completion.choices[0].message.parsed, Answer)
    span = only_span(instrumented)
    assert span.name == "chat m"
    assert usage_of(attrs(span)) == exact_usage(cache_write_1h=False)


def test_chat_stream_helper_caller_error(
    instrumented: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    manager = openai_client.chat.completions.stream(model="m", messages=MESSAGES)
    assert isinstance(manager, ChatCompletionStreamManager)
    with pytest.raises(KeyError), manager as stream:  # noqa: PT012 - the raise inside `with` is the point
        next(iter(stream))
        raise KeyError("app bug")
    span = only_span(instrumented)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)[a.ERROR_TYPE] == "KeyError"
    assert attrs(span)[a.LLM_USAGE_ESTIMATED] is True


async def test_responses_stream_helper(
    instrumented: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    async with async_openai_client.responses.stream(model="gpt-4.1", input="hi") as stream:
        final = await stream.get_final_response()
    values = attrs(only_span(instrumented))
    assert values[a.GEN_AI_RESPONSE_ID] == final.id
    assert usage_of(values) == exact_usage(cache_write_1h=False)


def test_responses_parse(instrumented: InMemorySpanExporter, openai_client: openai.OpenAI) -> None:
    response = openai_client.responses.parse(model="gpt-4.1", input="hi", text_format=Answer)
    assert isinstance(response.output_parsed, Answer)
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=False)


def test_legacy_completion(instrumented: InMemorySpanExporter, openai_client: openai.OpenAI) -> None:
    openai_client.completions.create(model="davinci-mock", prompt="hi", max_tokens=12, temperature=0.5)
    span = only_span(instrumented)
    values = attrs(span)
    assert_typed(values)
    assert span.name == "text_completion davinci-mock"
    assert values[a.GEN_AI_REQUEST_MAX_TOKENS] == 12
    assert values[a.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert values[a.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert usage_of(values) == exact_usage(cache_write_1h=False)


def test_abandoned_stream_is_ended_once_by_garbage_collection(
    instrumented: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    stream = openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    next(iter(stream))
    assert llm_spans(instrumented) == []
    stream.response.close()  # release the connection; the stream object itself is simply dropped
    del stream
    gc.collect()
    values = attrs(only_span(instrumented))
    assert values[a.LLM_USAGE_ESTIMATED] is True
    assert values[a.GEN_AI_RESPONSE_ID].startswith("chatcmpl-")
    gc.collect()
    assert len(llm_spans(instrumented)) == 1


def test_stream_read_by_a_for_loop_that_holds_no_reference_to_it_ends_complete(
    instrumented: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    """The common `for chunk in client...create(stream=True)`: the loop keeps only `iter(stream)` alive,
    not the stream object itself, and the call must still end once, read to the end, with its usage."""
    text = []
    for chunk in openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
        gc.collect()  # the stream object, unreferenced, is collected here; the call is not over
        assert llm_spans(instrumented) == []
        text.append(_delta_text(chunk))
    values = attrs(only_span(instrumented))
    assert "".join(text) == behaviour().text
    assert a.LLM_USAGE_ESTIMATED not in values
    assert usage_of(values) == exact_usage(cache_write_1h=False)


def test_next_and_a_for_loop_share_one_position_in_the_stream(
    instrumented: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    stream = openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    first = next(stream)
    rest = list(stream)
    assert "".join(map(_delta_text, [first, *rest])) == behaviour().text  # every chunk once, in order
    assert next(stream, None) is None  # exhausted stays exhausted
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=False)


def test_stream_left_by_break_out_of_a_for_loop_ends_once_when_dropped(
    instrumented: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    for _ in openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
        break
    gc.collect()
    values = attrs(only_span(instrumented))
    assert values[a.LLM_USAGE_ESTIMATED] is True
    gc.collect()
    assert len(llm_spans(instrumented)) == 1


def test_content_is_captured_only_when_opted_in(
    monkeypatch: pytest.MonkeyPatch, otel_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    try:
        openai_client.chat.completions.create(model="m", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    default_values = attrs(only_span(otel_spans))
    assert a.GEN_AI_INPUT_MESSAGES not in default_values
    assert a.GEN_AI_OUTPUT_MESSAGES not in default_values
    otel_spans.clear()
    monkeypatch.setenv("COSTLINE_CAPTURE_CONTENT", "true")
    instrumentor.instrument()
    try:
        list(openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    finally:
        instrumentor.uninstrument()
    values = attrs(only_span(otel_spans))
    assert json.loads(str(values[a.GEN_AI_INPUT_MESSAGES])) == MESSAGES
    output = json.loads(str(values[a.GEN_AI_OUTPUT_MESSAGES]))
    assert output[0]["parts"][0]["content"] == behaviour().text


async def test_async_with_streaming_response_read_as_json(
    instrumented: InMemorySpanExporter, async_openai_client: openai.AsyncOpenAI
) -> None:
    create = async_openai_client.chat.completions.with_streaming_response.create
    async with create(model="m", messages=MESSAGES) as response:
        body = await response.json()
    assert body["usage"]["completion_tokens"] == USAGE.output_tokens
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=False)


def test_raw_response_parsed_to_a_custom_type(
    instrumented: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    create = openai_client.chat.completions.with_streaming_response.create
    with create(model="m", messages=MESSAGES) as response:
        body = response.parse(to=dict[str, Any])  # a bare `dict` is not accepted by openai 2.x
    assert body["usage"]["prompt_tokens"] == USAGE.input_tokens
    assert usage_of(attrs(only_span(instrumented))) == exact_usage(cache_write_1h=False)


def test_openai_sdk_does_not_trace_itself_yet(
    otel_spans: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    """The anthropic SDK emits its own GenAI span; this fails the day openai starts to, so that costline
    can suppress or adopt that span (one span per call) before users see doubled costs."""
    openai_client.chat.completions.create(model="m", messages=MESSAGES)
    assert llm_spans(otel_spans) == []
