"""Bedrock InvokeModel and InvokeModelWithResponseStream: each model family's own JSON body.

The model id in the path picks the family, as on Bedrock (cross-region prefixes and ARNs included):
`anthropic.*` answers the Anthropic Messages body (the default, also for unknown ids), `amazon.nova-*`
Nova's `output.message` with `usage`, `meta.llama*` Llama's `generation` with its token counts, and
`mistral.*` Mistral's `outputs` (a `prompt` request) or `choices` (a `messages` request), which carry no
token counts at all.

Every family's usage is also in the response headers (`x-amzn-bedrock-input-token-count`, ...-output-...,
...-cache-read-input-..., ...-cache-write-input-...), the input count EXCLUDING the cache tokens as
Converse does. A stream sends each body chunk as a `chunk` event whose `bytes` is the chunk's JSON
(base64 on the wire); its last chunk adds `amazon-bedrock-invocationMetrics` with the same counts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from costline_processor.mock_provider import anthropic_wire, eventstream
from costline_processor.mock_provider.bedrock_wire import REQUEST_ID_HEADER, stop_reason, stream_error
from costline_processor.mock_provider.behaviour import MockUsage, split_text
from costline_processor.mock_provider.wire import Call, Reply, SseEvent, StreamEvent

INVOCATION_METRICS: Final = "amazon-bedrock-invocationMetrics"
_HEADER_PREFIX: Final = "x-amzn-bedrock-"
_LATENCY_MS: Final = 7

Chunks = list[dict[str, Any]]


def family(model: str) -> str:
    """The body format of `model`: `anthropic`, `nova`, `llama` or `mistral`."""
    lowered = model.lower()
    for marker, name in ((".nova", "nova"), ("meta.llama", "llama"), ("mistral.", "mistral")):
        if marker in lowered:
            return name
    return "anthropic"


def usage_headers(usage: MockUsage) -> dict[str, str]:
    headers = {
        f"{_HEADER_PREFIX}input-token-count": str(usage.uncached_input_tokens),
        f"{_HEADER_PREFIX}output-token-count": str(usage.output_tokens),
        f"{_HEADER_PREFIX}invocation-latency": str(_LATENCY_MS),
    }
    if usage.cache_read_tokens or usage.cache_write_tokens:
        headers[f"{_HEADER_PREFIX}cache-read-input-token-count"] = str(usage.cache_read_tokens)
        headers[f"{_HEADER_PREFIX}cache-write-input-token-count"] = str(usage.cache_write_tokens)
    return headers


def invocation_metrics(usage: MockUsage) -> dict[str, int]:
    metrics = {
        "inputTokenCount": usage.uncached_input_tokens,
        "outputTokenCount": usage.output_tokens,
        "invocationLatency": _LATENCY_MS,
        "firstByteLatency": 1,
    }
    if usage.cache_read_tokens or usage.cache_write_tokens:
        metrics["cacheReadInputTokenCount"] = usage.cache_read_tokens
        metrics["cacheWriteInputTokenCount"] = usage.cache_write_tokens
    return metrics


def _nova_usage(usage: MockUsage) -> dict[str, int]:
    return {
        "inputTokens": usage.uncached_input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
        "cacheReadInputTokenCount": usage.cache_read_tokens,
        "cacheWriteInputTokenCount": usage.cache_write_tokens,
    }


def _llama_stop(call: Call) -> str:
    return call.behaviour.finish_reason or "stop"


def _nova(call: Call) -> tuple[dict[str, Any], Chunks]:
    behaviour = call.behaviour
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": behaviour.text}]}},
        "stopReason": stop_reason(call),
        "usage": _nova_usage(behaviour.usage),
    }
    chunks: Chunks = [{"messageStart": {"role": "assistant"}}]
    chunks += [
        {"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}}
        for piece in split_text(behaviour.text, behaviour.chunks)
    ]
    chunks += [
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": stop_reason(call)}},
        {"metadata": {"usage": _nova_usage(behaviour.usage), "metrics": {}, "trace": {}}},
    ]
    return body, chunks


def _llama(call: Call) -> tuple[dict[str, Any], Chunks]:
    behaviour, usage = call.behaviour, call.behaviour.usage
    body = {
        "generation": behaviour.text,
        "prompt_token_count": usage.uncached_input_tokens,
        "generation_token_count": usage.output_tokens,
        "stop_reason": _llama_stop(call),
    }
    pieces = split_text(behaviour.text, behaviour.chunks) or [""]
    chunks: Chunks = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        chunks.append(
            {
                "generation": piece,
                "prompt_token_count": usage.uncached_input_tokens if index == 0 else None,
                "generation_token_count": usage.output_tokens if last else index + 1,
                "stop_reason": _llama_stop(call) if last else None,
            }
        )
    return body, chunks


def _mistral(call: Call) -> tuple[dict[str, Any], Chunks]:
    behaviour = call.behaviour
    reason = behaviour.finish_reason or "stop"
    pieces = split_text(behaviour.text, behaviour.chunks) or [""]
    last = len(pieces) - 1
    if isinstance(call.body.get("messages"), list):  # the chat format (Mistral Large 2 and later)
        message = {"role": "assistant", "content": behaviour.text}
        body: dict[str, Any] = {"choices": [{"index": 0, "message": message, "stop_reason": reason}]}
        chunks = [
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": piece},
                          "stop_reason": reason if i == last else None}]}
            for i, piece in enumerate(pieces)
        ]  # fmt: skip
        return body, chunks
    body = {"outputs": [{"text": behaviour.text, "stop_reason": reason}]}
    chunks = [
        {"outputs": [{"text": piece, "stop_reason": reason if i == last else None}]}
        for i, piece in enumerate(pieces)
    ]
    return body, chunks


def _anthropic(call: Call) -> tuple[dict[str, Any], Chunks]:
    plain = anthropic_wire.messages(replace(call, body={**call.body, "stream": False}))
    streamed = anthropic_wire.messages(replace(call, body={**call.body, "stream": True}))
    events = [event for event in streamed.events or () if isinstance(event, SseEvent)]
    return plain.body, [json.loads(event.data) for event in events]


_FAMILIES: Final[dict[str, Callable[[Call], tuple[dict[str, Any], Chunks]]]] = {
    "anthropic": _anthropic,
    "nova": _nova,
    "llama": _llama,
    "mistral": _mistral,
}


def _chunk(payload: dict[str, Any]) -> StreamEvent:
    data = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    return eventstream.event("chunk", {"bytes": data})


def invoke(call: Call) -> Reply:
    body, chunks = _FAMILIES[family(call.model)](call)
    usage = call.behaviour.usage
    headers = {REQUEST_ID_HEADER: call.response_id}
    if not call.body.get("stream"):
        return Reply(body=body, headers={**headers, **usage_headers(usage)})
    chunks[-1] = {**chunks[-1], INVOCATION_METRICS: invocation_metrics(usage)}
    headers[f"{_HEADER_PREFIX}content-type"] = "application/json"
    return Reply(
        events=[_chunk(chunk) for chunk in chunks],
        error_event=stream_error(call),
        headers=headers,
        content_type=eventstream.CONTENT_TYPE,
    )
