"""Gemini REST wire format (Gemini API and Vertex AI paths): generateContent, SSE streams, embeddings, errors.

Usage is configured in the semconv (inclusive) model and split the way Google reports it: thinking tokens are
NOT inside ``candidatesTokenCount`` (``thoughtsTokenCount`` is apart), tool-use prompt tokens are not inside
``promptTokenCount`` (``toolUsePromptTokenCount`` is apart), and ``cachedContentTokenCount`` IS inside
``promptTokenCount``. Gemini bills no per-request cache write: configured cache writes are plain prompt
tokens.
A stream's every chunk carries the prompt side of the usage (a running total, as the API sends it); only the
last one carries the output side and the finish reason.
"""

from __future__ import annotations

from typing import Any

from costline_processor.mock_provider.behaviour import MockUsage, split_text
from costline_processor.mock_provider.schema_example import structured_text
from costline_processor.mock_provider.wire import Call, Reply, SseEvent, sse

EMBEDDING_DIMENSIONS = 8
_ROLE = "model"

# HTTP status -> google.rpc status name, as the API sends them in error bodies.
_STATUSES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    name = _STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {
        "error": {
            "code": status,
            "message": message or f"Mock provider error {status} ({name}).",
            "status": name,
        }
    }


def error_reply(status: int, message: str | None = None) -> Reply:
    return Reply(status=status, body=error_body(status, message))


def _prompt_usage(usage: MockUsage) -> dict[str, Any]:
    """The prompt side: what every chunk of a stream reports."""
    prompt = usage.input_tokens - usage.tool_use_prompt_tokens
    body: dict[str, Any] = {
        "promptTokenCount": prompt,
        "totalTokenCount": usage.input_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if usage.cache_read_tokens:
        body["cachedContentTokenCount"] = usage.cache_read_tokens
        body["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": usage.cache_read_tokens}]
    if usage.tool_use_prompt_tokens:
        body["toolUsePromptTokenCount"] = usage.tool_use_prompt_tokens
    return body


def usage_body(usage: MockUsage) -> dict[str, Any]:
    """Gemini's usageMetadata: candidates EXCLUDE thoughts, the prompt EXCLUDES tool-use prompt tokens."""
    body = _prompt_usage(usage)
    body["candidatesTokenCount"] = usage.output_tokens - usage.reasoning_tokens
    if usage.reasoning_tokens:
        body["thoughtsTokenCount"] = usage.reasoning_tokens
    body["totalTokenCount"] = usage.total_tokens
    return body


def _generation_config(call: Call) -> dict[str, Any]:
    config = call.body.get("generationConfig")
    return config if isinstance(config, dict) else {}


def _thoughts_wanted(call: Call) -> bool:
    thinking = _generation_config(call).get("thinkingConfig")
    if not isinstance(thinking, dict):
        return False
    # The SDK sends this one key in snake_case; the REST docs spell it in camelCase.
    return bool(thinking.get("includeThoughts") or thinking.get("include_thoughts"))


def _requested_schema(call: Call) -> Any:
    config = _generation_config(call)
    if config.get("responseMimeType") != "application/json":
        return None
    schema = config.get("responseJsonSchema", config.get("responseSchema"))
    return _lower_types(schema) if isinstance(schema, dict) else {}


def _lower_types(node: Any) -> Any:
    """Gemini's OpenAPI-style schema (``"type": "OBJECT"``) as JSON Schema (``"type": "object"``)."""
    if isinstance(node, dict):
        return {key: value.lower() if key == "type" and isinstance(value, str) else _lower_types(value)
                for key, value in node.items()}  # fmt: skip
    if isinstance(node, list):
        return [_lower_types(item) for item in node]
    return node


def _finish_reason(call: Call) -> str:
    return call.behaviour.finish_reason or "STOP"


def _thought_parts(call: Call) -> list[dict[str, Any]]:
    if not _thoughts_wanted(call) or not call.behaviour.usage.reasoning_tokens:
        return []
    return [{"text": call.behaviour.reasoning_text, "thought": True}]


def _answer_parts(call: Call, text: str) -> list[dict[str, Any]]:
    """The text (unless empty with tool calls), then one functionCall part per tool call."""
    tools = [
        {"functionCall": {"id": call.tool_call_id(index, "call_"), "name": tool.name, "args": tool.arguments}}
        for index, tool in enumerate(call.behaviour.tool_calls)
    ]
    text_part = [] if not text and tools else [{"text": text}]
    return [*text_part, *tools]


def _chunk(call: Call, parts: list[dict[str, Any]], usage: dict[str, Any], finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": _ROLE}, "index": 0}
    if finish:
        candidate["finishReason"] = _finish_reason(call)
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": call.response_model,
        "responseId": call.response_id,
    }


def generate_content(call: Call) -> Reply:
    text = structured_text(call.behaviour.text, _requested_schema(call))
    if not call.body.get("stream"):
        parts = [*_thought_parts(call), *_answer_parts(call, text)]
        return Reply(body=_chunk(call, parts, usage_body(call.behaviour.usage), finish=True))
    return Reply(
        events=stream_events(call, text), error_event=sse(error_body(503, call.behaviour.error_message))
    )


def stream_events(call: Call, text: str) -> list[SseEvent]:
    """One chunk per thought and text piece, tool calls in the last chunk, which alone has the full usage."""
    prompt_only = _prompt_usage(call.behaviour.usage)
    pieces: list[list[dict[str, Any]]] = [[part] for part in _thought_parts(call)]
    pieces += [[{"text": piece}] for piece in split_text(text, call.behaviour.chunks)]
    tools = [part for part in _answer_parts(call, "") if "functionCall" in part]
    if tools or not pieces:
        pieces.append(tools or [{"text": ""}])
    last = len(pieces) - 1
    chunks = [
        _chunk(call, parts, usage_body(call.behaviour.usage) if i == last else prompt_only, i == last)
        for i, parts in enumerate(pieces)
    ]
    return [sse(chunk) for chunk in chunks]


def _embedding(index: int) -> dict[str, Any]:
    return {"values": [round(0.001 * (index + 1) * (dim + 1), 6) for dim in range(EMBEDDING_DIMENSIONS)]}


def _embedding_usage(usage: MockUsage) -> dict[str, Any]:
    return {"promptTokenCount": usage.input_tokens, "totalTokenCount": usage.input_tokens}


def batch_embed_contents(call: Call) -> Reply:
    requests = call.body.get("requests")
    count = len(requests) if isinstance(requests, list) and requests else 1
    embeddings = [_embedding(index) for index in range(count)]
    return Reply(body={"embeddings": embeddings, "usageMetadata": _embedding_usage(call.behaviour.usage)})


def embed_content(call: Call) -> Reply:
    body = {"embedding": _embedding(0), "usageMetadata": _embedding_usage(call.behaviour.usage)}
    return Reply(body={**body, "truncated": False})


def predict_embeddings(call: Call) -> Reply:
    """Vertex AI's `:predict` for embeddings (older embedding models, and google-genai 3.0 for every model):
    the input tokens are per instance, in each prediction's statistics."""
    instances = call.body.get("instances")
    count = len(instances) if isinstance(instances, list) and instances else 1
    share, rest = divmod(call.behaviour.usage.input_tokens, count)
    predictions = [
        {
            "embeddings": {
                **_embedding(i),
                "statistics": {"token_count": share + (i < rest), "truncated": False},
            }
        }
        for i in range(count)
    ]
    return Reply(body={"predictions": predictions, "metadata": {"billableCharacterCount": 4 * count}})


def count_tokens(call: Call) -> Reply:
    usage = call.behaviour.usage
    prompt = usage.input_tokens - usage.tool_use_prompt_tokens
    details = [{"modality": "TEXT", "tokenCount": prompt}]
    return Reply(body={"totalTokens": prompt, "promptTokensDetails": details})
