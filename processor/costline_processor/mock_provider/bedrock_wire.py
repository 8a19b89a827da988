"""Bedrock Runtime Converse wire format: `converse` JSON, `converse-stream` event stream, errors, usage.

Usage is configured in the semconv (inclusive) model and split the way Bedrock reports it: Converse's
`inputTokens` EXCLUDES the cache reads and writes (`cacheReadInputTokens`, `cacheWriteInputTokens` are
apart), `totalTokens` includes them, and `cacheDetails` breaks the writes down by TTL (1h before 5m).
InvokeModel reports the same exclusive split in its `x-amzn-bedrock-*-token-count` headers and, for
streams, in the last chunk's `amazon-bedrock-invocationMetrics` (see `bedrock_invoke`).
"""

from __future__ import annotations

import json
from typing import Any, Final

from costline_processor.mock_provider import eventstream
from costline_processor.mock_provider.behaviour import MockUsage, split_text
from costline_processor.mock_provider.wire import Call, Reply, StreamEvent

ERROR_TYPE_HEADER: Final = "x-amzn-errortype"
REQUEST_ID_HEADER: Final = "x-amzn-requestid"
STREAM_ERROR: Final = "modelStreamErrorException"
_LATENCY_MS: Final = 7

# HTTP status -> the Bedrock Runtime error shape botocore raises it as.
_ERRORS: Final[dict[int, str]] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def error_code(status: int) -> str:
    return _ERRORS.get(status, "InternalServerException" if status >= 500 else "ValidationException")


def error_reply(status: int, message: str | None = None) -> Reply:
    """A Bedrock error: the shape's name in `x-amzn-ErrorType` (what botocore reads), the message in JSON."""
    code = error_code(status)
    body = {"message": message or f"Mock provider error {status} ({code})."}
    return Reply(status=status, body=body, headers={ERROR_TYPE_HEADER: f"{code}:http://internal.amazon.com/"})


def stream_error(call: Call) -> StreamEvent:
    return eventstream.exception(STREAM_ERROR, call.behaviour.error_message or "The model stream failed.")


def converse_usage(usage: MockUsage) -> dict[str, Any]:
    """Converse `TokenUsage`: `inputTokens` EXCLUDES cache reads and writes; `totalTokens` includes them."""
    body: dict[str, Any] = {
        "inputTokens": usage.uncached_input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
    }
    if usage.cache_read_tokens or usage.cache_write_tokens:
        body["cacheReadInputTokens"] = usage.cache_read_tokens
        body["cacheWriteInputTokens"] = usage.cache_write_tokens
    details = [("1h", usage.cache_write_1h_tokens), ("5m", usage.cache_write_5m_tokens)]
    if usage.cache_write_tokens:
        body["cacheDetails"] = [{"ttl": ttl, "inputTokens": count} for ttl, count in details if count]
    return body


def stop_reason(call: Call) -> str:
    return call.behaviour.finish_reason or ("tool_use" if call.behaviour.tool_calls else "end_turn")


def _tool_blocks(call: Call) -> list[dict[str, Any]]:
    return [
        {
            "toolUse": {
                "toolUseId": call.tool_call_id(i, "tooluse_"),
                "name": tool.name,
                "input": tool.arguments,
            }
        }
        for i, tool in enumerate(call.behaviour.tool_calls)
    ]


def _service_tier(call: Call) -> dict[str, Any]:
    tier = call.behaviour.service_tier
    return {"serviceTier": {"type": tier}} if tier else {}


def converse(call: Call) -> Reply:
    headers = {REQUEST_ID_HEADER: call.response_id}
    if call.body.get("stream"):
        events = converse_stream_events(call)
        return Reply(
            events=events,
            error_event=stream_error(call),
            headers=headers,
            content_type=eventstream.CONTENT_TYPE,
        )
    tools = _tool_blocks(call)
    text = call.behaviour.text
    content = ([] if not text and tools else [{"text": text}]) + tools
    body = {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(call),
        "usage": converse_usage(call.behaviour.usage),
        "metrics": {"latencyMs": _LATENCY_MS},
        **_service_tier(call),
    }
    return Reply(body=body, headers=headers)


def converse_stream_events(call: Call) -> list[StreamEvent]:
    """messageStart, text deltas, a block per tool call (start, JSON deltas, stop), messageStop, metadata."""
    behaviour = call.behaviour
    events: list[StreamEvent] = [eventstream.event("messageStart", {"role": "assistant"})]
    index = 0
    if behaviour.text or not behaviour.tool_calls:
        for piece in split_text(behaviour.text, behaviour.chunks):
            delta = {"delta": {"text": piece}, "contentBlockIndex": index}
            events.append(eventstream.event("contentBlockDelta", delta))
        events.append(eventstream.event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    for block in _tool_blocks(call):
        tool = block["toolUse"]
        start = {"start": {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}}
        events.append(eventstream.event("contentBlockStart", {**start, "contentBlockIndex": index}))
        for piece in split_text(json.dumps(tool["input"]), behaviour.chunks):
            delta = {"delta": {"toolUse": {"input": piece}}, "contentBlockIndex": index}
            events.append(eventstream.event("contentBlockDelta", delta))
        events.append(eventstream.event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    metadata = {
        "usage": converse_usage(behaviour.usage),
        "metrics": {"latencyMs": _LATENCY_MS},
        **_service_tier(call),
    }
    events += [
        eventstream.event("messageStop", {"stopReason": stop_reason(call)}),
        eventstream.event("metadata", metadata),
    ]
    return events
