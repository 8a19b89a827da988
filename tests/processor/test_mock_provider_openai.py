"""The mock provider speaks OpenAI well enough for the real `openai` SDK: JSON, streams, helpers, errors."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from pydantic import BaseModel

from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

USAGE = MockUsage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000, reasoning_tokens=120)
MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


class Weather(BaseModel):
    city: str
    celsius: float
    sunny: bool
    tags: list[str]


@pytest.fixture
def client(mock_provider: MockProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mock_provider.openai_base_url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
def aclient(mock_provider: MockProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=mock_provider.openai_base_url, api_key="test", max_retries=0)


def test_chat_json_reports_inclusive_usage_and_details(
    mock_provider: MockProvider, client: openai.OpenAI
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, service_tier="flex", response_id="chatcmpl-fixed")

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.id == "chatcmpl-fixed"
    assert completion.model == "gpt-4o-mini"  # echoes the request's model
    assert completion.service_tier == "flex"
    assert completion.system_fingerprint
    assert completion.choices[0].message.content == "Hello from the mock provider."
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1200, 300, 1500)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1000
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 120


def test_chat_stream_without_include_usage_has_no_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))

    assert all(chunk.usage is None for chunk in chunks)
    assert all("usage" not in chunk.model_fields_set for chunk in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock provider."
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_stream_include_usage_sends_a_final_usage_chunk(
    mock_provider: MockProvider, client: openai.OpenAI
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, chunks=5, response_model="gpt-4o-2024-08-06")

    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    *body, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (1200, 300)
    assert last.usage.prompt_tokens_details is not None
    assert last.usage.prompt_tokens_details.cached_tokens == 1000
    assert all(chunk.usage is None and "usage" in chunk.model_fields_set for chunk in body)
    assert len([c for c in body if c.choices and c.choices[0].delta.content]) == 5
    assert {chunk.model for chunk in chunks} == {"gpt-4o-2024-08-06"}


def test_chat_stream_helper_final_completion(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)

    with client.chat.completions.stream(
        model="gpt-4o", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()

    assert "".join(deltas) == "Hello from the mock provider."
    assert final.usage is not None
    assert final.usage.total_tokens == 1500


def test_chat_parse_returns_json_matching_the_schema(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=Weather)

    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    assert parsed.tags


def test_chat_stream_helper_with_response_format(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, response_format=Weather) as stream:
        final = stream.get_final_completion()

    assert isinstance(final.choices[0].message.parsed, Weather)


def test_responses_json_usage(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, service_tier="priority")

    response = client.responses.create(model="gpt-5", input="hi")

    assert response.id.startswith("resp_")
    assert response.output_text == "Hello from the mock provider."
    assert response.service_tier == "priority"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        1200,
        300,
        1500,
    )
    assert response.usage.input_tokens_details.cached_tokens == 1000
    assert response.usage.output_tokens_details.reasoning_tokens == 120


def test_responses_stream_has_the_real_event_sequence(
    mock_provider: MockProvider, client: openai.OpenAI
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, chunks=2)

    events = list(client.responses.create(model="gpt-5", input="hi", stream=True))

    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None
    assert completed.response.usage.input_tokens_details.cached_tokens == 1000


def test_responses_stream_helper_and_parse(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-5", input="hi", text_format=Weather) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()

    assert deltas
    assert isinstance(final.output_parsed, Weather)
    assert final.usage is not None
    assert final.usage.output_tokens == 20


@pytest.mark.parametrize("encoding", ["base64", "float"])
def test_embeddings(mock_provider: MockProvider, client: openai.OpenAI, encoding: str) -> None:
    mock_provider.default = MockBehaviour(usage=MockUsage(input_tokens=42, output_tokens=0))

    if encoding == "float":
        result = client.embeddings.create(
            model="text-embedding-3-small", input=["a", "b"], encoding_format="float"
        )
    else:  # the SDK asks for base64 by default and decodes it
        result = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])

    assert [item.index for item in result.data] == [0, 1]
    assert all(
        len(item.embedding) == 8 and all(isinstance(x, float) for x in item.embedding) for item in result.data
    )
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (42, 42)
    assert mock_provider.requests[-1].body.get("encoding_format") == encoding


def test_legacy_completions_json_and_stream(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)

    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi")
    chunks = list(
        client.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="hi", stream=True, stream_options={"include_usage": True}
        )
    )

    assert completion.choices[0].text == "Hello from the mock provider."
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 1200
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Hello from the mock provider."
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 300


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_error_status_raises_the_sdk_exception(
    mock_provider: MockProvider, client: openai.OpenAI, status: int, exception: type[openai.APIStatusError]
) -> None:
    mock_provider.enqueue(MockBehaviour(error_status=status, error_message="boom"))

    with pytest.raises(exception) as raised:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert raised.value.status_code == status
    assert raised.value.message.endswith("boom")
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["message"] == "boom"
    # The queued error was used once: the next call succeeds.
    assert client.chat.completions.create(model="gpt-4o", messages=MESSAGES).usage is not None


def test_sdk_retries_consume_one_queued_behaviour_per_request(mock_provider: MockProvider) -> None:
    retrying = openai.OpenAI(base_url=mock_provider.openai_base_url, api_key="test", max_retries=2)
    mock_provider.enqueue(
        MockBehaviour(error_status=429, retry_after_s=0.01),
        MockBehaviour(error_status=500, retry_after_s=0.01),
    )

    completion = retrying.with_options(timeout=10).chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert completion.choices[0].message.content
    retries = [request.headers["x-stainless-retry-count"] for request in mock_provider.requests]
    assert retries == ["0", "1", "2"]


def test_fail_after_events_aborts_the_chat_stream(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    mock_provider.enqueue(MockBehaviour(fail_after_events=2))
    received = []

    with pytest.raises(openai.APIConnectionError):  # noqa: PT012  # the failure comes mid-iteration
        for chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            received.append(chunk)

    assert len(received) == 2


def test_fail_with_error_event_raises_api_error(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    mock_provider.enqueue(
        MockBehaviour(fail_after_events=1, fail_with_error_event=True, error_message="overload")
    )
    received = []

    with pytest.raises(openai.APIError, match="overload"):  # noqa: PT012
        for chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            received.append(chunk)

    assert len(received) == 1


def test_responses_error_event_mid_stream(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    mock_provider.enqueue(MockBehaviour(fail_after_events=3, fail_with_error_event=True))

    events = list(client.responses.create(model="gpt-5", input="hi", stream=True))

    assert [event.type for event in events][-2:] == ["response.output_item.added", "error"]


def test_azure_deployment_path(mock_provider: MockProvider) -> None:
    azure = openai.AzureOpenAI(
        azure_endpoint=mock_provider.url, api_key="test", api_version="2024-10-21", max_retries=0
    )

    completion = azure.chat.completions.create(model="my-deployment", messages=MESSAGES)

    assert completion.model == "my-deployment"
    request = mock_provider.requests[-1]
    assert request.path == "/openai/deployments/my-deployment/chat/completions"
    assert request.query == "api-version=2024-10-21"
    assert request.headers["api-key"] == "test"


def test_headers_and_body_are_recorded(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers={"X-Trace-Me": "yes"})

    (request,) = mock_provider.requests
    assert (request.method, request.path, request.query) == ("POST", "/v1/chat/completions", "")
    assert request.headers["authorization"] == "Bearer test"
    assert request.headers["x-trace-me"] == "yes"
    assert request.body == {"model": "gpt-4o", "messages": MESSAGES}


async def test_async_client_json_and_stream(mock_provider: MockProvider, aclient: openai.AsyncOpenAI) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)

    completion = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    stream = await aclient.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    await aclient.close()

    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 1200
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens_details is not None
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 120


async def test_async_stream_abort_raises(mock_provider: MockProvider, aclient: openai.AsyncOpenAI) -> None:
    mock_provider.enqueue(MockBehaviour(fail_after_events=4))

    stream = await aclient.responses.create(model="gpt-5", input="hi", stream=True)
    with pytest.raises(openai.APIConnectionError):
        [event async for event in stream]
    await aclient.close()
