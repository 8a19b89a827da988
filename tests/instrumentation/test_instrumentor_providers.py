"""Provider detection (`gen_ai.provider.name`) from real SDK client objects; no request is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from costline import attributes as a
from costline._provider_overrides import ProviderOverrides
from costline._providers import EndpointCache, detect


def _openai(base_url: str) -> Callable[[], Any]:
    return lambda: openai.OpenAI(base_url=base_url, api_key="k")


TABLE: list[tuple[str, Callable[[], Any], str, str, int]] = [
    ("openai", lambda: openai.OpenAI(api_key="k"), a.PROVIDER_OPENAI, "api.openai.com", 443),
    (
        "azure client",
        lambda: openai.AzureOpenAI(
            azure_endpoint="https://res.openai.azure.com", api_key="k", api_version="v"
        ),
        a.PROVIDER_AZURE_OPENAI,
        "res.openai.azure.com",
        443,
    ),
    (
        "azure host",
        _openai("https://res.cognitiveservices.azure.com/openai/v1"),
        a.PROVIDER_AZURE_OPENAI,
        "res.cognitiveservices.azure.com",
        443,
    ),
    ("groq", _openai("https://api.groq.com/openai/v1"), a.PROVIDER_GROQ, "api.groq.com", 443),
    ("deepseek", _openai("https://api.deepseek.com"), a.PROVIDER_DEEPSEEK, "api.deepseek.com", 443),
    ("xai", _openai("https://api.x.ai/v1"), a.PROVIDER_X_AI, "api.x.ai", 443),
    ("mistral", _openai("https://api.mistral.ai/v1"), a.PROVIDER_MISTRAL_AI, "api.mistral.ai", 443),
    ("openrouter", _openai("https://openrouter.ai/api/v1"), a.PROVIDER_OPENROUTER, "openrouter.ai", 443),
    ("together", _openai("https://api.together.xyz/v1"), a.PROVIDER_TOGETHER, "api.together.xyz", 443),
    (
        "fireworks",
        _openai("https://api.fireworks.ai/inference/v1"),
        a.PROVIDER_FIREWORKS,
        "api.fireworks.ai",
        443,
    ),
    ("perplexity", _openai("https://api.perplexity.ai"), a.PROVIDER_PERPLEXITY, "api.perplexity.ai", 443),
    (
        "gemini",
        _openai("https://generativelanguage.googleapis.com/v1beta/openai/"),
        a.PROVIDER_GEMINI,
        "generativelanguage.googleapis.com",
        443,
    ),
    ("vllm on localhost", _openai("http://localhost:8000/v1"), a.PROVIDER_SELF_HOSTED, "localhost", 8000),
    ("the mock provider", _openai("http://127.0.0.1:4010/v1"), a.PROVIDER_SELF_HOSTED, "127.0.0.1", 4010),
    ("plain http", _openai("http://llm.internal/v1"), a.PROVIDER_SELF_HOSTED, "llm.internal", 80),
    ("anthropic", lambda: anthropic.Anthropic(api_key="k"), a.PROVIDER_ANTHROPIC, "api.anthropic.com", 443),
    (
        "anthropic via a gateway",
        lambda: anthropic.Anthropic(api_key="k", base_url="https://llm-gateway.corp"),
        a.PROVIDER_ANTHROPIC,
        "llm-gateway.corp",
        443,
    ),
    (
        "anthropic vertex",
        lambda: anthropic.AnthropicVertex(region="us-east5", project_id="p", access_token="t"),
        a.PROVIDER_GCP_VERTEX_AI,
        "us-east5-aiplatform.googleapis.com",
        443,
    ),
    (
        "anthropic bedrock",
        lambda: anthropic.AnthropicBedrock(aws_region="us-east-1", aws_access_key="a", aws_secret_key="s"),
        a.PROVIDER_AWS_BEDROCK,
        "bedrock-runtime.us-east-1.amazonaws.com",
        443,
    ),
]


@pytest.mark.parametrize(
    ("make", "provider", "host", "port"), [row[1:] for row in TABLE], ids=[r[0] for r in TABLE]
)
def test_detection(make: Callable[[], Any], provider: str, host: str, port: int) -> None:
    client = make()
    default = a.PROVIDER_ANTHROPIC if "anthropic" in type(client).__module__ else a.PROVIDER_SELF_HOSTED
    try:
        endpoint = detect(client, default, ProviderOverrides())
    finally:
        client.close()
    assert (endpoint.provider, endpoint.address, endpoint.port) == (provider, host, port)


def test_override_wins_and_cache_follows_base_url_changes() -> None:
    client = openai.OpenAI(base_url="http://127.0.0.1:4010/v1", api_key="k")
    with client:
        cache = EndpointCache(
            a.PROVIDER_SELF_HOSTED, ProviderOverrides.from_mapping({"127.0.0.1": a.PROVIDER_OPENAI})
        )
        first = cache.attributes(client)
        assert first[a.GEN_AI_PROVIDER_NAME] == a.PROVIDER_OPENAI
        assert cache.attributes(client) is first  # detected once per client and base URL
        client.base_url = "https://api.groq.com/openai/v1"
        assert cache.attributes(client)[a.GEN_AI_PROVIDER_NAME] == a.PROVIDER_GROQ
