"""OpenAI Responses API (`responses.create/parse/stream`) and embeddings (`embeddings.create`).

A Responses stream carries the whole `Response` (with usage) on its terminal event
(`response.completed`, `response.incomplete` or `response.failed`); `response.created` gives id and
model early, so a stream cut short still records those.
"""

from __future__ import annotations

from typing import Any, Final

from costline import attributes as a
from costline._config import Settings
from costline._span import AttrDict, Request, StreamState
from costline._values import capped_json, common_request, neutral_tier, output_messages, put_int, put_str

_MAX_TOKENS_KEYS: Final = ("max_output_tokens",)
_STARTED: Final = frozenset({"response.created", "response.in_progress"})
_TERMINAL: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})


def read_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    model, stream, attrs = common_request(kwargs, _MAX_TOKENS_KEYS)
    put_str(attrs, a.GEN_AI_OPENAI_REQUEST_SERVICE_TIER, kwargs.get("service_tier"))
    if settings.capture_content:
        prompt = {key: kwargs[key] for key in ("instructions", "input") if key in kwargs}
        if prompt:
            attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(prompt)
    state = ResponseStreamState(settings.capture_content) if stream else None
    return Request(model=model, stream=stream, attributes=attrs, kwargs=kwargs, state=state)


def write_usage(attrs: AttrDict, usage: Any) -> None:
    """`ResponseUsage`: input_tokens is cache-inclusive, output_tokens includes reasoning."""
    put_int(attrs, a.GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens)
    put_int(attrs, a.GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens)
    details = usage.input_tokens_details
    if details is not None:
        put_int(attrs, a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, details.cached_tokens)
        put_int(attrs, a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, getattr(details, "cache_write_tokens", None))
    out_details = usage.output_tokens_details
    if out_details is not None:
        put_int(attrs, a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, out_details.reasoning_tokens)


def _finish_reason(response: Any) -> str | None:
    incomplete = getattr(response, "incomplete_details", None)
    reason = getattr(incomplete, "reason", None) if incomplete is not None else None
    if type(reason) is str and reason:
        return reason
    status = getattr(response, "status", None)
    return status if type(status) is str and status else None


def read_response(response: Any, attrs: AttrDict, settings: Settings) -> None:
    """A `Response` / `ParsedResponse`."""
    put_str(attrs, a.GEN_AI_RESPONSE_ID, response.id)
    put_str(attrs, a.GEN_AI_RESPONSE_MODEL, response.model)
    reason = _finish_reason(response)
    if reason is not None:
        attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
    tier = getattr(response, "service_tier", None)
    if type(tier) is str and tier:
        attrs[a.GEN_AI_OPENAI_RESPONSE_SERVICE_TIER] = tier
        attrs[a.LLM_SERVICE_TIER] = neutral_tier(tier)
    usage = response.usage
    if usage is not None:
        write_usage(attrs, usage)
    else:
        attrs[a.LLM_USAGE_ESTIMATED] = True
    if settings.capture_content:
        text = getattr(response, "output_text", None)
        if type(text) is str:
            attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages(text, reason)


class ResponseStreamState(StreamState):
    """Responses API stream events (`ResponseStreamEvent`)."""

    __slots__ = ("capture", "final", "id", "model")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.final: Any = None

    def observe(self, item: Any) -> bool:
        kind = item.type
        if kind in _TERMINAL:
            self.final = item.response
        elif kind in _STARTED and self.id is None:
            response = item.response
            self.id = response.id
            self.model = response.model
        return False

    def finish(self, attrs: AttrDict, complete: bool) -> None:
        if self.final is not None:
            read_response(self.final, attrs, _CAPTURE if self.capture else _NO_CAPTURE)
            return
        put_str(attrs, a.GEN_AI_RESPONSE_ID, self.id)
        put_str(attrs, a.GEN_AI_RESPONSE_MODEL, self.model)
        attrs[a.LLM_USAGE_ESTIMATED] = True


_CAPTURE: Final = Settings(capture_content=True)
_NO_CAPTURE: Final = Settings(capture_content=False)


# --- embeddings ----------------------------------------------------------------------------------------


def read_embeddings_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    model, _, attrs = common_request(kwargs, ())
    if settings.capture_content and "input" in kwargs:
        attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(kwargs["input"])
    return Request(model=model, stream=False, attributes=attrs, kwargs=kwargs)


def read_embeddings_response(response: Any, attrs: AttrDict, settings: Settings) -> None:
    """`CreateEmbeddingResponse`: only input tokens exist (prompt_tokens)."""
    put_str(attrs, a.GEN_AI_RESPONSE_MODEL, response.model)
    usage = response.usage
    if usage is not None and type(usage.prompt_tokens) is int:
        attrs[a.GEN_AI_USAGE_INPUT_TOKENS] = usage.prompt_tokens
    else:
        attrs[a.LLM_USAGE_ESTIMATED] = True
