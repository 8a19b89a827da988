"""Small, allocation-light readers shared by the SDK modules (they run on every call)."""

from __future__ import annotations

import json
from typing import Any

from costline import attributes as a
from costline._config import MAX_CONTENT_CHARS
from costline._span import AttrDict


def as_int(value: Any) -> int | None:
    """`value` if it is a real int (not a bool, not None), else None."""
    return value if type(value) is int else None


def put_int(attrs: AttrDict, key: str, value: Any) -> None:
    if type(value) is int:
        attrs[key] = value


def put_str(attrs: AttrDict, key: str, value: Any) -> None:
    if type(value) is str and value:
        attrs[key] = value


def common_request(
    kwargs: dict[str, Any], max_tokens_keys: tuple[str, ...]
) -> tuple[str | None, bool, AttrDict]:
    """Model, stream flag and the request attributes every chat-like API shares."""
    model = kwargs.get("model")
    model = model if type(model) is str and model else None
    stream = kwargs.get("stream") is True
    attrs: AttrDict = {}
    if model is not None:
        attrs[a.GEN_AI_REQUEST_MODEL] = model
    if stream:
        attrs[a.GEN_AI_REQUEST_STREAM] = True
    for key in max_tokens_keys:
        if type(value := kwargs.get(key)) is int:
            attrs[a.GEN_AI_REQUEST_MAX_TOKENS] = value
            break
    temperature = kwargs.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        attrs[a.GEN_AI_REQUEST_TEMPERATURE] = float(temperature)
    return model, stream, attrs


def capped_json(value: Any) -> str:
    """JSON for captured content, cut to `MAX_CONTENT_CHARS` (a debugging aid, not an archive)."""
    text = json.dumps(value, default=_plain, ensure_ascii=False)
    return text if len(text) <= MAX_CONTENT_CHARS else text[:MAX_CONTENT_CHARS]


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    return str(value)


def output_messages(text: str, finish_reason: str | None) -> str:
    """`gen_ai.output.messages` for one assistant text answer (semconv message shape)."""
    message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return capped_json([message])


# Provider-neutral service tier: providers' words for the same thing mapped to one vocabulary.
_TIERS = {"standard": "default", "auto": "default"}


def neutral_tier(tier: str) -> str:
    return _TIERS.get(tier, tier)
