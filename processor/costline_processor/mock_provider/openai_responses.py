"""OpenAI Responses API wire format: JSON and the real SSE event sequence."""

from __future__ import annotations

import json
from typing import Any

from costline_processor.mock_provider.behaviour import MockUsage, split_text
from costline_processor.mock_provider.schema_example import json_schema_of, structured_text
from costline_processor.mock_provider.wire import Call, Reply, SseEvent, sse


def usage_body(usage: MockUsage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message(call: Call, text: str | None) -> dict[str, Any]:
    """The output message item; ``text=None`` is the in-progress item with no content yet."""
    return {
        "id": call.item_id,
        "type": "message",
        "role": "assistant",
        "status": "in_progress" if text is None else "completed",
        "content": [] if text is None else [_text_part(text)],
    }


def _function_call(call: Call, index: int, done: bool) -> dict[str, Any]:
    tool = call.behaviour.tool_calls[index]
    return {
        "type": "function_call",
        "id": call.tool_call_id(index, "fc_"),
        "call_id": call.tool_call_id(index, "call_"),
        "name": tool.name,
        "arguments": json.dumps(tool.arguments) if done else "",
        "status": "completed" if done else "in_progress",
    }


def _reasoning(call: Call, done: bool) -> list[dict[str, Any]]:
    """A reasoning item when the request sets ``reasoning`` and the usage has reasoning tokens."""
    if not isinstance(call.body.get("reasoning"), dict) or not call.behaviour.usage.reasoning_tokens:
        return []
    wants_summary = call.body["reasoning"].get("summary") is not None
    summary = (
        [{"type": "summary_text", "text": call.behaviour.reasoning_text}] if wants_summary and done else []
    )
    return [{"type": "reasoning", "id": "rs_" + call.item_id.removeprefix("msg_"), "summary": summary}]


def _output(call: Call, text: str) -> list[dict[str, Any]]:
    """Reasoning (if asked for), the message (unless empty with tool calls), then one item per tool call."""
    calls = [_function_call(call, index, True) for index in range(len(call.behaviour.tool_calls))]
    message = [] if not text and calls else [_message(call, text)]
    return [*_reasoning(call, True), *message, *calls]


def _response(call: Call, text: str | None) -> dict[str, Any]:
    """The response object; ``text=None`` is its in-progress form (no output, no usage)."""
    body = call.body
    text_config = body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}}
    response: dict[str, Any] = {
        "id": call.response_id,
        "object": "response",
        "created_at": call.created,
        "status": "in_progress" if text is None else "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": call.response_model,
        "output": [] if text is None else _output(call, text),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": text_config,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None if text is None else usage_body(call.behaviour.usage),
        "user": None,
        "metadata": body.get("metadata") or {},
    }
    if call.behaviour.service_tier is not None:
        response["service_tier"] = call.behaviour.service_tier
    return response


def responses(call: Call) -> Reply:
    text_config = call.body.get("text")
    schema = json_schema_of(text_config.get("format")) if isinstance(text_config, dict) else None
    content = structured_text(call.behaviour.text, schema)
    if not call.body.get("stream"):
        return Reply(body=_response(call, content))
    return _stream(call, content)


def _stream(call: Call, content: str) -> Reply:
    payloads: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(call, None)},
        {"type": "response.in_progress", "response": _response(call, None)},
    ]
    output_index = 0
    for started, done in zip(_reasoning(call, False), _reasoning(call, True), strict=True):
        payloads.append({"type": "response.output_item.added", "output_index": 0, "item": started})
        payloads.append({"type": "response.output_item.done", "output_index": 0, "item": done})
        output_index += 1
    if content or not call.behaviour.tool_calls:
        payloads += _message_events(call, content, output_index)
        output_index += 1
    for index in range(len(call.behaviour.tool_calls)):
        payloads += _function_call_events(call, index, output_index + index)
    payloads.append({"type": "response.completed", "response": _response(call, content)})
    events: list[SseEvent] = []
    for number, payload in enumerate(payloads):
        events.append(sse({**payload, "sequence_number": number}, event=payload["type"]))
    message = call.behaviour.error_message or "The server had an error while processing your request."
    error = {"type": "error", "code": "server_error", "message": message, "param": None}
    # The SDK needs no [DONE] here: the stream ends with the connection.
    return Reply(events=events, error_event=sse({**error, "sequence_number": len(events)}, event="error"))


def _message_events(call: Call, content: str, output_index: int) -> list[dict[str, Any]]:
    where = {"item_id": call.item_id, "output_index": output_index, "content_index": 0}
    payloads: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": output_index, "item": _message(call, None)},
        {"type": "response.content_part.added", **where, "part": _text_part("")},
    ]
    for piece in split_text(content, call.behaviour.chunks):
        payloads.append({"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []})
    return [
        *payloads,
        {"type": "response.output_text.done", **where, "text": content, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": _text_part(content)},
        {"type": "response.output_item.done", "output_index": output_index, "item": _message(call, content)},
    ]


def _function_call_events(call: Call, index: int, output_index: int) -> list[dict[str, Any]]:
    done = _function_call(call, index, True)
    where = {"item_id": done["id"], "output_index": output_index}
    payloads: list[dict[str, Any]] = [
        {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": _function_call(call, index, False),
        }
    ]
    for piece in split_text(done["arguments"], call.behaviour.chunks):
        payloads.append({"type": "response.function_call_arguments.delta", **where, "delta": piece})
    return [
        *payloads,
        {"type": "response.function_call_arguments.done", **where, "arguments": done["arguments"]},
        {"type": "response.output_item.done", "output_index": output_index, "item": done},
    ]
