"""The mock provider's own contract: behaviours, queue, recording, error injection, routing, the CLI."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from costline_processor.mock_provider import (
    BEHAVIOUR_HEADER,
    USAGE_HEADER,
    MockBehaviour,
    MockProvider,
    MockUsage,
)
from costline_processor.mock_provider.routes import route
from costline_processor.mock_provider.schema_example import example_for

COSTLINE = Path(sys.executable).parent / "costline"
MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def openai_client(server: MockProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)


def test_queue_is_fifo_then_default(mock_provider: MockProvider) -> None:
    client = openai_client(mock_provider)
    mock_provider.default = MockBehaviour(text="default")
    mock_provider.enqueue(MockBehaviour(text="first"), MockBehaviour(text="second"))

    texts = [
        client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content for _ in "123"
    ]

    assert texts == ["first", "second", "default"]


def test_concurrent_requests_each_take_one_queued_behaviour(mock_provider: MockProvider) -> None:
    texts = [f"answer {index}" for index in range(16)]
    mock_provider.enqueue(*(MockBehaviour(text=text, latency_s=0.02) for text in texts))

    def ask(_: int) -> str:
        with openai_client(mock_provider) as client:
            return (
                client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content or ""
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(16)))

    assert sorted(answers) == sorted(texts)
    assert len(mock_provider.requests) == 16


def test_reset_clears_everything(mock_provider: MockProvider) -> None:
    client = openai_client(mock_provider)
    client.embeddings.create(model="m", input="x")
    mock_provider.default = MockBehaviour(text="custom")
    mock_provider.enqueue(MockBehaviour(error_status=500))

    mock_provider.reset()

    assert mock_provider.requests == []
    assert mock_provider.default == MockBehaviour()
    completion = client.chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].message.content == "Hello from the mock provider."
    assert len(mock_provider.requests) == 1


def test_generated_ids_are_unique_across_resets(mock_provider: MockProvider) -> None:
    client = openai_client(mock_provider)
    first = client.chat.completions.create(model="m", messages=MESSAGES).id
    mock_provider.reset()
    second = client.chat.completions.create(model="m", messages=MESSAGES).id
    mock_provider.enqueue(MockBehaviour(response_id="chatcmpl-fixed"))
    fixed = client.chat.completions.create(model="m", messages=MESSAGES).id

    assert first != second
    assert first.startswith("chatcmpl-mock")
    assert fixed == "chatcmpl-fixed"


def test_usage_header_overrides_one_call(mock_provider: MockProvider) -> None:
    client = openai_client(mock_provider)
    usage = {"input_tokens": 7, "output_tokens": 3, "cache_read_tokens": 2}

    overridden = client.chat.completions.create(
        model="m", messages=MESSAGES, extra_headers={USAGE_HEADER: json.dumps(usage)}
    )
    plain = client.chat.completions.create(model="m", messages=MESSAGES)

    assert overridden.usage is not None
    assert (overridden.usage.prompt_tokens, overridden.usage.completion_tokens) == (7, 3)
    assert plain.usage is not None
    assert plain.usage.prompt_tokens == 100


def test_behaviour_header_overrides_one_call(mock_provider: MockProvider) -> None:
    client = openai_client(mock_provider)
    behaviour = {
        "text": "",
        "usage": {"input_tokens": 9, "output_tokens": 2},
        "tool_calls": [{"name": "lookup", "arguments": {"id": 1}}],
    }

    completion = client.chat.completions.create(
        model="m", messages=MESSAGES, extra_headers={BEHAVIOUR_HEADER: json.dumps(behaviour)}
    )
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={BEHAVIOUR_HEADER: '{"error_status": 429}'}
        )

    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 9
    assert completion.choices[0].finish_reason == "tool_calls"
    with pytest.raises(openai.BadRequestError, match="unexpected keyword"):
        client.chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={BEHAVIOUR_HEADER: '{"nope": 1}'}
        )


def test_replies_are_fast(mock_provider: MockProvider) -> None:
    """Headers and body are separate writes: without TCP_NODELAY each reply waits ~40 ms (delayed ACK)."""
    client = openai_client(mock_provider)
    client.chat.completions.create(model="m", messages=MESSAGES)
    durations = []
    for _ in range(15):
        started = time.perf_counter()
        client.chat.completions.create(model="m", messages=MESSAGES)
        durations.append(time.perf_counter() - started)

    assert sorted(durations)[len(durations) // 2] < 0.03


def test_bad_usage_header_is_a_400(mock_provider: MockProvider) -> None:
    client = openai_client(mock_provider)
    impossible = {"input_tokens": 1, "cache_read_tokens": 5}

    with pytest.raises(openai.BadRequestError, match=USAGE_HEADER):
        client.chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={USAGE_HEADER: json.dumps(impossible)}
        )


def test_unknown_path_is_404_and_non_json_body_is_400(mock_provider: MockProvider) -> None:
    status, body = post(mock_provider.url + "/v1/nothing-here", b"{}")
    assert status == 404
    assert body["error"]["type"] == "invalid_request_error"

    status, body = post(mock_provider.url + "/v1/messages", b"not json", {"content-type": "text/plain"})
    assert status == 400
    assert body["type"] == "error"
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "The request body must be a JSON object.",
    }
    assert body["request_id"].startswith("req_mock")
    assert mock_provider.requests[-1].body == "not json"  # recorded as sent


def test_chunked_request_body_is_read(mock_provider: MockProvider) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", int(mock_provider.url.rsplit(":", 1)[1]), timeout=10)
    body = iter([b'{"model": "chunky", ', b'"input": "x"}'])
    connection.request("POST", "/v1/embeddings", body=body, encode_chunked=True)
    with connection.getresponse() as response:
        reply = json.loads(response.read())
    connection.close()

    assert reply["model"] == "chunky"
    assert mock_provider.requests[-1].body == {"model": "chunky", "input": "x"}


def test_latency_delays_the_reply(mock_provider: MockProvider) -> None:
    mock_provider.enqueue(MockBehaviour(latency_s=0.3))
    started = time.monotonic()

    openai_client(mock_provider).chat.completions.create(model="m", messages=MESSAGES)

    assert time.monotonic() - started >= 0.3


def test_seeded_error_injection_is_repeatable() -> None:
    def outcomes(seed: int) -> list[int]:
        with MockProvider(error_rate=0.5, error_status=503, seed=seed) as server:
            return [post(server.openai_base_url + "/embeddings", b'{"input": "x"}')[0] for _ in range(20)]

    first, second = outcomes(7), outcomes(7)

    assert first == second
    assert set(first) == {200, 503}
    assert outcomes(8) != first


def test_impossible_usage_and_behaviour_are_refused() -> None:
    with pytest.raises(ValueError, match="input_tokens"):
        MockUsage(input_tokens=10, cache_read_tokens=8, cache_write_tokens=8)
    with pytest.raises(ValueError, match="cache_write_1h_tokens"):
        MockUsage(cache_write_tokens=1, cache_write_1h_tokens=2)
    with pytest.raises(ValueError, match="reasoning_tokens"):
        MockUsage(output_tokens=1, reasoning_tokens=2)
    with pytest.raises(ValueError, match="error_status"):
        MockBehaviour(error_status=200)


def test_url_needs_a_running_server() -> None:
    server = MockProvider()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.openai_base_url == server.url + "/v1"
        assert server.anthropic_base_url == server.url


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/chat/completions", ("openai", "chat", None)),
        ("/chat/completions", ("openai", "chat", None)),
        ("/openai/deployments/gpt4o-prod/chat/completions", ("openai", "chat", "gpt4o-prod")),
        ("/openai/v1/responses", ("openai", "responses", None)),
        ("/v1/embeddings", ("openai", "embeddings", None)),
        ("/v1/completions", ("openai", "completions", None)),
        ("/v1/messages", ("anthropic", "messages", None)),
        ("/v1/messages/count_tokens", ("anthropic", "count_tokens", None)),
        (
            "/v1/projects/p/locations/global/publishers/anthropic/models/claude-x@2025%3Bv:streamRawPredict",
            ("anthropic", "messages", "claude-x@2025;v"),
        ),
        ("/model/anthropic.claude-v2:1/invoke", ("bedrock", "invoke", "anthropic.claude-v2:1")),
        (
            "/model/anthropic.claude-v2%3A1/invoke-with-response-stream",
            ("bedrock", "invoke", "anthropic.claude-v2:1"),
        ),
        ("/model/us.amazon.nova-pro-v1%3A0/converse", ("bedrock", "converse", "us.amazon.nova-pro-v1:0")),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fm/converse-stream",
            ("bedrock", "converse", "arn:aws:bedrock:us-east-1::foundation-model/m"),
        ),
        ("/model/m/invoke/extra", None),
        ("/v1/nothing", None),
    ],
)
def test_routes(path: str, expected: tuple[str, str, str | None] | None) -> None:
    found = route("POST", path)
    assert (None if found is None else (found.provider, found.endpoint, found.model)) == expected


def test_schema_example_follows_refs_enums_and_nullables() -> None:
    schema = {
        "type": "object",
        "properties": {
            "kind": {"enum": ["a", "b"]},
            "child": {"$ref": "#/$defs/Child"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
            "items": {"type": "array", "items": {"type": "number"}, "minItems": 2},
        },
        "$defs": {"Child": {"type": "object", "properties": {"name": {"type": "string"}}}},
    }

    assert example_for(schema, "t") == {"kind": "a", "child": {"name": "t"}, "maybe": 1, "items": [1.0, 1.0]}


def test_count_tokens_and_models(mock_provider: MockProvider) -> None:
    client = anthropic.Anthropic(base_url=mock_provider.anthropic_base_url, api_key="test", max_retries=0)

    counted = client.messages.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}]
    )
    models = openai_client(mock_provider).models.list()

    assert counted.input_tokens == 100
    assert [model.id for model in models] == ["mock-model"]


def test_cli_serves_real_sdk_calls_until_terminated() -> None:
    command = [
        str(COSTLINE),
        "mock-provider",
        "--port",
        "0",
        "--input-tokens",
        "50",
        "--cache-read-tokens",
        "30",
    ]
    command += ["--output-tokens", "9", "--reasoning-tokens", "4", "--error-rate", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            client = anthropic.Anthropic(base_url=url, api_key="test", max_retries=0, timeout=10)
            message = client.messages.create(
                model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (20, 30)
    assert message.usage.output_tokens == 9
    assert process.returncode == 0


def test_cli_help_and_bad_usage() -> None:
    shown = subprocess.run(
        [str(COSTLINE), "mock-provider", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert shown.returncode == 0
    assert "--error-rate" in shown.stdout
    assert "INCLUDING cache" in shown.stdout

    bad = [str(COSTLINE), "mock-provider", "--port", "0", "--input-tokens", "1", "--cache-read-tokens", "2"]
    refused = subprocess.run(bad, capture_output=True, text=True, timeout=30, check=False)
    assert refused.returncode == 2
    assert "input_tokens" in refused.stderr


def test_cli_reports_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = subprocess.run(
            [str(COSTLINE), "mock-provider", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert busy.returncode == 1
    assert busy.stderr == (
        f"Error: --port: 127.0.0.1:{port} is already in use by another process: stop it, or choose another"
        " port (0 picks a free one)\n"
    )
