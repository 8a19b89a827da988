"""Anthropic Messages (`messages.create/parse/stream`, and the same under `beta.messages`).

Anthropic's `input_tokens` EXCLUDES cache reads and writes; semconv's includes them, so the span gets
`gen_ai.usage.input_tokens = input + cache_read + cache_creation`, and the cache write is split into
5-minute (in `cache_write`) and 1-hour (`llm.usage.cache_write_1h.input_tokens`) parts from
`usage.cache_creation`.

Streams: `message_start` carries the input side (and a provisional output count); `message_delta`
carries the final, cumulative `output_tokens` (newer API versions repeat the input fields there, which
then win). A stream cut before `message_delta` records the `message_start` numbers, flagged estimated.
"""

from __future__ import annotations

from typing import Any, Final

from costline import attributes as a
from costline._config import Settings
from costline._span import AttrDict, Call, Request, StreamState
from costline._stream import wrap_stream
from costline._values import capped_json, common_request, neutral_tier, output_messages, put_str

_MAX_TOKENS_KEYS: Final = ("max_tokens",)


def read_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    model, stream, attrs = common_request(kwargs, _MAX_TOKENS_KEYS)
    return _request(kwargs, settings, model, stream, attrs)


def read_helper_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    """`messages.stream(...)`: always a stream, though its kwargs do not say so."""
    model, _, attrs = common_request(kwargs, _MAX_TOKENS_KEYS)
    attrs[a.GEN_AI_REQUEST_STREAM] = True
    return _request(kwargs, settings, model, True, attrs)


def _request(
    kwargs: dict[str, Any], settings: Settings, model: str | None, stream: bool, attrs: AttrDict
) -> Request:
    if settings.capture_content:
        prompt = {key: kwargs[key] for key in ("system", "messages") if key in kwargs}
        if prompt:
            attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(prompt)
    state = MessageStreamState(settings.capture_content) if stream else None
    return Request(model=model, stream=stream, attributes=attrs, kwargs=kwargs, state=state)


def write_usage(attrs: AttrDict, usage: Any, final: Any = None) -> None:
    """Usage from a `Message` (or message_start), overlaid by a `message_delta`'s usage when given."""
    # Fields newer than anthropic 0.50 (cache_creation, service_tier, the delta's input side) via getattr.
    cache_read = v if type(v := usage.cache_read_input_tokens) is int else 0
    cache_write = v if type(v := usage.cache_creation_input_tokens) is int else 0
    uncached = v if type(v := usage.input_tokens) is int else 0
    output = usage.output_tokens
    details = getattr(usage, "output_tokens_details", None)
    reasoning = details.thinking_tokens if details is not None else None
    if final is not None:
        # Fields a message_delta repeats are the final word; absent ones (None) keep message_start's.
        uncached = v if type(v := getattr(final, "input_tokens", None)) is int else uncached
        cache_read = v if type(v := getattr(final, "cache_read_input_tokens", None)) is int else cache_read
        cache_write = (
            v if type(v := getattr(final, "cache_creation_input_tokens", None)) is int else cache_write
        )
        output = final.output_tokens
        final_details = getattr(final, "output_tokens_details", None)
        if final_details is not None and final_details.thinking_tokens is not None:
            reasoning = final_details.thinking_tokens
    attrs[a.GEN_AI_USAGE_INPUT_TOKENS] = uncached + cache_read + cache_write
    if type(output) is int:
        attrs[a.GEN_AI_USAGE_OUTPUT_TOKENS] = output
    attrs[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    attrs[a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = cache_write
    split = getattr(usage, "cache_creation", None)
    if split is not None and type(split.ephemeral_1h_input_tokens) is int:
        attrs[a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS] = split.ephemeral_1h_input_tokens
    if type(reasoning) is int:
        attrs[a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    tier = getattr(usage, "service_tier", None)
    if type(tier) is str and tier:
        attrs[a.LLM_SERVICE_TIER] = neutral_tier(tier)


def _text(content: Any) -> str:
    return "".join(block.text for block in content or () if getattr(block, "type", None) == "text")


def read_response(message: Any, attrs: AttrDict, settings: Settings) -> None:
    """A `Message` / `BetaMessage` / `ParsedMessage`."""
    put_str(attrs, a.GEN_AI_RESPONSE_ID, message.id)
    put_str(attrs, a.GEN_AI_RESPONSE_MODEL, message.model)
    reason = message.stop_reason
    if type(reason) is str and reason:
        attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
    if message.usage is not None:
        write_usage(attrs, message.usage)
    else:
        attrs[a.LLM_USAGE_ESTIMATED] = True
    if settings.capture_content:
        attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages(_text(message.content), reason)


class MessageStreamState(StreamState):
    """Raw message stream events (`RawMessageStreamEvent`)."""

    __slots__ = ("capture", "final_usage", "message", "stop_reason", "text")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.message: Any = None  # message_start's message: id, model, input-side usage
        self.final_usage: Any = None  # message_delta's usage
        self.stop_reason: str | None = None
        self.text: list[str] = []

    def observe(self, item: Any) -> bool:
        kind = item.type
        if kind == "message_start":
            self.message = item.message
        elif kind == "message_delta":
            self.final_usage = item.usage
            self.stop_reason = item.delta.stop_reason
        elif self.capture and kind == "content_block_delta":
            text = getattr(item.delta, "text", None)
            if type(text) is str:
                self.text.append(text)
        return False

    def finish(self, attrs: AttrDict, complete: bool) -> None:
        message = self.message
        if message is None:
            attrs[a.LLM_USAGE_ESTIMATED] = True
            return
        put_str(attrs, a.GEN_AI_RESPONSE_ID, message.id)
        put_str(attrs, a.GEN_AI_RESPONSE_MODEL, message.model)
        if self.stop_reason:
            attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = (str(self.stop_reason),)
        write_usage(attrs, message.usage, self.final_usage)
        if self.final_usage is None:
            # Input side is exact; output is message_start's provisional count.
            attrs[a.LLM_USAGE_ESTIMATED] = True
        if self.capture and self.text:
            attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages("".join(self.text), self.stop_reason)


def on_helper_entered(stream: Any, call: Call, request: Request) -> None:
    """`messages.stream()` entered: watch the raw event stream every consumer path reads.

    `MessageStream` iteration, `text_stream`, `get_final_message()` and `close()` all go through its
    `_raw_stream`, so proxying that one object sees every event exactly once, and `stream` itself stays
    the SDK's own object.
    """
    raw = stream._raw_stream
    stream._raw_stream = wrap_stream(raw, call, request.state)
