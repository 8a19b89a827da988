"""OpenAI wire format: chat completions, embeddings, legacy completions, errors (Responses: own module)."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from costline_processor.mock_provider.behaviour import MockToolCall, MockUsage, split_text
from costline_processor.mock_provider.schema_example import json_schema_of, structured_text
from costline_processor.mock_provider.wire import Call, Reply, SseEvent, sse

SYSTEM_FINGERPRINT = "fp_mock"
EMBEDDING_DIMENSIONS = 8

# status -> (error.type, error.code) as the real API sends them.
_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kind, code = _ERRORS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    text = message or f"Mock provider error {status} ({kind})."
    return {"error": {"message": text, "type": kind, "param": None, "code": code}}


def error_reply(status: int, message: str | None = None) -> Reply:
    return Reply(status=status, body=error_body(status, message))


def _usage_chat(usage: MockUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _finish_reason(call: Call) -> str:
    return call.behaviour.finish_reason or ("tool_calls" if call.behaviour.tool_calls else "stop")


def _tool_arguments(call: Call) -> list[tuple[MockToolCall, str]]:
    return [(tool, json.dumps(tool.arguments)) for tool in call.behaviour.tool_calls]


def _tool_call_deltas(call: Call) -> list[dict[str, Any]]:
    """Per tool: a delta naming it, then its JSON arguments in pieces (as the API streams them)."""
    deltas: list[dict[str, Any]] = []
    for index, (tool, arguments) in enumerate(_tool_arguments(call)):
        function = {"name": tool.name, "arguments": ""}
        deltas.append({"index": index, "id": call.tool_call_id(index, "call_"), "type": "function"})
        deltas[-1]["function"] = function
        for piece in split_text(arguments, call.behaviour.chunks):
            deltas.append({"index": index, "function": {"arguments": piece}})
    return deltas


def chat_completions(call: Call) -> Reply:
    schema = json_schema_of(call.body.get("response_format"))
    content = structured_text(call.behaviour.text, schema)
    if call.body.get("stream"):
        return _chat_stream(call, content)
    message: dict[str, Any] = {"role": "assistant", "content": content or None, "refusal": None}
    message["annotations"] = []
    if call.behaviour.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.tool_call_id(i, "call_"),
                "type": "function",
                "function": {"name": t.name, "arguments": a},
            }
            for i, (t, a) in enumerate(_tool_arguments(call))
        ]
    body: dict[str, Any] = {
        "id": call.response_id,
        "object": "chat.completion",
        "created": call.created,
        "model": call.response_model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(call),
            }
        ],
        "usage": _usage_chat(call.behaviour.usage),
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    if call.behaviour.service_tier is not None:
        body["service_tier"] = call.behaviour.service_tier
    return Reply(body=body)


def _chat_stream(call: Call, content: str) -> Reply:
    options = call.body.get("stream_options") or {}
    include_usage = isinstance(options, dict) and options.get("include_usage") is True

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> SseEvent:
        data: dict[str, Any] = {
            "id": call.response_id,
            "object": "chat.completion.chunk",
            "created": call.created,
            "model": call.response_model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        }
        if call.behaviour.service_tier is not None:
            data["service_tier"] = call.behaviour.service_tier
        if include_usage:
            data["usage"] = usage
        return sse(data)

    def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    events = [chunk(choice({"role": "assistant", "content": "", "refusal": None}))]
    events += [chunk(choice({"content": piece})) for piece in split_text(content, call.behaviour.chunks)]
    events += [chunk(choice({"tool_calls": [delta]})) for delta in _tool_call_deltas(call)]
    events.append(chunk(choice({}, _finish_reason(call))))
    if include_usage:
        events.append(chunk([], _usage_chat(call.behaviour.usage)))
    events.append(SseEvent(data="[DONE]"))
    error = error_body(500, call.behaviour.error_message or "The server had an error while streaming.")
    return Reply(events=events, error_event=sse(error))


def completions(call: Call) -> Reply:
    """Legacy /v1/completions, JSON and stream (usage only with stream_options.include_usage)."""
    finish = call.behaviour.finish_reason or "stop"
    base = {"id": call.response_id, "object": "text_completion", "created": call.created}
    base |= {"model": call.response_model, "system_fingerprint": SYSTEM_FINGERPRINT}
    usage = _usage_chat(call.behaviour.usage)
    if not call.body.get("stream"):
        choice = {"index": 0, "text": call.behaviour.text, "logprobs": None, "finish_reason": finish}
        return Reply(body={**base, "choices": [choice], "usage": usage})
    options = call.body.get("stream_options") or {}
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    pieces = split_text(call.behaviour.text, call.behaviour.chunks)
    events = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        choice = {"index": 0, "text": piece, "logprobs": None, "finish_reason": finish if last else None}
        events.append(sse({**base, "choices": [choice]} | ({"usage": None} if include_usage else {})))
    if include_usage:
        events.append(sse({**base, "choices": [], "usage": usage}))
    events.append(SseEvent(data="[DONE]"))
    return Reply(events=events, error_event=sse(error_body(500)))


def _vector(index: int, dimensions: int) -> list[float]:
    # Deterministic, non-trivial values so clients that normalise vectors do not divide by zero.
    return [round(((index + 1) * (d + 1)) % 17 / 17 + 0.01, 6) for d in range(dimensions)]


def embeddings(call: Call) -> Reply:
    raw = call.body.get("input", "")
    inputs = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
    dimensions = int(call.body.get("dimensions") or EMBEDDING_DIMENSIONS)
    as_base64 = call.body.get("encoding_format") == "base64"
    data = []
    for index in range(len(inputs)):
        vector = _vector(index, dimensions)
        encoded: Any = vector
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = call.behaviour.usage.input_tokens
    body = {
        "object": "list",
        "data": data,
        "model": call.response_model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return Reply(body=body)
