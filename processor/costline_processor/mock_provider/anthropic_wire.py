"""Anthropic Messages wire format (also served on the Vertex AI and Bedrock paths): JSON, SSE, errors."""

from __future__ import annotations

import json
from typing import Any

from costline_processor.mock_provider.behaviour import MockUsage, split_text
from costline_processor.mock_provider.schema_example import json_schema_of, structured_text
from costline_processor.mock_provider.wire import Call, Reply, SseEvent, sse

DEFAULT_SERVICE_TIER = "standard"
THINKING_SIGNATURE = "mock-signature"

_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    kind = _ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": kind, "message": message or f"Mock provider error {status} ({kind})."},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body


def error_reply(status: int, message: str | None = None, request_id: str | None = None) -> Reply:
    return Reply(status=status, body=error_body(status, message, request_id))


def usage_body(usage: MockUsage, service_tier: str | None) -> dict[str, Any]:
    """Anthropic usage: ``input_tokens`` EXCLUDES cache reads and writes (unlike semconv and OpenAI)."""
    body: dict[str, Any] = {
        "input_tokens": usage.uncached_input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_5m_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        },
        "output_tokens": usage.output_tokens,
        "service_tier": service_tier or DEFAULT_SERVICE_TIER,
        "server_tool_use": None,
    }
    if usage.reasoning_tokens:
        body["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return body


def _requested_schema(body: dict[str, Any]) -> Any:
    config = body.get("output_config")
    if isinstance(config, dict) and config.get("format") is not None:
        return json_schema_of(config["format"])
    return json_schema_of(body.get("output_format"))


def _stop_reason(call: Call) -> str:
    return call.behaviour.finish_reason or ("tool_use" if call.behaviour.tool_calls else "end_turn")


def _thinking(call: Call) -> list[dict[str, Any]]:
    """A thinking block when the request enables extended thinking and the usage has reasoning tokens."""
    thinking = call.body.get("thinking")
    enabled = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    if not enabled or not call.behaviour.usage.reasoning_tokens:
        return []
    return [{"type": "thinking", "thinking": call.behaviour.reasoning_text, "signature": THINKING_SIGNATURE}]


def _blocks(call: Call, text: str) -> list[dict[str, Any]]:
    """Blocks: thinking (if enabled), the text (unless empty with tool calls), then tool_use blocks."""
    tools = [
        {"type": "tool_use", "id": call.tool_call_id(i, "toolu_"), "name": tool.name, "input": tool.arguments}
        for i, tool in enumerate(call.behaviour.tool_calls)
    ]
    text_block = [] if not text and tools else [{"type": "text", "text": text, "citations": None}]
    return [*_thinking(call), *text_block, *tools]


def _message(call: Call, text: str | None) -> dict[str, Any]:
    """The message object; ``text=None`` is the form message_start carries (no content, 1 output token)."""
    usage = usage_body(call.behaviour.usage, call.behaviour.service_tier)
    if text is None:
        usage["output_tokens"] = 1
        usage.pop("output_tokens_details", None)
    return {
        "id": call.response_id,
        "type": "message",
        "role": "assistant",
        "model": call.response_model,
        "content": [] if text is None else _blocks(call, text),
        "stop_reason": None if text is None else _stop_reason(call),
        "stop_sequence": None,
        "usage": usage,
    }


def messages(call: Call) -> Reply:
    text = structured_text(call.behaviour.text, _requested_schema(call.body))
    if not call.body.get("stream"):
        return Reply(body=_message(call, text))
    return Reply(events=stream_events(call, text), error_event=_stream_error(call))


def _block_events(call: Call, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    """content_block_start, its deltas (text, thinking + signature, or tool JSON), content_block_stop."""
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in split_text(block["text"], call.behaviour.chunks)]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        pieces = split_text(block["thinking"], call.behaviour.chunks)
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in pieces]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {**block, "input": {}}
        pieces = split_text(json.dumps(block["input"]), call.behaviour.chunks)
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def stream_events(call: Call, text: str) -> list[SseEvent]:
    """The real event sequence; message_delta repeats the input/cache counts as newer API versions do."""
    payloads: list[dict[str, Any]] = [{"type": "message_start", "message": _message(call, None)}]
    for index, block in enumerate(_blocks(call, text)):
        events = _block_events(call, index, block)
        if index == 0:
            events.insert(1, {"type": "ping"})  # the API pings right after the first block starts
        payloads += events
    final = usage_body(call.behaviour.usage, call.behaviour.service_tier)
    keep = ["output_tokens", "output_tokens_details"]
    if call.behaviour.anthropic_delta_input_usage:
        keep += ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]
    final_usage = {key: final[key] for key in keep if key in final}
    stop = {"stop_reason": _stop_reason(call), "stop_sequence": None}
    payloads += [
        {"type": "message_delta", "delta": stop, "usage": final_usage},
        {"type": "message_stop"},
    ]
    return [sse(payload, event=payload["type"]) for payload in payloads]


def _stream_error(call: Call) -> SseEvent:
    return sse(error_body(529, call.behaviour.error_message or "Overloaded"), event="error")
