"""LiteLLM's SDK (`litellm.completion`, `acompletion`, `embedding`, `aembedding`): requests, responses.

LiteLLM answers in the OpenAI shape whatever provider served the call, with its usage already normalised to
the inclusive model (`prompt_tokens` includes cache reads and writes, Anthropic's too), so one reader serves
every provider. The provider is the one LiteLLM routes to (`litellm.get_llm_provider`: the `openai/` prefix,
`custom_llm_provider`, ...), named as semconv names it; `COSTLINE_PROVIDER_OVERRIDES` entries for the SDK
`litellm` (or for the host of `api_base`) win, as for every SDK.

A stream carries usage only when `stream_options.include_usage` is set. When the caller did not ask,
costline asks (unless `COSTLINE_INJECT_STREAM_USAGE=false`) and hides the answer: the extra usage-only chunk
is swallowed and `usage` taken off the others, as for the OpenAI SDK (`costline.openai_chat`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from costline import attributes as a
from costline._config import Settings
from costline._provider_overrides import SDK_LITELLM
from costline._providers import provider_for_host
from costline._span import AttrDict, Request, StreamState
from costline._values import capped_json, common_request, put_int, put_str
from costline.openai_chat import with_usage_option, write_usage

# LiteLLM's provider names -> gen_ai.provider.name. A name not listed is passed on as LiteLLM spells it.
PROVIDERS: Final[Mapping[str, str]] = {
    "openai": a.PROVIDER_OPENAI,
    "text-completion-openai": a.PROVIDER_OPENAI,
    "azure": a.PROVIDER_AZURE_OPENAI,
    "azure_text": a.PROVIDER_AZURE_OPENAI,
    "anthropic": a.PROVIDER_ANTHROPIC,
    "gemini": a.PROVIDER_GEMINI,
    "vertex_ai": a.PROVIDER_GCP_VERTEX_AI,
    "vertex_ai_beta": a.PROVIDER_GCP_VERTEX_AI,
    "bedrock": a.PROVIDER_AWS_BEDROCK,
    "groq": a.PROVIDER_GROQ,
    "deepseek": a.PROVIDER_DEEPSEEK,
    "xai": a.PROVIDER_X_AI,
    "mistral": a.PROVIDER_MISTRAL_AI,
    "openrouter": a.PROVIDER_OPENROUTER,
    "together_ai": a.PROVIDER_TOGETHER,
    "fireworks_ai": a.PROVIDER_FIREWORKS,
    "perplexity": a.PROVIDER_PERPLEXITY,
}
# LiteLLM providers that are the OpenAI API itself: behind another host they are an OpenAI-compatible server.
_OPENAI_APIS: Final = frozenset({"openai", "text-completion-openai"})
_BASE_URL_KEYS: Final = ("api_base", "base_url")
_DEFAULT_PORTS: Final[Mapping[str, int]] = {"http": 80, "https": 443}
_MAX_TOKENS_KEYS: Final = ("max_completion_tokens", "max_tokens")
_USAGE: Final = "usage"


def _routing(kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
    """(model as sent to the provider, LiteLLM's provider name), as LiteLLM itself resolves them."""
    import litellm  # noqa: PLC0415 - only reached from inside a litellm call, so it is imported already

    model = kwargs.get("model")
    if type(model) is not str or not model:
        return None, None
    provider = kwargs.get("custom_llm_provider")
    base = _base_url(kwargs)
    resolved = litellm.get_llm_provider(
        model=model, custom_llm_provider=provider if type(provider) is str else None, api_base=base
    )
    return str(resolved[0]), str(resolved[1])


def _base_url(kwargs: dict[str, Any]) -> str | None:
    for key in _BASE_URL_KEYS:
        value = kwargs.get(key)
        if type(value) is str and value:
            return value
    return None


def endpoint_attributes(kwargs: dict[str, Any], litellm_provider: str | None, settings: Settings) -> AttrDict:
    """`gen_ai.provider.name`, and `server.address`/`server.port` when the caller named the base URL."""
    attrs: AttrDict = {}
    provider = PROVIDERS.get(litellm_provider or "", litellm_provider or a.PROVIDER_UNKNOWN)
    base = _base_url(kwargs)
    if base is not None:
        url = urlsplit(base)
        host = url.hostname or ""
        if litellm_provider in _OPENAI_APIS:
            provider = provider_for_host(host, a.PROVIDER_SELF_HOSTED)
        provider = settings.provider_overrides.provider_for(SDK_LITELLM, base, host) or provider
        attrs[a.SERVER_ADDRESS] = host
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        if port is not None:
            attrs[a.SERVER_PORT] = port
    attrs[a.GEN_AI_PROVIDER_NAME] = provider
    return attrs


def _read(kwargs: dict[str, Any], settings: Settings, content_key: str) -> Request:
    model, stream, attrs = common_request(kwargs, _MAX_TOKENS_KEYS)
    try:
        routed_model, litellm_provider = _routing(kwargs)
    except Exception:  # LiteLLM refuses the model: the call will raise the same error, traced as such
        routed_model, litellm_provider = model, None
    attrs.update(endpoint_attributes(kwargs, litellm_provider, settings))
    if routed_model:
        attrs[a.GEN_AI_REQUEST_MODEL] = routed_model
    if settings.capture_content and content_key in kwargs:
        attrs[a.GEN_AI_INPUT_MESSAGES] = capped_json(kwargs[content_key])
    state = None
    if stream:
        injected = with_usage_option(kwargs) if settings.inject_stream_usage else None
        state = LiteLLMStreamState(hide_usage=injected is not None)
        kwargs = injected or kwargs
    return Request(model=routed_model or model, stream=stream, attributes=attrs, kwargs=kwargs, state=state)


def read_completion_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    return _read(kwargs, settings, "messages")


def read_embedding_request(kwargs: dict[str, Any], settings: Settings, endpoint: AttrDict) -> Request:
    request = _read({**kwargs, "stream": False}, settings, "input")
    request.kwargs = kwargs
    return request


def write_litellm_usage(attrs: AttrDict, usage: Any) -> None:
    """LiteLLM's `Usage`: OpenAI's fields plus Anthropic's cache writes (LiteLLM's own names for them)."""
    write_usage(attrs, usage)
    details = getattr(usage, "prompt_tokens_details", None)
    writes = getattr(usage, "cache_creation_input_tokens", None)
    if type(writes) is not int and details is not None:
        writes = getattr(details, "cache_creation_tokens", None)
    if type(writes) is int and writes:
        attrs[a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = writes
    split = getattr(details, "cache_creation_token_details", None) if details is not None else None
    if split is not None:
        one_hour = getattr(split, "ephemeral_1h_input_tokens", None)
        put_int(attrs, a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS, one_hour)


def read_response(response: Any, attrs: AttrDict, settings: Settings) -> None:
    """A `ModelResponse` or an `EmbeddingResponse`."""
    put_str(attrs, a.GEN_AI_RESPONSE_ID, getattr(response, "id", None))
    put_str(attrs, a.GEN_AI_RESPONSE_MODEL, getattr(response, "model", None))
    choices = getattr(response, "choices", None) or ()
    reasons = tuple(str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None))
    if reasons:
        attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    usage = getattr(response, _USAGE, None)
    if usage is not None:
        write_litellm_usage(attrs, usage)
    else:
        attrs[a.LLM_USAGE_ESTIMATED] = True


class LiteLLMStreamState(StreamState):
    """`ModelResponseStream` chunks of a `CustomStreamWrapper`."""

    __slots__ = ("finish_reasons", "hide_usage", "id", "model", "usage")

    def __init__(self, hide_usage: bool) -> None:
        self.hide_usage = hide_usage
        self.id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.finish_reasons: list[str] = []

    def observe(self, item: Any) -> bool:
        if self.id is None:
            self.id = getattr(item, "id", None)
            self.model = getattr(item, "model", None)
        choices = getattr(item, "choices", None) or ()
        self.finish_reasons += [str(c.finish_reason) for c in choices if getattr(c, "finish_reason", None)]
        usage = getattr(item, _USAGE, None)
        if usage is None:
            return False
        self.usage = usage
        if not self.hide_usage:
            return False
        if not choices:
            return True
        del item.usage  # LiteLLM chunks carry `usage` only when it was asked for
        return False

    def finish(self, attrs: AttrDict, complete: bool) -> None:
        put_str(attrs, a.GEN_AI_RESPONSE_ID, self.id)
        put_str(attrs, a.GEN_AI_RESPONSE_MODEL, self.model)
        if self.finish_reasons:
            attrs[a.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(self.finish_reasons)
        if self.usage is not None:
            write_litellm_usage(attrs, self.usage)
        else:
            attrs[a.LLM_USAGE_ESTIMATED] = True


__all__ = [
    "PROVIDERS",
    "LiteLLMStreamState",
    "endpoint_attributes",
    "read_completion_request",
    "read_embedding_request",
    "read_response",
]
