"""The mock provider speaks Gemini REST (Gemini API and Vertex AI paths) for the real `google-genai` SDK."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from costline_processor.mock_provider import MockBehaviour, MockProvider, MockToolCall, MockUsage
from costline_processor.mock_provider.routes import route
from gemini_clients import GEMINI_MODEL, VERTEX_LOCATION, VERTEX_PROJECT, client_for

# Semconv (inclusive) usage: 2000 input = 1850 prompt (600 of it cached) + 150 tool-use prompt tokens;
# 500 output = 320 candidates + 180 thoughts.
USAGE = MockUsage(
    input_tokens=2000,
    output_tokens=500,
    cache_read_tokens=600,
    reasoning_tokens=180,
    tool_use_prompt_tokens=150,
)
BACKENDS = ("gemini", "vertex")


class Invoice(BaseModel):
    number: str
    total: float


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(mock_provider: MockProvider, backend: str) -> Iterator[genai.Client]:
    with client_for(backend, mock_provider.gemini_base_url) as client:
        yield client


def assert_wire_usage(usage: types.GenerateContentResponseUsageMetadata | None) -> None:
    """Gemini's split: thoughts apart from candidates, tool-use prompt apart from the prompt."""
    assert usage is not None
    assert usage.prompt_token_count == 1850
    assert usage.cached_content_token_count == 600
    assert usage.tool_use_prompt_token_count == 150
    assert usage.candidates_token_count == 320
    assert usage.thoughts_token_count == 180
    assert usage.total_token_count == 2500


def test_paths_of_both_backends(mock_provider: MockProvider, client: genai.Client, backend: str) -> None:
    client.models.generate_content(model=GEMINI_MODEL, contents="hi")
    list(client.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"))

    plain, streamed = mock_provider.requests
    if backend == "vertex":
        prefix = f"/v1beta1/projects/{VERTEX_PROJECT}/locations/{VERTEX_LOCATION}/publishers/google/models/"
        assert plain.headers["authorization"] == "Bearer dummy-token"
    else:
        prefix = "/v1/models/"
        assert plain.headers["x-goog-api-key"] == "dummy"
    assert plain.path == f"{prefix}{GEMINI_MODEL}:generateContent"
    assert streamed.path == f"{prefix}{GEMINI_MODEL}:streamGenerateContent"
    assert streamed.query == "alt=sse"


@pytest.mark.parametrize(
    ("path", "endpoint", "model", "stream"),
    [
        ("/v1beta/models/gemini-2.5-pro:generateContent", "generate_content", "gemini-2.5-pro", False),
        ("/v1/models/gemini-2.5-pro:streamGenerateContent", "generate_content", "gemini-2.5-pro", True),
        ("/v1beta/models/gemini-embedding-001:batchEmbedContents", "batch_embed_contents", None, False),
        (
            "/v1beta1/projects/p/locations/global/publishers/google/models/gemini-3-pro-preview:countTokens",
            "gemini_count_tokens",
            "gemini-3-pro-preview",
            False,
        ),
        ("/v1/projects/p/locations/l/publishers/google/models/m:embedContent", "embed_content", "m", False),
    ],
)
def test_gemini_routes(path: str, endpoint: str, model: str | None, stream: bool) -> None:
    found = route("POST", path)
    assert found is not None
    assert (found.provider, found.endpoint, found.force_stream) == ("gemini", endpoint, stream)
    if model is not None:
        assert found.model == model
    assert route("POST", "/v1beta/models/gemini-2.5-pro:unknownVerb") is None


def test_generate_content_usage_split_as_google_reports_it(
    mock_provider: MockProvider, client: genai.Client
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)

    response = client.models.generate_content(model=GEMINI_MODEL, contents="hi")

    assert response.text == "Hello from the mock provider."
    assert response.model_version == GEMINI_MODEL
    assert response.response_id is not None
    assert response.response_id.startswith("gen-mock")
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert_wire_usage(response.usage_metadata)


def test_thought_parts_only_when_asked_for(mock_provider: MockProvider, client: genai.Client) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, reasoning_text="Let me think.")
    thinking = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))

    with_thoughts = client.models.generate_content(model=GEMINI_MODEL, contents="hi", config=thinking)
    without = client.models.generate_content(model=GEMINI_MODEL, contents="hi")

    assert with_thoughts.candidates is not None
    assert with_thoughts.candidates[0].content is not None
    parts = with_thoughts.candidates[0].content.parts or []
    assert [(part.thought, part.text) for part in parts] == [
        (True, "Let me think."),
        (None, "Hello from the mock provider."),
    ]
    assert with_thoughts.text == "Hello from the mock provider."  # the SDK leaves thoughts out of .text
    assert without.candidates is not None
    assert without.candidates[0].content is not None
    assert len(without.candidates[0].content.parts or []) == 1
    # Thinking is billed either way: the usage says so whether or not the thoughts are returned.
    assert_wire_usage(without.usage_metadata)


def test_stream_has_the_full_usage_only_on_its_last_chunk(
    mock_provider: MockProvider, client: genai.Client
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, text="abcdef", chunks=3)

    chunks = list(client.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"))

    assert [chunk.text for chunk in chunks] == ["ab", "cd", "ef"]
    for chunk in chunks[:-1]:
        assert chunk.usage_metadata is not None
        assert chunk.usage_metadata.prompt_token_count == 1850
        assert chunk.usage_metadata.candidates_token_count is None
        assert chunk.candidates is not None
        assert chunk.candidates[0].finish_reason is None
    assert chunks[-1].candidates is not None
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert_wire_usage(chunks[-1].usage_metadata)
    assert len({chunk.response_id for chunk in chunks}) == 1


async def test_async_and_chats(mock_provider: MockProvider, client: genai.Client) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, text="abcd", chunks=2)

    async with client.aio as aio:
        response = await aio.models.generate_content(model=GEMINI_MODEL, contents="hi")
        pieces = [
            c.text async for c in await aio.models.generate_content_stream(model=GEMINI_MODEL, contents="hi")
        ]
    chat = client.chats.create(model=GEMINI_MODEL)
    answer = chat.send_message("hi")
    streamed = [chunk.text for chunk in chat.send_message_stream("again")]

    assert response.text == "abcd"
    assert pieces == ["ab", "cd"]
    assert answer.text == "abcd"
    assert streamed == ["ab", "cd"]
    assert [part.text for content in chat.get_history(curated=True) for part in content.parts or ()] == [
        "hi",
        "abcd",
        "again",
        "ab",
        "cd",
    ]
    assert len(mock_provider.requests) == 4


def test_tool_calls_and_structured_output(mock_provider: MockProvider, client: genai.Client) -> None:
    mock_provider.enqueue(MockBehaviour(text="", tool_calls=(MockToolCall("get_weather", {"city": "Oslo"}),)))

    called = client.models.generate_content(model=GEMINI_MODEL, contents="weather?")
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Invoice)
    structured = client.models.generate_content(model=GEMINI_MODEL, contents="invoice", config=config)

    assert called.function_calls is not None
    assert [(call.name, call.args) for call in called.function_calls] == [("get_weather", {"city": "Oslo"})]
    assert isinstance(structured.parsed, Invoice)


def test_embeddings_and_count_tokens(mock_provider: MockProvider, client: genai.Client) -> None:
    mock_provider.default = MockBehaviour(usage=MockUsage(input_tokens=42, output_tokens=0))

    batch = client.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    single = client.models.embed_content(model="gemini-embedding-001", contents="a")
    counted = client.models.count_tokens(model=GEMINI_MODEL, contents="hi")

    assert batch.embeddings is not None
    assert len(batch.embeddings) == 2
    assert single.embeddings is not None
    assert len(single.embeddings) == 1
    for response in (batch, single):
        assert response.usage_metadata is not None
        assert response.usage_metadata.prompt_token_count == 42
    assert counted.total_tokens == 42


def test_vertex_predict_embeddings(mock_provider: MockProvider) -> None:
    """Vertex AI's :predict (text-embedding-005; every model on google-genai 3.0): tokens per instance."""
    mock_provider.default = MockBehaviour(usage=MockUsage(input_tokens=43, output_tokens=0))

    with client_for("vertex", mock_provider.gemini_base_url) as client:
        response = client.models.embed_content(model="text-embedding-005", contents=["a", "b"])

    assert mock_provider.requests[-1].path.endswith("/publishers/google/models/text-embedding-005:predict")
    assert response.embeddings is not None
    counts = [embedding.statistics.token_count for embedding in response.embeddings if embedding.statistics]
    assert counts == [22, 21]


@pytest.mark.parametrize(
    ("status", "exception"), [(400, errors.ClientError), (429, errors.ClientError), (503, errors.ServerError)]
)
def test_error_status_raises_the_sdk_exception(
    mock_provider: MockProvider, client: genai.Client, status: int, exception: type[errors.APIError]
) -> None:
    mock_provider.enqueue(MockBehaviour(error_status=status, error_message="nope"))

    with pytest.raises(exception) as raised:
        client.models.generate_content(model=GEMINI_MODEL, contents="hi")

    assert raised.value.code == status
    assert raised.value.message == "nope"
    assert len(mock_provider.requests) == 1  # the test clients do not retry


def test_stream_cut_and_in_stream_error(mock_provider: MockProvider, client: genai.Client) -> None:
    mock_provider.enqueue(
        MockBehaviour(text="abcdef", chunks=3, fail_after_events=2),
        MockBehaviour(text="abcdef", chunks=3, fail_after_events=1, fail_with_error_event=True),
    )
    received: list[str | None] = []

    with pytest.raises(httpx2.RemoteProtocolError):  # noqa: PT012  # the failure comes mid-iteration
        for chunk in client.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"):
            received.append(chunk.text)
    with pytest.raises(errors.ServerError, match="503"):  # noqa: PT012
        for chunk in client.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"):
            received.append(chunk.text)

    assert received == ["ab", "cd", "ab"]
