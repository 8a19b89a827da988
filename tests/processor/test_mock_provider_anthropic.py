"""The mock provider speaks Anthropic (first-party, Vertex AI, Bedrock) for the real `anthropic` SDK."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx2
import pytest
from pydantic import BaseModel

from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

# Semconv (inclusive) usage: 1500 input = 300 uncached + 1000 cache read + 200 cache write (50 of them 1h).
USAGE = MockUsage(
    input_tokens=1500,
    output_tokens=400,
    cache_read_tokens=1000,
    cache_write_tokens=200,
    cache_write_1h_tokens=50,
    reasoning_tokens=100,
)
# Not a deprecated model: the SDK warns about those, and pytest turns warnings into errors.
MODEL = "claude-sonnet-4-6"
MESSAGES: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]


class Invoice(BaseModel):
    number: str
    total: float
    paid: bool


@pytest.fixture
def client(mock_provider: MockProvider) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=mock_provider.anthropic_base_url, api_key="test", max_retries=0
    ) as client:
        yield client


def assert_wire_usage(usage: anthropic.types.Usage) -> None:
    """Anthropic's input_tokens EXCLUDES cache reads and writes."""
    assert usage.input_tokens == 300
    assert usage.cache_read_input_tokens == 1000
    assert usage.cache_creation_input_tokens == 200
    assert usage.cache_creation is not None
    assert usage.cache_creation.ephemeral_5m_input_tokens == 150
    assert usage.cache_creation.ephemeral_1h_input_tokens == 50
    assert usage.output_tokens == 400
    assert usage.output_tokens_details is not None
    assert usage.output_tokens_details.thinking_tokens == 100


def test_messages_json_converts_usage_to_exclusive_input(
    mock_provider: MockProvider, client: anthropic.Anthropic
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, service_tier="priority")

    message = client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)

    assert message.id.startswith("msg_")
    assert message.model == "claude-sonnet-4-6"
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the mock provider."
    assert_wire_usage(message.usage)
    assert message.usage.service_tier == "priority"


def test_default_service_tier_is_standard(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES)

    assert message.usage.service_tier == "standard"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (100, 20)
    assert message.usage.output_tokens_details is None


def test_raw_stream_event_sequence(mock_provider: MockProvider, client: anthropic.Anthropic) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, chunks=4)

    events = list(client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True))

    # The SDK drops `ping` events itself; the server sends one after content_block_start.
    assert [event.type for event in events] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start, delta = events[0], events[-2]
    assert start.type == "message_start"
    assert start.message.usage.input_tokens == 300
    assert start.message.usage.cache_read_input_tokens == 1000
    assert start.message.usage.output_tokens == 1
    assert delta.type == "message_delta"
    assert delta.usage.output_tokens == 400
    assert delta.usage.input_tokens == 300
    assert delta.delta.stop_reason == "end_turn"


def test_stream_helper_text_and_final_message(
    mock_provider: MockProvider, client: anthropic.Anthropic
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, text="abcdef", chunks=3)

    with client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert pieces == ["ab", "cd", "ef"]
    assert final.content[0].type == "text"
    assert final.content[0].text == "abcdef"
    assert_wire_usage(final.usage)


def test_beta_messages(mock_provider: MockProvider, client: anthropic.Anthropic) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)

    message = client.beta.messages.create(
        model=MODEL, max_tokens=10, messages=MESSAGES, betas=["context-1m-2025-08-07"]
    )

    assert message.usage.input_tokens == 300
    request = mock_provider.requests[-1]
    assert request.path == "/v1/messages"  # some SDK versions add ?beta=true, which is served alike
    assert request.headers["anthropic-beta"] == "context-1m-2025-08-07"


def test_structured_output_parse(client: anthropic.Anthropic) -> None:
    message = client.messages.parse(model=MODEL, max_tokens=100, messages=MESSAGES, output_format=Invoice)

    assert isinstance(message.parsed_output, Invoice)


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_error_status_raises_the_sdk_exception(
    mock_provider: MockProvider,
    client: anthropic.Anthropic,
    status: int,
    exception: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    mock_provider.enqueue(MockBehaviour(error_status=status))

    with pytest.raises(exception) as raised:
        client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)

    assert raised.value.status_code == status
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == error_type
    assert raised.value.request_id == raised.value.response.headers["request-id"]


def test_fail_after_events_aborts_mid_stream(
    mock_provider: MockProvider, client: anthropic.Anthropic
) -> None:
    mock_provider.enqueue(MockBehaviour(fail_after_events=4))
    received = []

    # Unlike openai, the anthropic SDK lets the transport error of a cut stream through unwrapped.
    with pytest.raises(httpx2.RemoteProtocolError):  # noqa: PT012  # the failure comes mid-iteration
        for event in client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES, stream=True):
            received.append(event.type)

    # Four SSE events were sent; the SDK hides the ping among them.
    assert received == ["message_start", "content_block_start", "content_block_delta"]


def test_error_event_mid_stream_raises_status_error(
    mock_provider: MockProvider, client: anthropic.Anthropic
) -> None:
    mock_provider.enqueue(
        MockBehaviour(fail_after_events=3, fail_with_error_event=True, error_message="Overloaded")
    )

    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as stream,
    ):
        stream.get_final_message()


def test_vertex_paths_take_the_model_from_the_url(mock_provider: MockProvider) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)
    vertex = anthropic.AnthropicVertex(
        base_url=mock_provider.vertex_base_url,
        access_token="x",
        project_id="proj",
        region="us-east5",
        max_retries=0,
    )

    message = vertex.messages.create(model="claude-sonnet-4-6@20260101", max_tokens=10, messages=MESSAGES)
    with vertex.messages.stream(
        model="claude-sonnet-4-6@20260101", max_tokens=10, messages=MESSAGES
    ) as stream:
        final = stream.get_final_message()

    assert message.model == final.model == "claude-sonnet-4-6@20260101"
    assert_wire_usage(final.usage)
    paths = [request.path for request in mock_provider.requests]
    prefix = "/v1/projects/proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-6@20260101"
    assert paths == [f"{prefix}:rawPredict", f"{prefix}:streamRawPredict"]
    assert mock_provider.requests[0].headers["authorization"] == "Bearer x"


def test_bedrock_invoke(mock_provider: MockProvider) -> None:
    bedrock = anthropic.AnthropicBedrock(
        base_url=mock_provider.url, api_key="x", aws_region="us-east-1", max_retries=0
    )

    message = bedrock.messages.create(
        model="anthropic.claude-3-5-haiku-20241022-v1:0", max_tokens=10, messages=MESSAGES
    )

    assert message.model == "anthropic.claude-3-5-haiku-20241022-v1:0"
    assert mock_provider.requests[-1].path == "/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke"


async def test_async_client_json_and_stream_helper(mock_provider: MockProvider) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)
    aclient = anthropic.AsyncAnthropic(
        base_url=mock_provider.anthropic_base_url, api_key="test", max_retries=0
    )

    message = await aclient.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    async with aclient.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    await aclient.close()

    assert_wire_usage(message.usage)
    assert_wire_usage(final.usage)
    assert text == "Hello from the mock provider."


async def test_async_stream_abort_raises(mock_provider: MockProvider) -> None:
    mock_provider.enqueue(MockBehaviour(fail_after_events=2))
    aclient = anthropic.AsyncAnthropic(
        base_url=mock_provider.anthropic_base_url, api_key="test", max_retries=0
    )

    with pytest.raises(httpx2.RemoteProtocolError):
        async with aclient.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as stream:
            await stream.get_final_message()
    await aclient.close()
