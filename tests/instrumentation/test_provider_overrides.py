"""`COSTLINE_PROVIDER_OVERRIDES` entries for a host, an SDK's calls to a host, or a URL prefix, applied to
real openai/anthropic client objects (no request is sent): one gateway can front several providers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from costline import attributes as a
from costline._config import ENV_PROVIDER_OVERRIDES, load_settings, parse_overrides
from costline._providers import detect

GATEWAY = "http://llm-gateway.corp:8080"


def openai_client(base_url: str) -> Any:
    return openai.OpenAI(base_url=base_url, api_key="k")


def anthropic_client(base_url: str) -> Any:
    return anthropic.Anthropic(base_url=base_url, api_key="k")


def provider_of(make: Callable[[str], Any], base_url: str, overrides: str) -> str:
    client = make(base_url)
    try:
        default = a.PROVIDER_ANTHROPIC if make is anthropic_client else a.PROVIDER_SELF_HOSTED
        return detect(client, default, parse_overrides(overrides)).provider
    finally:
        client.close()


def test_one_gateway_host_fronting_both_sdks_is_named_per_sdk() -> None:
    overrides = "openai@llm-gateway.corp=openai, anthropic@llm-gateway.corp=anthropic"
    assert provider_of(openai_client, f"{GATEWAY}/v1", overrides) == a.PROVIDER_OPENAI
    assert provider_of(anthropic_client, GATEWAY, overrides) == a.PROVIDER_ANTHROPIC


def test_a_host_only_entry_names_every_sdks_calls_as_before() -> None:
    # the old form: which is exactly why it could not describe a gateway fronting two providers
    assert provider_of(openai_client, f"{GATEWAY}/v1", "llm-gateway.corp=openai") == a.PROVIDER_OPENAI
    assert provider_of(anthropic_client, GATEWAY, "llm-gateway.corp=openai") == a.PROVIDER_OPENAI


def test_an_sdk_entry_beats_a_host_entry_and_leaves_the_other_sdk_alone() -> None:
    overrides = "llm-gateway.corp=azure.ai.openai, anthropic@llm-gateway.corp=anthropic"
    assert provider_of(openai_client, f"{GATEWAY}/v1", overrides) == a.PROVIDER_AZURE_OPENAI
    assert provider_of(anthropic_client, GATEWAY, overrides) == a.PROVIDER_ANTHROPIC
    only_openai = "openai@llm-gateway.corp=openai"
    assert provider_of(anthropic_client, GATEWAY, only_openai) == a.PROVIDER_ANTHROPIC  # the SDK's default


def test_url_prefixes_route_paths_of_one_host_and_the_longest_wins() -> None:
    overrides = (
        f"llm-gateway.corp=openai, {GATEWAY}/bedrock=aws.bedrock, {GATEWAY}/bedrock/anthropic=anthropic,"
        f" openai@{GATEWAY}/groq=groq"
    )
    assert provider_of(openai_client, f"{GATEWAY}/v1", overrides) == a.PROVIDER_OPENAI  # host entry
    assert provider_of(openai_client, f"{GATEWAY}/bedrock/v1", overrides) == a.PROVIDER_AWS_BEDROCK
    assert provider_of(anthropic_client, f"{GATEWAY}/bedrock/anthropic", overrides) == a.PROVIDER_ANTHROPIC
    assert provider_of(openai_client, f"{GATEWAY}/groq/openai/v1", overrides) == a.PROVIDER_GROQ
    # a prefix matches whole path segments: /bedrockx is not under /bedrock
    assert provider_of(openai_client, f"{GATEWAY}/bedrockx/v1", overrides) == a.PROVIDER_OPENAI
    # the port is part of a URL prefix
    assert provider_of(openai_client, "http://llm-gateway.corp:9090/groq/v1", overrides) == a.PROVIDER_OPENAI


def test_an_override_wins_over_the_client_class() -> None:
    client = openai.AzureOpenAI(azure_endpoint="https://res.openai.azure.com", api_key="k", api_version="v")
    try:
        overrides = parse_overrides("openai@res.openai.azure.com=openai")
        assert detect(client, a.PROVIDER_SELF_HOSTED, overrides).provider == a.PROVIDER_OPENAI
    finally:
        client.close()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("no-equals-sign", "is not host=provider"),
        (
            "gemini@gw.corp=gcp.gemini",
            "unknown SDK 'gemini' (expected one of openai, anthropic, google-genai, litellm, boto3)",
        ),
        ("gw.corp:8080=openai", "is not a host name (for a port or a path, give a URL prefix"),
        ("gw.corp/v1=openai", "is not a host name"),
        ("ftp://gw.corp=openai", "is not an http(s) URL"),
        ("openai@=openai", "names no host or URL"),
        ("gw.corp=", "is not TARGET=provider"),
    ],
)
def test_malformed_entries_are_refused_with_what_is_wrong(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match="provider override") as caught:
        parse_overrides(raw)
    assert problem in str(caught.value)


def test_the_environment_and_the_keyword_take_the_same_syntax(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_PROVIDER_OVERRIDES, "OpenAI@GW.corp=openai, https://gw.corp/anthropic/=anthropic")
    from_env = load_settings().provider_overrides
    assert from_env.provider_for("openai", "https://gw.corp/v1", "gw.corp") == a.PROVIDER_OPENAI
    assert from_env.provider_for("anthropic", "https://gw.corp/anthropic", "gw.corp") == a.PROVIDER_ANTHROPIC
    assert from_env.provider_for("anthropic", "https://gw.corp/v1", "gw.corp") is None
    keyword = load_settings(provider_overrides={"anthropic@gw.corp": "anthropic"}).provider_overrides
    assert keyword.provider_for("anthropic", "https://gw.corp", "gw.corp") == a.PROVIDER_ANTHROPIC
    with pytest.raises(ValueError, match="unknown SDK"):
        load_settings(provider_overrides={"vertex@gw.corp": "gcp.vertex_ai"})  # a bad keyword raises
    monkeypatch.setenv(ENV_PROVIDER_OVERRIDES, "vertex@gw.corp=gcp.vertex_ai")
    with caplog.at_level(logging.WARNING, logger="costline"):
        assert load_settings().provider_overrides.rules == ()  # a bad environment value is logged
    assert ENV_PROVIDER_OVERRIDES in caplog.text


def test_a_google_genai_client_behind_the_gateway_is_named_by_its_own_sdk_entry() -> None:
    from google import genai
    from google.genai import types

    from costline._providers import detect_genai

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{GATEWAY}/google"))
    overrides = parse_overrides("openai@llm-gateway.corp=openai, google-genai@llm-gateway.corp=gcp.vertex_ai")
    assert detect_genai(client._api_client, a.PROVIDER_GEMINI, overrides).provider == a.PROVIDER_GCP_VERTEX_AI
    only_openai = parse_overrides("openai@llm-gateway.corp=openai")
    assert detect_genai(client._api_client, a.PROVIDER_GEMINI, only_openai).provider == a.PROVIDER_GEMINI


def test_a_boto3_bedrock_client_behind_the_gateway_is_named_by_its_own_sdk_entry() -> None:
    from bedrock_clients import bedrock_client
    from costline._providers import detect_bedrock

    client = bedrock_client(f"{GATEWAY}/bedrock", region="eu-central-1")
    overrides = parse_overrides("openai@llm-gateway.corp=openai, boto3@llm-gateway.corp=company_gateway")
    endpoint = detect_bedrock(client.meta, a.PROVIDER_AWS_BEDROCK, overrides)
    assert (endpoint.provider, endpoint.region) == ("company_gateway", "eu-central-1")
    only_openai = parse_overrides("openai@llm-gateway.corp=openai")
    assert detect_bedrock(client.meta, a.PROVIDER_AWS_BEDROCK, only_openai).provider == a.PROVIDER_AWS_BEDROCK
