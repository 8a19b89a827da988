"""google-genai `Models` (Gemini API and Vertex AI): generate_content, its stream, embed_content.

Usage (`usage_metadata`): Google's `candidates_token_count` EXCLUDES the thinking tokens and its
`prompt_token_count` EXCLUDES the tool-use prompt tokens, yet both are billed (thoughts as output, tool
results fed back as input). semconv's model is inclusive, so the span gets
`input = prompt + tool_use_prompt` (the cached content is already inside the prompt),
`output = candidates + thoughts`, `reasoning = thoughts` and `cache_read = cached_content`. Reading
`candidates_token_count` alone under-prices a thinking model by the whole thinking budget.

Streams: every chunk's `usage_metadata` is the request's running total, so the last one seen is the usage;
a stream cut short (or closed early) records it flagged estimated (its output side is then incomplete).
"""

from __future__ import annotations

from typing import Any, Final

from costline import attributes as a
from costline._config import Settings
from costline._span import AttrDict, Request, StreamState
from costline._values import capped_json, neutral_tier, output_messages, put_str

# Vertex AI's `traffic_type` in the neutral tier vocabulary (provisioned throughput is no per-call tier).
_TRAFFIC_TIERS: Final = {"ON_DEMAND": "default", "ON_DEMAND_FLEX": "flex", "ON_DEMAND_PRIORITY": "priority"}
_EMBED_CONTENT_KEYS: Final = ("contents", "content", "batch_contents")


def _option(config: Any, key: str) -> Any:
    """A field of a `GenerateContentConfig`, or of its dict form."""
    if config is None:
        return None
    if isinstance(config, dict):
        return config.get(key)
    return getattr(config, key, None)


def _enum_text(value: Any) -> str | None:
    text = getattr(value, "value", value)
    return text if type(text) is str and text else None


def _request_attributes(kwargs: dict[str, Any], settings: Settings) -> tuple[str | None, AttrDict]:
    model = kwargs.get("model")
    model = model if type(model) is str and model else None
    attrs: AttrDict = {}
    if model is not None:
        attrs[a.GEN_AI_REQUEST_MODEL] = model
    config = kwargs.get("config")
    if config is not None:
        if type(value := _option(config, "max_output_tokens")) is int:
            attrs[a.GEN_AI_REQUEST_MAX_TOKENS] = value
        temperature = _option(config, "temperature")
        if isinstance(temperature, int | float) and not isinstance(temperature, bool):
            attrs[a.GEN_AI_REQUEST_TEMPERATURE] = float(temperature)
        if (tier := _enum_text(_option(config, "service_tier"))) is not None and tier != "unspecified":
            attrs[a.LLM_SERVICE_TIER] = neutral_tier(tier)
    if settings.capture_content and "contents" in kwargs:
        prompt = {"contents": kwargs["contents"]}
        if (system := _option(config, "system_instruction")) is not None:
            prompt["system_instruction"] = system
        attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(prompt)
    return model, attrs


def read_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    model, attrs = _request_attributes(kwargs, settings)
    return Request(model=model, stream=False, attributes=attrs, kwargs=kwargs)


def read_stream_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    """`_generate_content_stream`: always a stream, though its kwargs do not say so."""
    model, attrs = _request_attributes(kwargs, settings)
    attrs[a.GEN_AI_REQUEST_STREAM] = True
    state = ContentStreamState(settings.capture_content)
    return Request(model=model, stream=True, attributes=attrs, kwargs=kwargs, state=state)


def write_usage(attrs: AttrDict, usage: Any) -> None:
    """`GenerateContentResponseUsageMetadata` in the inclusive semconv model (see the module docstring)."""
    prompt = v if type(v := usage.prompt_token_count) is int else None
    tool_use = v if type(v := usage.tool_use_prompt_token_count) is int else None
    candidates = v if type(v := usage.candidates_token_count) is int else None
    thoughts = v if type(v := usage.thoughts_token_count) is int else None
    if prompt is not None or tool_use is not None:
        attrs[a.GEN_AI_USAGE_INPUT_TOKENS] = (prompt or 0) + (tool_use or 0)
        cached = usage.cached_content_token_count
        attrs[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached if type(cached) is int else 0
    if candidates is not None or thoughts is not None:
        attrs[a.GEN_AI_USAGE_OUTPUT_TOKENS] = (candidates or 0) + (thoughts or 0)
    if thoughts is not None:
        attrs[a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thoughts
    traffic = getattr(usage, "traffic_type", None)  # Vertex AI only
    if traffic is not None and (tier := _TRAFFIC_TIERS.get(_enum_text(traffic) or "")) is not None:
        attrs[a.LLM_SERVICE_TIER] = tier


def _finish_reason(candidate: Any) -> str | None:
    """semconv's lower-case finish reason (`stop`) from the SDK's `FinishReason` (a str enum: `STOP`)."""
    reason = candidate.finish_reason
    return reason.lower() if isinstance(reason, str) and reason else None


def _answer_text(candidate: Any) -> str:
    """The visible answer of one candidate: its text parts, thoughts left out."""
    content = candidate.content
    parts = content.parts if content is not None else None
    return "".join(part.text for part in parts or () if type(part.text) is str and not part.thought)


def read_response(response: Any, attrs: AttrDict, settings: Settings) -> None:
    """A `GenerateContentResponse`."""
    # Inlined type checks (no helper calls): this runs on every call.
    if type(value := response.response_id) is str and value:
        attrs[a.GEN_AI_RESPONSE_ID] = value
    if type(value := response.model_version) is str and value:
        attrs[a.GEN_AI_RESPONSE_MODEL] = value
    candidates = response.candidates or ()
    reasons = tuple([reason for candidate in candidates if (reason := _finish_reason(candidate))])
    if reasons:
        attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    if response.usage_metadata is not None:
        write_usage(attrs, response.usage_metadata)
    else:
        attrs[a.LLM_USAGE_ESTIMATED] = True
    if settings.capture_content and candidates:
        reason = reasons[0] if reasons else None
        attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages(_answer_text(candidates[0]), reason)


class ContentStreamState(StreamState):
    """`GenerateContentResponse` chunks of one streamed request."""

    __slots__ = ("capture", "id", "model", "reasons", "text", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.usage: Any = None  # the latest chunk's usage_metadata: the running total
        self.reasons: dict[int, str] = {}
        self.text: list[str] = []

    def observe(self, item: Any) -> bool:
        if self.id is None:
            self.id = item.response_id
            self.model = item.model_version
        usage = item.usage_metadata
        if usage is not None:
            self.usage = usage
        candidates = item.candidates
        if candidates:
            for candidate in candidates:
                if candidate.finish_reason is not None and (reason := _finish_reason(candidate)):
                    self.reasons[candidate.index or 0] = reason
            if self.capture:
                self.text.append(_answer_text(candidates[0]))
        return False

    def finish(self, attrs: AttrDict, complete: bool) -> None:
        put_str(attrs, a.GEN_AI_RESPONSE_ID, self.id)
        put_str(attrs, a.GEN_AI_RESPONSE_MODEL, self.model)
        reasons = tuple(self.reasons[index] for index in sorted(self.reasons))
        if reasons:
            attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        if self.usage is not None:
            write_usage(attrs, self.usage)
        if self.usage is None or not complete:
            attrs[a.LLM_USAGE_ESTIMATED] = True
        if self.capture and self.text:
            attrs[a.GEN_AI_OUTPUT_MESSAGES] = output_messages(
                "".join(self.text), reasons[0] if reasons else None
            )


def read_embed_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    model, attrs = _request_attributes({"model": kwargs.get("model")}, settings)
    if settings.capture_content:
        content = next((kwargs[key] for key in _EMBED_CONTENT_KEYS if kwargs.get(key) is not None), None)
        if content is not None:
            attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(content)
    return Request(model=model, stream=False, attributes=attrs, kwargs=kwargs)


def read_embed_response(response: Any, attrs: AttrDict, settings: Settings) -> None:
    """An `EmbedContentResponse`: input tokens only, from `usage_metadata` (google-genai >= 3.x where the
    API reports it), else from Vertex AI's per-embedding statistics."""
    usage = getattr(response, "usage_metadata", None)
    tokens = usage.prompt_token_count if usage is not None else None
    if type(tokens) is not int:
        tokens = _statistics_tokens(response.embeddings)
    if tokens is None:
        attrs[a.LLM_USAGE_ESTIMATED] = True
        return
    attrs[a.GEN_AI_USAGE_INPUT_TOKENS] = tokens


def _statistics_tokens(embeddings: Any) -> int | None:
    """The summed `statistics.token_count` of Vertex AI embeddings (the SDK types it as a float)."""
    if not embeddings:
        return None
    total = 0
    for embedding in embeddings:
        count = getattr(getattr(embedding, "statistics", None), "token_count", None)
        if type(count) is float and count.is_integer():
            count = int(count)
        if type(count) is not int or count < 0:
            return None
        total += count
    return total
