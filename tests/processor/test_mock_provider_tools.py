"""Tool calls, early client disconnects and older stream shapes, through the real SDKs and their helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from costline_processor.mock_provider import MockBehaviour, MockProvider, MockToolCall, MockUsage

WEATHER = MockToolCall("get_weather", {"city": "Paris", "days": 3})
CLOCK = MockToolCall("get_time", {"zone": "CET"}, call_id="call_fixed")
TOOLS: list[openai.types.chat.ChatCompletionToolParam] = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in ("get_weather", "get_time")
]
MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "weather?"}]
CLAUDE_MESSAGES: list[anthropic.types.MessageParam] = [{"role": "user", "content": "weather?"}]
MODEL = "claude-sonnet-4-6"


@pytest.fixture
def client(mock_provider: MockProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mock_provider.openai_base_url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
def claude(mock_provider: MockProvider) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=mock_provider.anthropic_base_url, api_key="test", max_retries=0
    ) as claude:
        yield claude


def test_chat_tool_calls_json(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    mock_provider.default = MockBehaviour(text="", tool_calls=(WEATHER, CLOCK))

    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls if c.type == "function"] == [
        ("get_weather", {"city": "Paris", "days": 3}),
        ("get_time", {"zone": "CET"}),
    ]
    assert calls[1].id == "call_fixed"
    assert calls[0].id.startswith("call_")


def test_chat_stream_helper_accumulates_tool_arguments(
    mock_provider: MockProvider, client: openai.OpenAI
) -> None:
    mock_provider.default = MockBehaviour(text="", tool_calls=(WEATHER, CLOCK), chunks=4)

    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, tools=TOOLS) as stream:
        done = [event for event in stream if event.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()

    assert [(event.name, json.loads(event.arguments)) for event in done] == [
        ("get_weather", {"city": "Paris", "days": 3}),
        ("get_time", {"zone": "CET"}),
    ]
    assert final.choices[0].finish_reason == "tool_calls"


def test_responses_function_calls_json_and_stream(mock_provider: MockProvider, client: openai.OpenAI) -> None:
    mock_provider.default = MockBehaviour(text="Let me check.", tool_calls=(WEATHER,))

    response = client.responses.create(model="gpt-5", input="weather?")
    with client.responses.stream(model="gpt-5", input="weather?") as stream:
        deltas = [event.delta for event in stream if event.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()

    for result in (response, final):
        assert [item.type for item in result.output] == ["message", "function_call"]
        call = result.output[1]
        assert call.type == "function_call"
        assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris", "days": 3})
        assert result.output_text == "Let me check."
    assert json.loads("".join(deltas)) == {"city": "Paris", "days": 3}


def test_anthropic_tool_use_json_and_stream(mock_provider: MockProvider, claude: anthropic.Anthropic) -> None:
    mock_provider.default = MockBehaviour(text="Checking.", tool_calls=(WEATHER, CLOCK), chunks=3)

    message = claude.messages.create(model=MODEL, max_tokens=100, messages=CLAUDE_MESSAGES)
    with claude.messages.stream(model=MODEL, max_tokens=100, messages=CLAUDE_MESSAGES) as stream:
        final = stream.get_final_message()

    for result in (message, final):
        assert result.stop_reason == "tool_use"
        assert [block.type for block in result.content] == ["text", "tool_use", "tool_use"]
        uses = [block for block in result.content if block.type == "tool_use"]
        assert [(u.name, u.input) for u in uses] == [
            ("get_weather", {"city": "Paris", "days": 3}),
            ("get_time", {"zone": "CET"}),
        ]
        assert uses[1].id == "call_fixed"
        assert uses[0].id.startswith("toolu_")


def test_anthropic_older_message_delta_carries_output_tokens_only(
    mock_provider: MockProvider, claude: anthropic.Anthropic
) -> None:
    usage = MockUsage(input_tokens=500, output_tokens=50, cache_read_tokens=400)
    mock_provider.default = MockBehaviour(usage=usage, anthropic_delta_input_usage=False)

    events = list(claude.messages.create(model=MODEL, max_tokens=10, messages=CLAUDE_MESSAGES, stream=True))
    with claude.messages.stream(model=MODEL, max_tokens=10, messages=CLAUDE_MESSAGES) as stream:
        final = stream.get_final_message()

    (delta,) = [event for event in events if event.type == "message_delta"]
    assert delta.usage.input_tokens is None
    assert delta.usage.output_tokens == 50
    # The helper keeps message_start's input counts: the final message is complete either way.
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (
        100,
        400,
        50,
    )


def test_client_closing_a_stream_early_leaves_the_server_healthy(
    mock_provider: MockProvider, client: openai.OpenAI, capfd: pytest.CaptureFixture[str]
) -> None:
    mock_provider.enqueue(MockBehaviour(text="x" * 400, chunks=200, event_delay_s=0.002))

    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert completion.choices[0].message.content == "Hello from the mock provider."
    assert "Traceback" not in capfd.readouterr().err


def test_anthropic_thinking_block_when_thinking_is_enabled(
    mock_provider: MockProvider, claude: anthropic.Anthropic
) -> None:
    usage = MockUsage(input_tokens=50, output_tokens=40, reasoning_tokens=25)
    mock_provider.default = MockBehaviour(usage=usage, reasoning_text="Step one. Step two.", chunks=2)
    thinking: anthropic.types.ThinkingConfigParam = {"type": "enabled", "budget_tokens": 1024}

    plain = claude.messages.create(model=MODEL, max_tokens=2048, messages=CLAUDE_MESSAGES)
    message = claude.messages.create(
        model=MODEL, max_tokens=2048, messages=CLAUDE_MESSAGES, thinking=thinking
    )
    with claude.messages.stream(
        model=MODEL, max_tokens=2048, messages=CLAUDE_MESSAGES, thinking=thinking
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()

    assert [block.type for block in plain.content] == ["text"]
    for result in (message, final):
        assert [block.type for block in result.content] == ["thinking", "text"]
        block = result.content[0]
        assert block.type == "thinking"
        assert (block.thinking, block.signature) == ("Step one. Step two.", "mock-signature")
        assert result.usage.output_tokens_details is not None
        assert result.usage.output_tokens_details.thinking_tokens == 25
    assert "thinking" in kinds
    assert "signature" in kinds


def test_responses_reasoning_item_when_reasoning_is_requested(
    mock_provider: MockProvider, client: openai.OpenAI
) -> None:
    usage = MockUsage(input_tokens=50, output_tokens=40, reasoning_tokens=25)
    mock_provider.default = MockBehaviour(usage=usage, reasoning_text="Because.", tool_calls=(WEATHER,))

    plain = client.responses.create(model="gpt-5", input="hi")
    response = client.responses.create(
        model="gpt-5", input="hi", reasoning={"effort": "low", "summary": "auto"}
    )
    with client.responses.stream(model="gpt-5", input="hi", reasoning={"effort": "low"}) as stream:
        indexes = [event.output_index for event in stream if event.type == "response.output_item.added"]
        final = stream.get_final_response()

    assert [item.type for item in plain.output] == ["message", "function_call"]
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == ["Because."]
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
    assert indexes == [0, 1, 2]
    assert final.output_text == "Hello from the mock provider."
