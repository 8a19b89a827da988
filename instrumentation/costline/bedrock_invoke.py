"""Bedrock Runtime `invoke_model` and `invoke_model_with_response_stream`: any model family's body.

`invoke_model`'s response body is a `StreamingBody` the app reads itself, so costline never reads it: the
usage comes from the response headers Bedrock sets for every model family (`x-amzn-bedrock-input-token-
count`, `...-output-token-count`, `...-cache-read-input-token-count`, `...-cache-write-input-token-count`,
the input EXCLUDING the cache tokens as in Converse). Mistral's bodies carry no token count at all, so the
headers are the only exact source.

Streams: each `chunk` event's bytes are one JSON chunk of the model family's own stream; the last one adds
`amazon-bedrock-invocationMetrics` with the same counts as the headers. Before it, an Anthropic stream's
`message_start` already tells the input side (and the 1-hour part of the cache writes, which no header
has): a stream cut earlier records that, flagged estimated.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Final

from costline import attributes as a
from costline._config import Settings
from costline._span import AttrDict, Request, StreamState
from costline._values import capped_json, output_messages
from costline.bedrock_converse import write_exclusive_usage, write_request_id, write_service_tier

_HEADER: Final = "x-amzn-bedrock-"
_INPUT: Final = _HEADER + "input-token-count"
_OUTPUT: Final = _HEADER + "output-token-count"
_CACHE_READ: Final = _HEADER + "cache-read-input-token-count"
_CACHE_WRITE: Final = _HEADER + "cache-write-input-token-count"
INVOCATION_METRICS: Final = "amazon-bedrock-invocationMetrics"


def _request(kwargs: dict[str, Any], settings: Settings, stream: bool) -> Request:
    model = kwargs.get("modelId")
    model = model if type(model) is str and model else None
    attrs: AttrDict = {}
    if model is not None:
        attrs[a.GEN_AI_REQUEST_MODEL] = model
        if "embed" in model:  # amazon.titan-embed-*, cohere.embed-*: billed input tokens, no output
            attrs[a.GEN_AI_OPERATION_NAME] = a.OPERATION_EMBEDDINGS
    if stream:
        attrs[a.GEN_AI_REQUEST_STREAM] = True
    if settings.capture_content and "body" in kwargs:
        body = kwargs["body"]
        # the body is the app's own JSON (bytes, str or a file object: only the first two are read)
        with contextlib.suppress(TypeError, ValueError):
            attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(json.loads(body))
    state = InvokeStreamState(settings.capture_content) if stream else None
    return Request(model=model, stream=stream, attributes=attrs, kwargs=kwargs, state=state)


def read_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    return _request(kwargs, settings, stream=False)


def read_stream_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    return _request(kwargs, settings, stream=True)


def _count(headers: dict[str, Any], name: str) -> int | None:
    value = headers.get(name)
    return int(value) if type(value) is str and value.isdigit() else None


def read_response(response: Any, attrs: AttrDict, settings: Settings) -> None:
    """An InvokeModel response dict: the usage from its headers, the body left unread."""
    write_request_id(attrs, response)
    metadata = response.get("ResponseMetadata") or {}
    headers = metadata.get("HTTPHeaders") or {}
    write_exclusive_usage(
        attrs,
        _count(headers, _INPUT),
        _count(headers, _OUTPUT),
        _count(headers, _CACHE_READ),
        _count(headers, _CACHE_WRITE),
    )
    if a.GEN_AI_USAGE_INPUT_TOKENS not in attrs:
        attrs[a.LLM_USAGE_ESTIMATED] = True
    write_service_tier(attrs, response.get("serviceTier"))


def _finish_reason(chunk: dict[str, Any]) -> str | None:
    """The stop reason a chunk of any family carries, if it does."""
    reason = None
    if chunk.get("type") == "message_delta":  # Anthropic
        reason = (chunk.get("delta") or {}).get("stop_reason")
    elif "messageStop" in chunk:  # Nova
        reason = chunk["messageStop"].get("stopReason")
    elif "stop_reason" in chunk:  # Llama
        reason = chunk["stop_reason"]
    elif isinstance(outputs := chunk.get("outputs") or chunk.get("choices"), list) and outputs:  # Mistral
        reason = outputs[0].get("stop_reason") if isinstance(outputs[0], dict) else None
    return reason if type(reason) is str and reason else None


def _chunk_text(chunk: dict[str, Any]) -> str:
    if chunk.get("type") == "content_block_delta":
        text = (chunk.get("delta") or {}).get("text")
    elif "contentBlockDelta" in chunk:
        text = (chunk["contentBlockDelta"].get("delta") or {}).get("text")
    elif "generation" in chunk:
        text = chunk["generation"]
    elif isinstance(outputs := chunk.get("outputs"), list) and outputs:
        text = outputs[0].get("text")
    elif isinstance(choices := chunk.get("choices"), list) and choices:
        text = (choices[0].get("message") or {}).get("content")
    else:
        text = None
    return text if type(text) is str else ""


class InvokeStreamState(StreamState):
    """The `chunk` events of one InvokeModelWithResponseStream, whichever family's JSON they carry."""

    __slots__ = ("capture", "metrics", "reason", "request_id", "start_usage", "text")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.request_id: str | None = None  # set from the response dict when the call returns
        self.metrics: dict[str, Any] | None = None
        self.start_usage: dict[str, Any] | None = None  # Anthropic's message_start usage
        self.reason: str | None = None
        self.text: list[str] = []

    def observe(self, item: Any) -> bool:
        raw = (item.get("chunk") or {}).get("bytes")
        if not raw:
            return False
        chunk = json.loads(raw)
        if not isinstance(chunk, dict):
            return False
        metrics = chunk.get(INVOCATION_METRICS)
        if isinstance(metrics, dict):
            self.metrics = metrics
        if chunk.get("type") == "message_start":
            usage = (chunk.get("message") or {}).get("usage")
            self.start_usage = usage if isinstance(usage, dict) else None
        if (reason := _finish_reason(chunk)) is not None:
            self.reason = reason
        if self.capture:
            self.text.append(_chunk_text(chunk))
        return False

    def finish(self, attrs: AttrDict, complete: bool) -> None:
        if self.request_id is not None:
            attrs[a.GEN_AI_RESPONSE_ID] = attrs[a.AWS_REQUEST_ID] = self.request_id
        if self.reason is not None:
            attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = (self.reason,)
        metrics, start = self.metrics, self.start_usage
        split = (start or {}).get("cache_creation")  # Anthropic's: the 1-hour part of the cache writes
        write_1h = split.get("ephemeral_1h_input_tokens") if isinstance(split, dict) else None
        if metrics is not None:
            write_exclusive_usage(
                attrs,
                metrics.get("inputTokenCount"),
                metrics.get("outputTokenCount"),
                metrics.get("cacheReadInputTokenCount"),
                metrics.get("cacheWriteInputTokenCount"),
                write_1h=write_1h,
            )
        elif start is not None:  # cut before the end: the input side is known, the output is not
            write_exclusive_usage(
                attrs,
                start.get("input_tokens"),
                None,
                start.get("cache_read_input_tokens"),
                start.get("cache_creation_input_tokens"),
                write_1h=write_1h,
            )
        if metrics is None or not complete:
            attrs[a.LLM_USAGE_ESTIMATED] = True
        if self.capture and self.text:
            attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages("".join(self.text), self.reason)
