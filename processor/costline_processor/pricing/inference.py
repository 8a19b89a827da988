"""Whose list price applies to a call: its provider's catalogue listing, or one inferred from the model id.

A call through a gateway or proxy (the OpenAI SDK pointed at a company gateway, a LiteLLM proxy, a local
server) names no provider costline can look up (`openai_compatible`, `unknown`, a name the catalogue does not
list), but its model id usually says whose model it is. The inference, in order:

1. a provider prefix, as OpenRouter and LiteLLM send ids (`openai/gpt-4o`, `groq/llama-3.3-70b-versatile`):
   the named provider's listing of the rest of the id;
2. a Bedrock model id (`anthropic.claude-...-v1:0`, `us.anthropic....`): the maker's listing of the bare id,
   else AWS Bedrock's listing of the whole id;
3. the model's maker, as the catalogue itself claims ids (`gpt-*`, `o1`/`o3`/`o4-*` -> OpenAI, `*claude*` ->
   Anthropic, `*gemini*` -> Google, `grok*` -> xAI, `deepseek*`, ...): the maker's own listing, never a
   reseller's (Azure, OpenRouter, Bedrock, Vertex list the same ids at other prices);
4. no maker claims the id: the one catalogue provider listing it, not counting resellers of another listing
   provider (Azure for OpenAI's `text-embedding-3-small`).

Anything else (no listing, a maker that does not list the id, several listings) is not inferred, and the
reason names the candidates.

A call served by AWS Bedrock (`aws.bedrock`) is priced from AWS's own listing, whose ids carry the
cross-region profile (`us.`/`eu.`/`apac.` bill the regional rate, `global.` its own); an id AWS does not
list falls back to step 2's maker listing (`bedrock_maker_listing`), and the source says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from genai_prices.data_snapshot import find_provider_by_id
from genai_prices.types import ModelInfo, Provider

from costline import attributes as attr

# semconv gen_ai.provider.name -> genai-prices provider id; None: the provider is not a catalogue listing, so
# the catalogue provider is inferred from the model id. A name missing here is tried as a genai-prices id.
_CATALOGUE_IDS: Final[dict[str, str | None]] = {
    attr.PROVIDER_OPENAI: "openai",
    attr.PROVIDER_AZURE_OPENAI: "azure",
    attr.PROVIDER_ANTHROPIC: "anthropic",
    attr.PROVIDER_AWS_BEDROCK: "aws",
    attr.PROVIDER_GCP_VERTEX_AI: "google",
    attr.PROVIDER_GEMINI: "google",
    attr.PROVIDER_GROQ: "groq",
    attr.PROVIDER_DEEPSEEK: "deepseek",
    attr.PROVIDER_X_AI: "x-ai",
    attr.PROVIDER_MISTRAL_AI: "mistral",
    attr.PROVIDER_PERPLEXITY: "perplexity",
    attr.PROVIDER_OPENROUTER: "openrouter",
    attr.PROVIDER_TOGETHER: "together",
    attr.PROVIDER_FIREWORKS: "fireworks",
    attr.PROVIDER_SELF_HOSTED: None,
    attr.PROVIDER_UNKNOWN: None,
}
_AWS: Final = "aws"
# Bedrock ids: an optional cross-region inference prefix, the vendor, the model, a version suffix.
_BEDROCK_ID: Final = re.compile(
    r"^(?:(?:us|us-gov|eu|apac|au|ca|jp|global)\.)?(?P<vendor>[a-z0-9]+)\.(?P<model>.+?)(?:-v?\d+:\d+|-v\d+)?$"
)
# Bedrock vendor -> the catalogue provider that is the model's maker (`amazon.nova-*` is AWS's own model).
_BEDROCK_MAKERS: Final = {
    "anthropic": "anthropic",
    "openai": "openai",
    "mistral": "mistral",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "amazon": _AWS,
}
_GEMINI_RESOURCE_PREFIX: Final = "models/"  # the Gemini API names models `models/gemini-...`
_MAX_NAMED: Final = 6  # candidates named in a reason; the rest are counted

# How the provider was inferred: `llm.pricing.source` = "... + provider openai inferred from the model name".
HOW_PREFIX: Final = "model prefix"
HOW_BEDROCK: Final = "Bedrock model id"
HOW_MAKER: Final = "model name"
HOW_LISTING: Final = "only catalogue listing"


@dataclass(frozen=True, slots=True)
class Inferred:
    """The catalogue provider and model that price a call, and how the provider was inferred."""

    provider: Provider
    model: ModelInfo
    how: str


@dataclass(frozen=True, slots=True)
class NotInferred:
    """Why no list price applies; `detail` names the candidates."""

    detail: str


def catalogue_id(provider: str | None, providers: list[Provider]) -> str | None:
    """The genai-prices id that lists `provider`'s prices; None when the provider must be inferred."""
    if not provider:
        return None
    if provider in _CATALOGUE_IDS:
        return _CATALOGUE_IDS[provider]
    listed = find_provider_by_id(providers, provider)
    return listed.id if listed is not None else None


def infer(providers: list[Provider], model: str) -> Inferred | NotInferred:
    """The list price's provider for `model` when the span's provider does not say (module docstring)."""
    ref = model.lower().removeprefix(_GEMINI_RESOURCE_PREFIX)
    found = _by_prefix(providers, ref) or _by_bedrock_id(providers, ref)
    if found is not None:
        return found
    maker = next((p for p in providers if p.model_match is not None and p.model_match.is_match(ref)), None)
    if maker is not None:
        info = maker.find_model(ref)
        if info is not None:
            return Inferred(maker, info, HOW_MAKER)
        others = [p.id for p, _ in _listings(providers, ref) if p is not maker]
        listed = f"; listed by {_names(others)}" if others else ""
        return NotInferred(f"{maker.id} (whose ids it looks like) does not list it{listed}")
    listings = _without_resellers(_listings(providers, ref))
    if len(listings) == 1:
        provider, info = listings[0]
        return Inferred(provider, info, HOW_LISTING)
    if not listings:
        return NotInferred("no catalogue provider lists it")
    named = _names([provider.id for provider, _ in listings])
    return NotInferred(f"listed by {named}, and its id does not say whose it is")


def _by_prefix(providers: list[Provider], ref: str) -> Inferred | None:
    prefix, slash, rest = ref.partition("/")
    if not slash or not rest:
        return None
    provider = find_provider_by_id(providers, prefix)  # genai-prices knows the aliases (vertex_ai, xai, ...)
    info = provider.find_model(rest) if provider is not None else None
    # the source names the provider, never the raw prefix: a sender's text must not multiply source values
    return Inferred(provider, info, HOW_PREFIX) if provider and info else None


def bedrock_maker_listing(providers: list[Provider], model: str) -> Inferred | None:
    """The maker's listing of a Bedrock model id AWS's own listing lacks (`cohere.command-r-plus-v1:0` ->
    Cohere's `command-r-plus`); None when the id names no maker that lists it."""
    match = _BEDROCK_ID.match(model.lower())
    if match is None or match["vendor"] not in _BEDROCK_MAKERS:
        return None
    maker = find_provider_by_id(providers, _BEDROCK_MAKERS[match["vendor"]])
    info = maker.find_model(match["model"]) if maker is not None else None
    return Inferred(maker, info, HOW_BEDROCK) if maker and info else None


def _by_bedrock_id(providers: list[Provider], ref: str) -> Inferred | None:
    match = _BEDROCK_ID.match(ref)
    if match is None or match["vendor"] not in _BEDROCK_MAKERS:
        return None
    found = bedrock_maker_listing(providers, ref)
    if found is not None:
        return found
    aws = find_provider_by_id(providers, _AWS)
    info = aws.find_model(ref) if aws is not None else None
    return Inferred(aws, info, HOW_BEDROCK) if aws and info else None


def _listings(providers: list[Provider], ref: str) -> list[tuple[Provider, ModelInfo]]:
    """Every provider's own listing of `ref` (no fallback to the providers it resells)."""
    found = ((provider, provider.find_model(ref)) for provider in providers)
    return [(provider, info) for provider, info in found if info is not None]


def _without_resellers(listings: list[tuple[Provider, ModelInfo]]) -> list[tuple[Provider, ModelInfo]]:
    """Drop a listing by a provider that resells another listing provider's models (its fallbacks)."""
    listed = {provider.id for provider, _ in listings}
    return [
        (provider, info)
        for provider, info in listings
        if not listed.intersection(provider.fallback_model_providers or ())
    ]


def _names(ids: list[str]) -> str:
    named = ", ".join(ids[:_MAX_NAMED])
    return named if len(ids) <= _MAX_NAMED else f"{named} and {len(ids) - _MAX_NAMED} more"
