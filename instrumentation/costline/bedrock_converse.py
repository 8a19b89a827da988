"""Bedrock Runtime `converse` and `converse_stream` (boto3/botocore), and what every Bedrock reader shares.

Usage: Converse's `inputTokens` EXCLUDES the cache reads and writes (`cacheReadInputTokens`,
`cacheWriteInputTokens`), and several tools subtract them once more. semconv's input is inclusive, so the
span gets `input = inputTokens + cacheReadInputTokens + cacheWriteInputTokens`; `cacheDetails` splits the
writes by TTL, the 1-hour part going to `llm.usage.cache_write_1h.input_tokens`. Converse reports no
reasoning count: thinking tokens are inside `outputTokens`, which is what is billed.

The response has no completion id: the AWS request id (`ResponseMetadata.RequestId`) is the span's
`gen_ai.response.id` and `aws.request_id`, which is also what other Bedrock instrumentations record.

Streams (`converse_stream`): the response dict's `stream` is a botocore `EventStream`; the usage arrives in
its last event, `metadata`. A stream cut or closed before it has no usage: the span says so
(`llm.usage.estimated`) rather than counting 0.
"""

from __future__ import annotations

from typing import Any, Final

from costline import attributes as a
from costline._config import Settings
from costline._span import AttrDict, Request, StreamState
from costline._values import capped_json, neutral_tier, output_messages

_PROMPT_KEYS: Final = ("system", "messages")


def _request(kwargs: dict[str, Any], settings: Settings, stream: bool) -> Request:
    model = kwargs.get("modelId")
    model = model if type(model) is str and model else None
    attrs: AttrDict = {}
    if model is not None:
        attrs[a.GEN_AI_REQUEST_MODEL] = model
    if stream:
        attrs[a.GEN_AI_REQUEST_STREAM] = True
    config = kwargs.get("inferenceConfig")
    if isinstance(config, dict):
        if type(value := config.get("maxTokens")) is int:
            attrs[a.GEN_AI_REQUEST_MAX_TOKENS] = value
        temperature = config.get("temperature")
        if isinstance(temperature, int | float) and not isinstance(temperature, bool):
            attrs[a.GEN_AI_REQUEST_TEMPERATURE] = float(temperature)
    if settings.capture_content:
        prompt = {key: kwargs[key] for key in _PROMPT_KEYS if key in kwargs}
        if prompt:
            attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(prompt)
    state = ConverseStreamState(settings.capture_content) if stream else None
    return Request(model=model, stream=stream, attributes=attrs, kwargs=kwargs, state=state)


def read_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    return _request(kwargs, settings, stream=False)


def read_stream_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    return _request(kwargs, settings, stream=True)


def request_id(response: Any) -> str | None:
    """The AWS request id of a botocore response dict (also of an error's `response`)."""
    metadata = response.get("ResponseMetadata") if isinstance(response, dict) else None
    value = metadata.get("RequestId") if isinstance(metadata, dict) else None
    return value if type(value) is str and value else None


def write_request_id(attrs: AttrDict, response: Any) -> None:
    value = request_id(response)
    if value is not None:
        attrs[a.GEN_AI_RESPONSE_ID] = value
        attrs[a.AWS_REQUEST_ID] = value


def write_exclusive_usage(
    attrs: AttrDict, uncached: Any, output: Any, cache_read: Any, cache_write: Any, *, write_1h: Any = None
) -> None:
    """Bedrock's counts (input EXCLUSIVE of the cache tokens) in the inclusive semconv model."""
    read = cache_read if type(cache_read) is int else 0
    written = cache_write if type(cache_write) is int else 0
    if type(uncached) is int:
        attrs[a.GEN_AI_USAGE_INPUT_TOKENS] = uncached + read + written
        attrs[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = read
        attrs[a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = written
        if type(write_1h) is int:
            attrs[a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS] = write_1h
    if type(output) is int:
        attrs[a.GEN_AI_USAGE_OUTPUT_TOKENS] = output


def _write_1h(details: Any) -> int | None:
    """The 1-hour part of the cache writes, from Converse's `cacheDetails` (None: not reported)."""
    if not isinstance(details, list):
        return None
    return sum(
        count
        for detail in details
        if isinstance(detail, dict)
        and detail.get("ttl") == "1h"
        and type(count := detail.get("inputTokens")) is int
    )


def write_usage(attrs: AttrDict, usage: Any) -> bool:
    """Converse `TokenUsage` onto the span; False when there is none."""
    if not isinstance(usage, dict):
        return False
    write_exclusive_usage(
        attrs,
        usage.get("inputTokens"),
        usage.get("outputTokens"),
        usage.get("cacheReadInputTokens"),
        usage.get("cacheWriteInputTokens"),
        write_1h=_write_1h(usage["cacheDetails"]) if "cacheDetails" in usage else None,
    )
    return a.GEN_AI_USAGE_INPUT_TOKENS in attrs


def write_service_tier(attrs: AttrDict, tier: Any) -> None:
    """`serviceTier` (`{"type": "flex"}` in Converse, a plain string in InvokeModel's header)."""
    kind = tier.get("type") if isinstance(tier, dict) else tier
    if type(kind) is str and kind:
        attrs[a.LLM_SERVICE_TIER] = neutral_tier(kind)


def _answer_text(content: Any) -> str:
    return "".join(block["text"] for block in content or () if isinstance(block, dict) and "text" in block)


def read_response(response: Any, attrs: AttrDict, settings: Settings) -> None:
    """A Converse response dict."""
    # Inlined lookups (no helper calls for what is absent): this runs on every call.
    metadata = response.get("ResponseMetadata")
    if type(metadata) is dict and type(value := metadata.get("RequestId")) is str and value:
        attrs[a.GEN_AI_RESPONSE_ID] = attrs[a.AWS_REQUEST_ID] = value
    reason = response.get("stopReason")
    if type(reason) is str and reason:
        attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
    if not write_usage(attrs, response.get("usage")):
        attrs[a.LLM_USAGE_ESTIMATED] = True
    if "serviceTier" in response:
        write_service_tier(attrs, response["serviceTier"])
    if settings.capture_content:
        message = (response.get("output") or {}).get("message") or {}
        text = _answer_text(message.get("content"))
        attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages(text, reason if type(reason) is str else None)


class ConverseStreamState(StreamState):
    """The events of one ConverseStream: text deltas, `messageStop`, and `metadata` with the usage."""

    __slots__ = ("capture", "metadata", "reason", "request_id", "text")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.request_id: str | None = None  # set from the response dict when the call returns
        self.metadata: Any = None
        self.reason: str | None = None
        self.text: list[str] = []

    def observe(self, item: Any) -> bool:
        delta = item.get("contentBlockDelta")
        if delta is not None:  # most events: keep this path short
            if self.capture and type(text := delta.get("delta", {}).get("text")) is str:
                self.text.append(text)
            return False
        if "metadata" in item:
            self.metadata = item["metadata"]
        elif "messageStop" in item:
            reason = item["messageStop"].get("stopReason")
            self.reason = reason if type(reason) is str and reason else None
        return False

    def finish(self, attrs: AttrDict, complete: bool) -> None:
        if self.request_id is not None:
            attrs[a.GEN_AI_RESPONSE_ID] = attrs[a.AWS_REQUEST_ID] = self.request_id
        if self.reason is not None:
            attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = (self.reason,)
        metadata = self.metadata if isinstance(self.metadata, dict) else {}
        reported = write_usage(attrs, metadata.get("usage"))
        write_service_tier(attrs, metadata.get("serviceTier"))
        if not reported or not complete:
            attrs[a.LLM_USAGE_ESTIMATED] = True
        if self.capture and self.text:
            attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages("".join(self.text), self.reason)
