"""Provider names from every source, normalised to the semconv `gen_ai.provider.name` values."""

from __future__ import annotations

from typing import Final

from costline import attributes as attr

_ALIASES: Final[dict[str, str]] = {
    "openai": attr.PROVIDER_OPENAI,
    "azure": attr.PROVIDER_AZURE_OPENAI,
    "azure_openai": attr.PROVIDER_AZURE_OPENAI,
    "az.ai.openai": attr.PROVIDER_AZURE_OPENAI,
    "azure.ai.openai": attr.PROVIDER_AZURE_OPENAI,
    "anthropic": attr.PROVIDER_ANTHROPIC,
    "aws.bedrock": attr.PROVIDER_AWS_BEDROCK,
    "bedrock": attr.PROVIDER_AWS_BEDROCK,
    "aws": attr.PROVIDER_AWS_BEDROCK,
    "gcp.vertex_ai": attr.PROVIDER_GCP_VERTEX_AI,
    "vertex_ai": attr.PROVIDER_GCP_VERTEX_AI,
    "vertexai": attr.PROVIDER_GCP_VERTEX_AI,
    "gcp.gemini": attr.PROVIDER_GEMINI,
    "gemini": attr.PROVIDER_GEMINI,
    "google": attr.PROVIDER_GEMINI,
    "google_genai": attr.PROVIDER_GEMINI,
    "gcp.gen_ai": attr.PROVIDER_GEMINI,
    "groq": attr.PROVIDER_GROQ,
    "deepseek": attr.PROVIDER_DEEPSEEK,
    "x_ai": attr.PROVIDER_X_AI,
    "xai": attr.PROVIDER_X_AI,
    "x-ai": attr.PROVIDER_X_AI,
    "mistral_ai": attr.PROVIDER_MISTRAL_AI,
    "mistralai": attr.PROVIDER_MISTRAL_AI,
    "mistral": attr.PROVIDER_MISTRAL_AI,
    "perplexity": attr.PROVIDER_PERPLEXITY,
    "openrouter": attr.PROVIDER_OPENROUTER,
    "together": attr.PROVIDER_TOGETHER,
    "together_ai": attr.PROVIDER_TOGETHER,
    "togetherai": attr.PROVIDER_TOGETHER,
    "fireworks": attr.PROVIDER_FIREWORKS,
    "fireworks_ai": attr.PROVIDER_FIREWORKS,
    "openai_compatible": attr.PROVIDER_SELF_HOSTED,
}

# server.address suffix -> provider, for spans that name no provider
_HOSTS: Final[tuple[tuple[str, str], ...]] = (
    ("api.openai.com", attr.PROVIDER_OPENAI),
    (".openai.azure.com", attr.PROVIDER_AZURE_OPENAI),
    ("api.anthropic.com", attr.PROVIDER_ANTHROPIC),
    ("generativelanguage.googleapis.com", attr.PROVIDER_GEMINI),
    ("aiplatform.googleapis.com", attr.PROVIDER_GCP_VERTEX_AI),
    (".amazonaws.com", attr.PROVIDER_AWS_BEDROCK),
    ("api.groq.com", attr.PROVIDER_GROQ),
    ("api.deepseek.com", attr.PROVIDER_DEEPSEEK),
    ("api.x.ai", attr.PROVIDER_X_AI),
    ("api.mistral.ai", attr.PROVIDER_MISTRAL_AI),
    ("api.perplexity.ai", attr.PROVIDER_PERPLEXITY),
    ("openrouter.ai", attr.PROVIDER_OPENROUTER),
    ("api.together.xyz", attr.PROVIDER_TOGETHER),
    ("api.fireworks.ai", attr.PROVIDER_FIREWORKS),
)

_MAX_PROVIDER_CHARS = 64


def normalize_provider(raw: str) -> str:
    """The semconv value for `raw`; an unknown name is kept (lowercased, bounded) for overrides."""
    lowered = raw.strip().lower()
    return _ALIASES.get(lowered, lowered[:_MAX_PROVIDER_CHARS] or attr.PROVIDER_UNKNOWN)


def provider_from_host(host: str | None) -> str | None:
    if not host:
        return None
    lowered = host.lower()
    return next((provider for suffix, provider in _HOSTS if lowered.endswith(suffix)), None)


def provider_from_scope(scope_name: str) -> str | None:
    """Instrumentations named after one SDK imply its provider (`...anthropic`, `...openai...`)."""
    lowered = scope_name.lower()
    if "anthropic" in lowered:
        return attr.PROVIDER_ANTHROPIC
    if "openai" in lowered:
        return attr.PROVIDER_OPENAI
    return None
