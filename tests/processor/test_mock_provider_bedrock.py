"""The mock provider speaks Bedrock Runtime for the real `boto3` client (dummy credentials, endpoint_url).

Converse JSON, ConverseStream and InvokeModelWithResponseStream as the binary AWS event stream (parsed and
checksum-checked by botocore itself), InvokeModel in each model family's body format; errors, in-stream
error events and cut streams as botocore raises them.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError
from urllib3.exceptions import ProtocolError

from bedrock_clients import CLAUDE, FAMILY_MODELS, MESSAGES, bedrock_client, invoke_body
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockToolCall, MockUsage
from costline_processor.mock_provider.eventstream import encode_message

# semconv (inclusive): 1,000 input of which 300 read from the cache and 200 written (50 of them for 1 hour).
USAGE = MockUsage(
    input_tokens=1_000,
    output_tokens=50,
    cache_read_tokens=300,
    cache_write_tokens=200,
    cache_write_1h_tokens=50,
)
TEXT = "Hello from the mock Bedrock."
WIRE_USAGE = {
    "inputTokens": 500,  # EXCLUDES the 300 read and the 200 written
    "outputTokens": 50,
    "totalTokens": 1_050,  # includes them
    "cacheReadInputTokens": 300,
    "cacheWriteInputTokens": 200,
    "cacheDetails": [{"ttl": "1h", "inputTokens": 50}, {"ttl": "5m", "inputTokens": 150}],
}
WIRE_HEADERS = {
    "x-amzn-bedrock-input-token-count": "500",
    "x-amzn-bedrock-output-token-count": "50",
    "x-amzn-bedrock-cache-read-input-token-count": "300",
    "x-amzn-bedrock-cache-write-input-token-count": "200",
}
METRICS = {"inputTokenCount": 500, "outputTokenCount": 50, "cacheReadInputTokenCount": 300}


@pytest.fixture
def bedrock(mock_provider: MockProvider) -> Any:
    mock_provider.default = MockBehaviour(usage=USAGE, text=TEXT, chunks=3)
    return bedrock_client(mock_provider.bedrock_endpoint_url)


def test_converse_reports_usage_exclusive_of_the_cache(bedrock: Any, mock_provider: MockProvider) -> None:
    response = bedrock.converse(modelId=CLAUDE, messages=MESSAGES)

    assert response["output"]["message"] == {"role": "assistant", "content": [{"text": TEXT}]}
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == WIRE_USAGE
    assert response["ResponseMetadata"]["RequestId"].startswith("bedrock-mock")
    request = mock_provider.requests[-1]
    assert request.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    assert request.body["messages"] == MESSAGES
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256")


def test_converse_without_caching_and_with_tools(bedrock: Any, mock_provider: MockProvider) -> None:
    tool = MockToolCall("get_weather", {"city": "Oslo"}, call_id="tooluse_1")
    mock_provider.enqueue(
        MockBehaviour(usage=MockUsage(input_tokens=80, output_tokens=9), text="", tool_calls=(tool,))
    )

    response = bedrock.converse(modelId=CLAUDE, messages=MESSAGES)

    assert response["usage"] == {"inputTokens": 80, "outputTokens": 9, "totalTokens": 89}
    assert response["stopReason"] == "tool_use"
    (block,) = response["output"]["message"]["content"]
    assert block == {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Oslo"}}}


def test_converse_stream_is_an_aws_event_stream(bedrock: Any, mock_provider: MockProvider) -> None:
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{CLAUDE}"
    response = bedrock.converse_stream(modelId=arn, messages=MESSAGES)
    events = list(response["stream"])

    assert [next(iter(event)) for event in events] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == TEXT
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert events[-1]["metadata"]["usage"] == WIRE_USAGE
    assert "%3Ainference-profile%2Fus." in mock_provider.requests[-1].path  # the ARN is one path segment
    assert mock_provider.requests[-1].path.endswith("/converse-stream")


def test_converse_stream_tool_use_blocks(bedrock: Any, mock_provider: MockProvider) -> None:
    tool = MockToolCall("lookup", {"query": "costline"}, call_id="tooluse_7")
    mock_provider.enqueue(MockBehaviour(text="", tool_calls=(tool,), chunks=2))

    events = list(bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"])

    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert starts == [
        {"start": {"toolUse": {"toolUseId": "tooluse_7", "name": "lookup"}}, "contentBlockIndex": 0}
    ]
    pieces = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e]
    assert json.loads("".join(pieces)) == {"query": "costline"}
    assert {"messageStop": {"stopReason": "tool_use"}} in events


def _invoke(bedrock: Any, family: str) -> tuple[dict[str, Any], dict[str, str]]:
    response = bedrock.invoke_model(modelId=FAMILY_MODELS[family], body=invoke_body(family))
    return json.loads(response["body"].read()), response["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize("family", list(FAMILY_MODELS))
def test_invoke_reports_usage_in_headers(bedrock: Any, family: str) -> None:
    _, headers = _invoke(bedrock, family)
    assert {name: headers[name] for name in WIRE_HEADERS} == WIRE_HEADERS


def test_invoke_body_of_each_family(bedrock: Any) -> None:
    claude, _ = _invoke(bedrock, "anthropic")
    assert claude["type"] == "message"
    assert claude["content"] == [{"type": "text", "text": TEXT, "citations": None}]
    assert claude["usage"]["input_tokens"] == 500  # Anthropic's usage, exclusive as on the first-party API
    assert claude["usage"]["cache_read_input_tokens"] == 300

    nova, _ = _invoke(bedrock, "nova")
    assert nova["output"]["message"]["content"] == [{"text": TEXT}]
    assert nova["usage"] == {
        "inputTokens": 500,
        "outputTokens": 50,
        "totalTokens": 1_050,
        "cacheReadInputTokenCount": 300,
        "cacheWriteInputTokenCount": 200,
    }

    llama, _ = _invoke(bedrock, "llama")
    assert llama == {
        "generation": TEXT,
        "prompt_token_count": 500,
        "generation_token_count": 50,
        "stop_reason": "stop",
    }

    mistral, _ = _invoke(bedrock, "mistral")
    assert mistral == {"outputs": [{"text": TEXT, "stop_reason": "stop"}]}  # no token counts in the body


def test_mistral_chat_format(bedrock: Any) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10})
    response = bedrock.invoke_model(modelId="mistral.mistral-large-2407-v1:0", body=body)
    answer = json.loads(response["body"].read())
    assert answer == {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "stop_reason": "stop"}]
    }


def _chunks(bedrock: Any, family: str) -> list[dict[str, Any]]:
    response = bedrock.invoke_model_with_response_stream(
        modelId=FAMILY_MODELS[family], body=invoke_body(family)
    )
    assert response["contentType"] == "application/json"
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


@pytest.mark.parametrize("family", list(FAMILY_MODELS))
def test_invoke_stream_last_chunk_has_the_invocation_metrics(bedrock: Any, family: str) -> None:
    chunks = _chunks(bedrock, family)
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert {key: metrics[key] for key in METRICS} == METRICS
    assert all("amazon-bedrock-invocationMetrics" not in chunk for chunk in chunks[:-1])


def test_invoke_stream_chunks_of_each_family(bedrock: Any) -> None:
    claude = _chunks(bedrock, "anthropic")
    assert claude[0]["type"] == "message_start"
    assert [c["type"] for c in claude][-2:] == ["message_delta", "message_stop"]

    nova = _chunks(bedrock, "nova")
    assert "".join(c["contentBlockDelta"]["delta"]["text"] for c in nova if "contentBlockDelta" in c) == TEXT
    assert nova[-1]["metadata"]["usage"]["inputTokens"] == 500

    llama = _chunks(bedrock, "llama")
    assert "".join(c["generation"] for c in llama) == TEXT
    assert [c["prompt_token_count"] for c in llama] == [500, None, None]
    assert llama[-1]["generation_token_count"] == 50
    assert llama[-1]["stop_reason"] == "stop"

    mistral = _chunks(bedrock, "mistral")
    assert "".join(c["outputs"][0]["text"] for c in mistral) == TEXT
    assert [c["outputs"][0]["stop_reason"] for c in mistral] == [None, None, "stop"]


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "ValidationException"), (403, "AccessDeniedException"), (429, "ThrottlingException"),
     (500, "InternalServerException"), (503, "ServiceUnavailableException")],
)  # fmt: skip
def test_errors_are_bedrock_errors(bedrock: Any, mock_provider: MockProvider, status: int, code: str) -> None:
    mock_provider.enqueue(MockBehaviour(error_status=status, error_message="nope"))
    with pytest.raises(ClientError) as raised:
        bedrock.converse(modelId=CLAUDE, messages=MESSAGES)
    assert type(raised.value).__name__ == code
    assert raised.value.response["Error"] == {"Code": code, "Message": "nope"}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(mock_provider.requests) == 1  # tried once


@pytest.mark.parametrize("operation", ["converse_stream", "invoke_model_with_response_stream"])
def test_in_stream_error_and_cut_stream(bedrock: Any, mock_provider: MockProvider, operation: str) -> None:
    mock_provider.enqueue(
        MockBehaviour(usage=USAGE, chunks=3, fail_after_events=2, fail_with_error_event=True),
        MockBehaviour(usage=USAGE, chunks=3, fail_after_events=2),
    )

    def stream() -> Any:
        if operation == "converse_stream":
            return bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"]
        return bedrock.invoke_model_with_response_stream(modelId=CLAUDE, body=invoke_body("anthropic"))[
            "body"
        ]

    for error in (EventStreamError, ProtocolError):
        events = stream()
        seen: list[Any] = []
        with pytest.raises(error):
            seen.extend(events)
        events.close()  # the connection is not reusable after a failed stream
        assert len(seen) == 2
    assert len(mock_provider.requests) == 2


def test_in_stream_error_names_the_exception(bedrock: Any, mock_provider: MockProvider) -> None:
    mock_provider.enqueue(
        MockBehaviour(fail_after_events=1, fail_with_error_event=True, error_message="oops")
    )
    stream = bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"]
    with pytest.raises(EventStreamError) as raised:
        list(stream)
    stream.close()
    assert raised.value.response["Error"] == {"Code": "modelStreamErrorException", "Message": "oops"}


def test_event_stream_frames_pass_botocore_checksums() -> None:
    message = encode_message({":event-type": "metadata", ":message-type": "event"}, b'{"a":1}')
    buffer = EventStreamBuffer()
    buffer.add_data(message)
    (parsed,) = list(buffer)
    assert parsed.headers == {":event-type": "metadata", ":message-type": "event"}
    assert parsed.payload == b'{"a":1}'

    corrupted = EventStreamBuffer()
    corrupted.add_data(message[:-6] + b"b" + message[-5:])  # one payload byte changed
    with pytest.raises(ChecksumMismatch):
        list(corrupted)


def test_anthropic_bedrock_client_streams_too(mock_provider: MockProvider) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE, text=TEXT)
    client = anthropic.AnthropicBedrock(
        base_url=mock_provider.bedrock_endpoint_url, api_key="x", aws_region="us-east-1", max_retries=0
    )
    model = FAMILY_MODELS["anthropic"]
    with client.messages.stream(
        model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        final = s.get_final_message()

    assert final.content[0].type == "text"
    assert final.usage.input_tokens == 500
    assert final.usage.cache_read_input_tokens == 300
    assert mock_provider.requests[-1].path == f"/model/{model}/invoke-with-response-stream"  # not quoted
