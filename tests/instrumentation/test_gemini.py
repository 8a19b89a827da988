"""google-genai: Gemini API and Vertex AI, sync and `client.aio`, models, chats, streams, embeddings.

Real `google.genai.Client`s (dummy API key / dummy Google credentials) talk to the fake provider on
127.0.0.1, which reports usage the way Google does: thinking tokens apart from `candidates_token_count`,
tool-use prompt tokens apart from `prompt_token_count`. The spans must carry semconv's inclusive usage.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import errors, types
from llm_harness import assert_typed, attrs, llm_spans, only_span, usage_of
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import costline
from costline import attributes as a
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockToolCall, MockUsage
from gemini_clients import GEMINI_MODEL, client_for

# On the wire: prompt 1140 (400 of it cached) + 60 tool-use prompt; candidates 200 + thoughts 140.
USAGE = MockUsage(
    input_tokens=1200,
    output_tokens=340,
    cache_read_tokens=400,
    reasoning_tokens=140,
    tool_use_prompt_tokens=60,
)
EXPECTED_USAGE = {
    a.GEN_AI_USAGE_INPUT_TOKENS: 1200,
    a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 400,
    a.GEN_AI_USAGE_OUTPUT_TOKENS: 340,
    a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 140,
}
TEXT = "Hello from the mock Gemini, in five pieces."
BACKENDS = ("gemini", "vertex")
PROVIDERS = {"gemini": a.PROVIDER_GEMINI, "vertex": a.PROVIDER_GCP_VERTEX_AI}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def gemini(fake_provider: MockProvider, backend: str) -> Iterator[genai.Client]:
    fake_provider.default = MockBehaviour(usage=USAGE, text=TEXT, chunks=5)
    with client_for(backend, fake_provider.gemini_base_url) as client:
        yield client


@pytest.fixture
async def agemini(gemini: genai.Client) -> AsyncIterator[genai.client.AsyncClient]:
    async with gemini.aio as client:
        yield client


def _check(span: ReadableSpan, backend: str, operation: str = a.OPERATION_GENERATE_CONTENT) -> dict[str, Any]:
    values = attrs(span)
    assert_typed(values)
    assert span.name == f"{operation} {values[a.GEN_AI_REQUEST_MODEL]}"
    assert values[a.GEN_AI_OPERATION_NAME] == operation
    assert values[a.GEN_AI_PROVIDER_NAME] == PROVIDERS[backend]
    assert values[a.SERVER_ADDRESS] == "127.0.0.1"
    assert type(values[a.SERVER_PORT]) is int
    return values


def _complete(values: dict[str, Any], response_id: str | None) -> None:
    assert values[a.GEN_AI_RESPONSE_ID] == response_id
    assert values[a.GEN_AI_RESPONSE_MODEL] == GEMINI_MODEL
    assert values[a.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert usage_of(values) == EXPECTED_USAGE
    assert a.LLM_USAGE_ESTIMATED not in values
    assert a.ERROR_TYPE not in values


def test_generate_content_usage_is_inclusive(
    instrumented: InMemorySpanExporter, gemini: genai.Client, backend: str
) -> None:
    with costline.workflow("support", tenant_id="acme"):
        response = gemini.models.generate_content(model=GEMINI_MODEL, contents="hi")

    assert isinstance(response, types.GenerateContentResponse)
    assert response.text == TEXT
    metadata = response.usage_metadata
    assert metadata is not None
    # The trap peers fall into: candidates exclude the 140 thinking tokens, the prompt the 60 tool-use ones.
    assert (metadata.candidates_token_count, metadata.prompt_token_count) == (200, 1140)
    values = _check(only_span(instrumented), backend)
    _complete(values, response.response_id)
    assert values[a.GEN_AI_REQUEST_MODEL] == GEMINI_MODEL
    assert (values[a.WORKFLOW_ID], values[a.TENANT_ID]) == ("support", "acme")
    assert values[a.LLM_INSTRUMENTATION] == "google_genai.generate_content"


def test_stream_usage_from_the_last_chunk(
    instrumented: InMemorySpanExporter, gemini: genai.Client, backend: str
) -> None:
    chunks = list(gemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"))

    assert "".join(chunk.text or "" for chunk in chunks) == TEXT
    values = _check(only_span(instrumented), backend)
    assert values[a.GEN_AI_REQUEST_STREAM] is True
    _complete(values, chunks[0].response_id)


async def test_async_generate_and_stream(
    instrumented: InMemorySpanExporter, agemini: genai.client.AsyncClient, backend: str
) -> None:
    with costline.workflow("async_flow"):
        response = await agemini.models.generate_content(model=GEMINI_MODEL, contents="hi")
        stream = await agemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi")
        chunks = [chunk async for chunk in stream]

    plain, streamed = sorted(llm_spans(instrumented), key=lambda span: span.start_time or 0)
    _complete(_check(plain, backend), response.response_id)
    _complete(_check(streamed, backend), chunks[-1].response_id)
    assert attrs(streamed)[a.GEN_AI_REQUEST_STREAM] is True
    assert {attrs(span)[a.WORKFLOW_ID] for span in (plain, streamed)} == {"async_flow"}


async def test_chats_sync_async_and_streaming(
    instrumented: InMemorySpanExporter, gemini: genai.Client, agemini: genai.client.AsyncClient, backend: str
) -> None:
    chat = gemini.chats.create(model=GEMINI_MODEL)
    answer = chat.send_message("hi")
    streamed = list(chat.send_message_stream("again"))
    achat = agemini.chats.create(model=GEMINI_MODEL)
    aanswer = await achat.send_message("hi")
    astreamed = [chunk async for chunk in await achat.send_message_stream("again")]

    spans = sorted(llm_spans(instrumented), key=lambda span: span.start_time or 0)
    assert len(spans) == 4
    ids = [answer.response_id, streamed[0].response_id, aanswer.response_id, astreamed[0].response_id]
    for span, response_id in zip(spans, ids, strict=True):
        _complete(_check(span, backend), response_id)
    assert [attrs(span).get(a.GEN_AI_REQUEST_STREAM) is True for span in spans] == [False, True, False, True]


def get_weather(city: str) -> str:
    """The weather in a city (a tool the SDK calls itself: automatic function calling)."""
    return f"sunny in {city}"


def test_automatic_function_calling_is_one_span_per_billed_request(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider, gemini: genai.Client, backend: str
) -> None:
    first = MockUsage(input_tokens=500, output_tokens=40, reasoning_tokens=25)
    fake_provider.enqueue(
        MockBehaviour(usage=first, text="", tool_calls=(MockToolCall("get_weather", {"city": "Oslo"}),)),
        MockBehaviour(usage=USAGE, text=TEXT),
    )
    config = types.GenerateContentConfig(tools=[get_weather])

    response = gemini.models.generate_content(model=GEMINI_MODEL, contents="weather in Oslo?", config=config)

    assert response.text == TEXT
    assert len(fake_provider.requests) == 2  # the SDK called the tool and sent its result back
    tool_round, answer = sorted(llm_spans(instrumented), key=lambda span: span.start_time or 0)
    # Each billed request has its own span with its own usage; the public response shows only the last.
    assert usage_of(_check(tool_round, backend)) == {
        a.GEN_AI_USAGE_INPUT_TOKENS: 500,
        a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        a.GEN_AI_USAGE_OUTPUT_TOKENS: 40,
        a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 25,
    }
    _complete(_check(answer, backend), response.response_id)


def test_embeddings(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider, gemini: genai.Client, backend: str
) -> None:
    fake_provider.default = MockBehaviour(usage=MockUsage(input_tokens=37, output_tokens=0))

    batch = gemini.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    single = gemini.models.embed_content(model="gemini-embedding-001", contents="a")

    assert batch.embeddings is not None
    assert len(batch.embeddings) == 2
    assert single.embeddings is not None
    spans = llm_spans(instrumented)
    assert len(spans) == 2
    # google-genai 3.0 drops the Gemini API's usageMetadata from embedding responses (later 3.x keep it): the
    # span then says its usage is unknown rather than 0. On Vertex AI it calls :predict, whose per-embedding
    # statistics carry the count.
    reported = backend == "vertex" or "usage_metadata" in types.EmbedContentResponse.model_fields
    for span in spans:
        values = _check(span, backend, a.OPERATION_EMBEDDINGS)
        assert values[a.GEN_AI_REQUEST_MODEL] == "gemini-embedding-001"
        if reported:
            assert usage_of(values) == {a.GEN_AI_USAGE_INPUT_TOKENS: 37}
            assert a.LLM_USAGE_ESTIMATED not in values
        else:
            assert values[a.LLM_USAGE_ESTIMATED] is True


async def test_count_tokens_is_not_a_billed_call(
    instrumented: InMemorySpanExporter, gemini: genai.Client, agemini: genai.client.AsyncClient
) -> None:
    counted = gemini.models.count_tokens(model=GEMINI_MODEL, contents="hi")
    acounted = await agemini.models.count_tokens(model=GEMINI_MODEL, contents="hi")

    assert counted.total_tokens == acounted.total_tokens == 1140
    assert llm_spans(instrumented) == []


def test_abandoned_stream_ends_its_span_once(
    instrumented: InMemorySpanExporter, gemini: genai.Client, backend: str
) -> None:
    stream = gemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi")
    first = next(stream)
    assert first.text
    del stream
    gc.collect()

    values = _check(only_span(instrumented), backend)
    assert values[a.LLM_USAGE_ESTIMATED] is True
    # The input side is on every chunk and exact; the output side only comes with the last one.
    assert usage_of(values) == {
        a.GEN_AI_USAGE_INPUT_TOKENS: 1200,
        a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 400,
    }
    assert a.ERROR_TYPE not in values


def test_closing_the_stream_ends_its_span_once(
    instrumented: InMemorySpanExporter, gemini: genai.Client, backend: str
) -> None:
    stream = gemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi")
    for index, _ in enumerate(stream):
        if index == 1:
            break
    stream.close()
    stream.close()

    assert attrs(only_span(instrumented))[a.LLM_USAGE_ESTIMATED] is True


def _consume(make: Callable[[], Any]) -> None:
    for _ in make():
        pass


@pytest.mark.parametrize("stream", [False, True])
def test_http_error_is_raised_unchanged_and_recorded(
    instrumented: InMemorySpanExporter,
    fake_provider: MockProvider,
    gemini: genai.Client,
    backend: str,
    stream: bool,
) -> None:
    fake_provider.enqueue(MockBehaviour(error_status=429, error_message="slow down"))

    def call() -> None:
        if stream:
            _consume(lambda: gemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"))
        else:
            gemini.models.generate_content(model=GEMINI_MODEL, contents="hi")

    with pytest.raises(errors.ClientError) as raised:
        call()

    assert raised.value.code == 429
    span = only_span(instrumented)
    values = _check(span, backend)
    assert values[a.ERROR_TYPE] == "429"
    assert span.status.status_code is StatusCode.ERROR
    assert a.GEN_AI_USAGE_INPUT_TOKENS not in values


def test_cut_stream_and_in_stream_error(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider, gemini: genai.Client, backend: str
) -> None:
    fake_provider.enqueue(
        MockBehaviour(usage=USAGE, text=TEXT, chunks=5, fail_after_events=2),
        MockBehaviour(usage=USAGE, text=TEXT, chunks=5, fail_after_events=3, fail_with_error_event=True),
    )

    with pytest.raises(httpx2.RemoteProtocolError):
        _consume(lambda: gemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"))
    with pytest.raises(errors.ServerError):
        _consume(lambda: gemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"))

    cut, in_stream = sorted(llm_spans(instrumented), key=lambda span: span.start_time or 0)
    assert _check(cut, backend)[a.ERROR_TYPE] == "RemoteProtocolError"
    assert _check(in_stream, backend)[a.ERROR_TYPE] == "503"
    for span in (cut, in_stream):
        values = attrs(span)
        assert values[a.LLM_USAGE_ESTIMATED] is True
        assert values[a.GEN_AI_USAGE_INPUT_TOKENS] == 1200
        assert a.GEN_AI_USAGE_OUTPUT_TOKENS not in values


def test_request_attributes_and_captured_content(
    otel_spans: InMemorySpanExporter, fake_provider: MockProvider, gemini: genai.Client
) -> None:
    from costline.instrumentor import CostlineInstrumentor

    instrumentor = CostlineInstrumentor()
    instrumentor.instrument(capture_content=True)
    config = types.GenerateContentConfig(
        max_output_tokens=256,
        temperature=0.3,
        system_instruction="be brief",
        thinking_config=types.ThinkingConfig(include_thoughts=True),
    )
    try:
        gemini.models.generate_content(model=GEMINI_MODEL, contents="what is 2+2?", config=config)
    finally:
        instrumentor.uninstrument()

    values = attrs(only_span(otel_spans))
    assert values[a.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert values[a.GEN_AI_REQUEST_TEMPERATURE] == pytest.approx(0.3)
    assert "what is 2+2?" in values[a.GEN_AI_INPUT_MESSAGES]
    assert "be brief" in values[a.GEN_AI_INPUT_MESSAGES]
    # The answer, without the thought part the response carries first.
    assert TEXT in values[a.GEN_AI_OUTPUT_MESSAGES]
    assert fake_provider.default.reasoning_text not in values[a.GEN_AI_OUTPUT_MESSAGES]


def test_vertex_predict_embeddings_count_from_statistics(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider
) -> None:
    fake_provider.default = MockBehaviour(usage=MockUsage(input_tokens=37, output_tokens=0))

    with client_for("vertex", fake_provider.gemini_base_url) as client:
        client.models.embed_content(model="text-embedding-005", contents=["a", "b", "c"])

    assert fake_provider.requests[-1].path.endswith(":predict")
    values = _check(only_span(instrumented), "vertex", a.OPERATION_EMBEDDINGS)
    assert usage_of(values) == {a.GEN_AI_USAGE_INPUT_TOKENS: 37}  # 13 + 12 + 12 from the three embeddings


class InjectedFault(RuntimeError):
    pass


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise InjectedFault("costline bug")


@pytest.fixture
def swallowing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production mode: costline's own errors are logged once and swallowed."""
    from costline import _safety

    monkeypatch.setenv("COSTLINE_SWALLOW_INTERNAL_ERRORS", "1")
    monkeypatch.setattr(_safety, "_reported", set())


@pytest.mark.usefixtures("swallowing")
def test_our_faults_never_change_the_app_s_results(
    monkeypatch: pytest.MonkeyPatch, instrumented: InMemorySpanExporter, gemini: genai.Client
) -> None:
    from costline import google_genai_models

    monkeypatch.setattr(google_genai_models, "write_usage", _boom)
    monkeypatch.setattr(google_genai_models.ContentStreamState, "observe", _boom)
    monkeypatch.setattr(google_genai_models, "_request_attributes", _boom)

    response = gemini.models.generate_content(model=GEMINI_MODEL, contents="hi")
    chunks = list(gemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"))

    assert response.text == TEXT
    assert "".join(chunk.text or "" for chunk in chunks) == TEXT
    spans = llm_spans(instrumented)
    assert len(spans) == 2
    for span in spans:
        assert span.name == a.OPERATION_GENERATE_CONTENT  # no model known from the failed request reading
        assert span.end_time is not None
        assert usage_of(attrs(span)) == {}


def test_under_pytest_our_bugs_surface(
    monkeypatch: pytest.MonkeyPatch, instrumented: InMemorySpanExporter, gemini: genai.Client
) -> None:
    from costline import google_genai_models

    monkeypatch.delenv("COSTLINE_SWALLOW_INTERNAL_ERRORS", raising=False)
    monkeypatch.setattr(google_genai_models, "write_usage", _boom)
    with pytest.raises(InjectedFault):
        gemini.models.generate_content(model=GEMINI_MODEL, contents="hi")
    assert only_span(instrumented).end_time is not None


async def test_async_stream_closed_early_ends_its_span_once(
    instrumented: InMemorySpanExporter, agemini: genai.client.AsyncClient, backend: str
) -> None:
    stream = await agemini.models.generate_content_stream(model=GEMINI_MODEL, contents="hi")
    async for _ in stream:
        break
    await stream.aclose()
    # The SDK's public generator wraps its own inner one, which asyncio closes on the next loop turns.
    for _ in range(3):
        await asyncio.sleep(0)

    values = _check(only_span(instrumented), backend)
    assert values[a.LLM_USAGE_ESTIMATED] is True
    assert values[a.GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert a.ERROR_TYPE not in values
