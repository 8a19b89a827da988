"""OpenAI chat completions (`chat.completions.create/parse/stream`) and legacy `completions.create`.

Streaming usage only arrives when the request says `stream_options={"include_usage": true}`. When the
caller did not ask, costline adds it (for providers known to accept it, see `INJECT_USAGE_PROVIDERS`;
`COSTLINE_INJECT_STREAM_USAGE=false` turns this off), then hides what the caller would not have seen:
the extra usage-only chunk (`choices == []`) is swallowed and the `usage` field is cleared from the
other chunks, so the caller's stream is identical to the uninstrumented one.
"""

from __future__ import annotations

from typing import Any, Final

from costline import attributes as a
from costline._config import Settings
from costline._span import AttrDict, Request, StreamState
from costline._values import capped_json, common_request, neutral_tier, output_messages, put_str

# Providers whose OpenAI-compatible endpoint accepts stream_options.include_usage. Mistral and Perplexity
# send usage on the last chunk unasked; Gemini's compatibility layer is left alone. Self-hosted servers
# (vLLM, llama.cpp, Ollama, LM Studio, TGI) accept it.
INJECT_USAGE_PROVIDERS: Final = frozenset(
    {
        a.PROVIDER_OPENAI,
        a.PROVIDER_AZURE_OPENAI,
        a.PROVIDER_SELF_HOSTED,
        a.PROVIDER_GROQ,
        a.PROVIDER_DEEPSEEK,
        a.PROVIDER_X_AI,
        a.PROVIDER_OPENROUTER,
        a.PROVIDER_TOGETHER,
        a.PROVIDER_FIREWORKS,
    }
)
_MAX_TOKENS_KEYS: Final = ("max_completion_tokens", "max_tokens")
_USAGE: Final = "usage"


def write_usage(attrs: AttrDict, usage: Any) -> None:
    """`CompletionUsage` (chat and legacy completions): prompt_tokens is already cache-inclusive."""
    # Inlined type checks (no helper calls): this runs on every call.
    if type(value := usage.prompt_tokens) is int:
        attrs[a.GEN_AI_USAGE_INPUT_TOKENS] = value
    if type(value := usage.completion_tokens) is int:
        attrs[a.GEN_AI_USAGE_OUTPUT_TOKENS] = value
    details = usage.prompt_tokens_details
    if details is not None:
        if type(value := details.cached_tokens) is int:
            attrs[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = value
        if type(value := getattr(details, "cache_write_tokens", None)) is int:
            attrs[a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = value
    out_details = usage.completion_tokens_details
    if out_details is not None and type(value := out_details.reasoning_tokens) is int:
        attrs[a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = value


def _write_tier(attrs: AttrDict, tier: Any) -> None:
    if type(tier) is str and tier:
        attrs[a.GEN_AI_OPENAI_RESPONSE_SERVICE_TIER] = tier
        attrs[a.LLM_SERVICE_TIER] = neutral_tier(tier)


def with_usage_option(kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """kwargs with include_usage added, or None when the caller already decided (either way)."""
    options = kwargs.get("stream_options")
    if isinstance(options, dict):
        if "include_usage" in options:
            return None
        return {**kwargs, "stream_options": {**options, "include_usage": True}}
    return {**kwargs, "stream_options": {"include_usage": True}}


def _read_request(
    kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict, content_key: str
) -> Request:
    model, stream, attrs = common_request(kwargs, _MAX_TOKENS_KEYS)
    if type(tier := kwargs.get("service_tier")) is str and tier:
        attrs[a.GEN_AI_OPENAI_REQUEST_SERVICE_TIER] = tier
    if settings.capture_content and content_key in kwargs:
        attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(kwargs[content_key])
    state = None
    if stream:
        injected = None
        if settings.inject_stream_usage and endpoint.get(a.GEN_AI_PROVIDER_NAME) in INJECT_USAGE_PROVIDERS:
            injected = with_usage_option(kwargs)
        state = ChunkStreamState(hide_usage=injected is not None, capture=settings.capture_content)
        kwargs = injected or kwargs
    return Request(model=model, stream=stream, attributes=attrs, kwargs=kwargs, state=state)


def read_chat_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    return _read_request(kwargs, settings, endpoint, "messages")


def read_completion_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    return _read_request(kwargs, settings, endpoint, "prompt")


def _choice_text(choice: Any) -> str | None:
    message = getattr(choice, "message", None)
    if message is not None:
        content = getattr(message, "content", None)
        return content if type(content) is str else None
    text = getattr(choice, "text", None)
    return text if type(text) is str else None


def read_response(response: Any, attrs: AttrDict, settings: Settings) -> None:
    """A `ChatCompletion` / `ParsedChatCompletion` / legacy `Completion`."""
    if type(value := response.id) is str and value:
        attrs[a.GEN_AI_RESPONSE_ID] = value
    if type(value := response.model) is str and value:
        attrs[a.GEN_AI_RESPONSE_MODEL] = value
    choices = response.choices or ()
    reasons = tuple([str(c.finish_reason) for c in choices if c.finish_reason])
    if reasons:
        attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    tier = getattr(response, "service_tier", None)
    if tier is not None:
        _write_tier(attrs, tier)
    usage = response.usage
    if usage is not None:
        write_usage(attrs, usage)
    else:
        attrs[a.LLM_USAGE_ESTIMATED] = True
    if settings.capture_content and choices:
        text = _choice_text(choices[0])
        if text is not None:
            attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages(text, reasons[0] if reasons else None)


class ChunkStreamState(StreamState):
    """Chat chunks (`ChatCompletionChunk`) and legacy completion chunks (`Completion`)."""

    __slots__ = ("capture", "finish_reasons", "hide_usage", "id", "model", "text", "tier", "usage")

    def __init__(self, hide_usage: bool, capture: bool) -> None:
        self.hide_usage = hide_usage
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.tier: str | None = None
        self.usage: Any = None
        self.finish_reasons: dict[int, str] = {}
        self.text: list[str] = []

    def observe(self, item: Any) -> bool:
        if self.id is None:
            self.id = item.id
            self.model = item.model
            self.tier = getattr(item, "service_tier", None)
        choices = item.choices
        for choice in choices:
            if choice.finish_reason:
                self.finish_reasons[choice.index] = choice.finish_reason
            if self.capture:
                self._collect(choice)
        usage = item.usage
        if usage is None:
            if self.hide_usage:
                # The SDK marks the explicit `"usage": null` we caused as set; the caller never sent it.
                item.__pydantic_fields_set__.discard(_USAGE)
            return False
        self.usage = usage
        if not self.hide_usage:
            return False
        if not choices:
            return True
        item.usage = None
        item.__pydantic_fields_set__.discard(_USAGE)
        return False

    def _collect(self, choice: Any) -> None:
        delta = getattr(choice, "delta", None)
        piece = getattr(delta, "content", None) if delta is not None else getattr(choice, "text", None)
        if type(piece) is str:
            self.text.append(piece)

    def finish(self, attrs: AttrDict, complete: bool) -> None:
        put_str(attrs, a.GEN_AI_RESPONSE_ID, self.id)
        put_str(attrs, a.GEN_AI_RESPONSE_MODEL, self.model)
        reasons = tuple(str(self.finish_reasons[index]) for index in sorted(self.finish_reasons))
        if reasons:
            attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        _write_tier(attrs, self.tier)
        if self.usage is not None:
            write_usage(attrs, self.usage)
        else:
            attrs[a.LLM_USAGE_ESTIMATED] = True
        if self.capture and self.text:
            attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages(
                "".join(self.text), reasons[0] if reasons else None
            )


__all__ = [
    "ChunkStreamState",
    "read_chat_request",
    "read_completion_request",
    "read_response",
    "with_usage_option",
    "write_usage",
]
