"""Normalisation of hand-built OTLP spans from every source into one inclusive usage model.

Attribute sets mirror what each instrumentation writes (read from their sources); test_peer_spans.py proves
the same mappings with spans produced by the real packages.
"""

from __future__ import annotations

import pytest
from _normalize_spans import START_NS, Value, normalize, normalized

from costline import attributes as attr
from costline_processor.model import Usage


def test_costline_span_with_1h_cache_tier_batch_and_attribution() -> None:
    result = normalized(
        {
            attr.GEN_AI_PROVIDER_NAME: "anthropic",
            attr.GEN_AI_OPERATION_NAME: "chat",
            attr.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            attr.GEN_AI_RESPONSE_MODEL: "claude-sonnet-4-5-20250929",
            attr.GEN_AI_RESPONSE_ID: "msg_01",
            attr.GEN_AI_USAGE_INPUT_TOKENS: 1_000,
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: 200,
            attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 300,
            attr.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 400,
            attr.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS: 100,
            attr.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 50,
            attr.LLM_USAGE_ESTIMATED: True,
            attr.LLM_SERVICE_TIER: "priority",
            attr.WORKFLOW_ID: "customer_support",
            attr.TENANT_ID: "acme",
            attr.USER_ID: "u-42",
        },
        scope=attr.INSTRUMENTATION_SCOPE,
    )
    assert result.source == "costline"
    assert result.usage == Usage(1_000, 200, 300, 400, 100, 50)
    assert result.usage_error is None
    assert (result.provider, result.operation) == ("anthropic", "chat")
    assert (result.request_model, result.response_model, result.model) == (
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5-20250929",
    )
    assert result.response_id == "msg_01"
    assert result.estimated
    assert result.service_tier == "priority"
    assert not result.batch
    assert result.attribution == {"workflow_id": "customer_support", "tenant_id": "acme", "user_id": "u-42"}
    assert (result.service_name, result.service_instance_id) == ("support-bot", "pod-7")
    assert (result.trace_id, result.span_id, result.start_time_ns) == (b"\x0a" * 16, b"\x0b" * 8, START_NS)


def test_costline_batch_flag() -> None:
    result = normalized(
        {
            attr.GEN_AI_PROVIDER_NAME: "openai",
            attr.GEN_AI_OPERATION_NAME: "chat",
            attr.GEN_AI_REQUEST_MODEL: "gpt-4o",
            attr.GEN_AI_USAGE_INPUT_TOKENS: 10,
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: 1,
            attr.LLM_REQUEST_BATCH: True,
        },
        scope=attr.INSTRUMENTATION_SCOPE,
    )
    assert result.batch


ANTHROPIC_SDK = "com.anthropic.sdk.python"


def test_anthropic_sdk_native_span_inclusive_with_5m_and_1h_writes() -> None:
    result = normalized(
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.response.model": "claude-sonnet-4-5-20250929",
            # the SDK adds the cache tokens back: input is inclusive
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.cache_read.input_tokens": 300,
            "gen_ai.usage.cache_write.input_tokens": 400,
            "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 250,
            "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 150,
            "gen_ai.usage.output_tokens": 80,
            "anthropic.response.service_tier": "standard",
        },
        scope=ANTHROPIC_SDK,
        name="anthropic.messages.create",
    )
    assert result.source == "anthropic_sdk"
    assert result.usage == Usage(1_000, 80, 300, 400, 150, 0)
    assert result.service_tier == "default"


def test_anthropic_sdk_write_total_from_ttl_parts_when_absent() -> None:
    result = normalized(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-haiku-4-5",
            "gen_ai.usage.input_tokens": 500,
            "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 20,
            "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 30,
            "gen_ai.usage.output_tokens": 5,
        },
        scope=ANTHROPIC_SDK,
        name="anthropic.messages.create",
    )
    assert result.usage == Usage(500, 5, 0, 50, 30, 0)
    assert result.provider == "anthropic"  # from the scope: the span itself names none


@pytest.mark.parametrize("name", ["anthropic.messages.count_tokens", "anthropic.sessions.create"])
def test_anthropic_sdk_spans_that_are_not_billed_messages(name: str) -> None:
    assert (
        normalize(
            {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-x"}, ANTHROPIC_SDK, name
        )
        is None
    )


def test_official_otel_genai_deprecated_names() -> None:
    result = normalized(
        {
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.prompt_tokens": 900,
            "gen_ai.usage.completion_tokens": 100,
            "gen_ai.openai.response.service_tier": "flex",
        },
        scope="opentelemetry.instrumentation.openai_v2",
    )
    assert result.source == "otel_genai"
    assert result.usage == Usage(900, 100)
    assert (result.provider, result.service_tier) == ("openai", "flex")


def test_official_otel_genai_anthropic_cache_creation_name() -> None:
    result = normalized(
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.cache_read.input_tokens": 300,
            "gen_ai.usage.cache_creation.input_tokens": 400,
            "gen_ai.usage.output_tokens": 10,
        },
        scope="opentelemetry.instrumentation.genai.anthropic",
    )
    assert result.usage == Usage(1_000, 10, 300, 400)


def test_openllmetry_anthropic_exclusive_input_is_made_inclusive() -> None:
    # older OpenLLMetry wrote Anthropic's own (exclusive) input_tokens and the underscore cache names
    result = normalized(
        {
            "gen_ai.system": "Anthropic",
            "llm.request.type": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.prompt_tokens": 300,
            "gen_ai.usage.cache_read_input_tokens": 500,
            "gen_ai.usage.cache_creation_input_tokens": 200,
            "gen_ai.usage.completion_tokens": 40,
            "llm.usage.total_tokens": 340,
        },
        scope="opentelemetry.instrumentation.anthropic",
    )
    assert result.source == "openllmetry"
    assert result.usage == Usage(1_000, 40, 500, 200)
    assert result.operation == "chat"


def test_openllmetry_openai_reasoning_tokens() -> None:
    result = normalized(
        {
            "gen_ai.system": "openai",
            "llm.request.type": "chat",
            "gen_ai.request.model": "gpt-5",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.cache_read.input_tokens": 60,
            "gen_ai.usage.output_tokens": 90,
            "gen_ai.usage.reasoning_tokens": 70,
        },
        scope="opentelemetry.instrumentation.openai.v1",
    )
    assert result.usage == Usage(100, 90, 60, 0, 0, 70)


def test_openinference_llm_span() -> None:
    result = normalized(
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "anthropic",
            "llm.system": "anthropic",
            "llm.model_name": "claude-sonnet-4-5-20250929",
            "llm.token_count.prompt": 1_000,
            "llm.token_count.prompt_details.cache_read": 300,
            "llm.token_count.prompt_details.cache_write": 400,
            "llm.token_count.completion": 60,
            "llm.token_count.completion_details.reasoning": 20,
            "llm.token_count.total": 1_060,
        },
        scope="openinference.instrumentation.anthropic",
        name="Messages",
    )
    assert result.source == "openinference"
    assert result.usage == Usage(1_000, 60, 300, 400, 0, 20)
    assert (result.provider, result.response_model, result.operation) == (
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "chat",
    )


@pytest.mark.parametrize("kind", ["CHAIN", "TOOL", "AGENT", "RETRIEVER"])
def test_openinference_non_llm_spans_are_not_calls(kind: str) -> None:
    values: dict[str, Value] = {
        "openinference.span.kind": kind,
        "llm.model_name": "gpt-4o",
        "llm.token_count.prompt": 10,
    }
    assert normalize(values, scope="openinference.instrumentation.openai") is None


def test_openlit_anthropic_input_is_exclusive_even_when_larger_than_cache() -> None:
    result = normalized(
        {
            "gen_ai.system": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 700,  # Anthropic's exclusive count, as OpenLIT records it
            "gen_ai.usage.cache_read.input_tokens": 200,
            "gen_ai.usage.cache_creation.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
        },
        scope="openlit.otel.tracing",
    )
    assert result.source == "openlit"
    assert result.usage == Usage(1_000, 10, 200, 100)


def test_openlit_openai_input_is_inclusive() -> None:
    result = normalized(
        {
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 700,
            "gen_ai.usage.cache_read.input_tokens": 200,
            "gen_ai.usage.output_tokens": 10,
        },
        scope="openlit.otel.tracing",
    )
    assert result.usage == Usage(700, 10, 200)


def test_provider_from_server_address_then_unknown() -> None:
    base: dict[str, Value] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "m",
        "gen_ai.usage.input_tokens": 1,
        "gen_ai.usage.output_tokens": 1,
    }
    assert normalized({**base, "server.address": "my-res.openai.azure.com"}).provider == "azure.ai.openai"
    assert normalized(base).provider == "unknown"
    assert normalized({**base, "gen_ai.provider.name": "AWS.Bedrock"}).provider == "aws.bedrock"
    assert normalized({**base, "gen_ai.provider.name": "ollama"}).provider == "ollama"


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"http.request.method": "POST", "url.full": "https://api.openai.com/v1/chat"}, "POST"),
        (
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 9,
            },
            "invoke_agent support",
        ),
        ({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}, "execute_tool search"),
        ({attr.LLM_OUTCOME_NAME: "ticket_resolved", attr.WORKFLOW_ID: "support"}, attr.OUTCOME_SPAN_NAME),
        ({"gen_ai.request.model": "gpt-4o"}, "a span with a model but no usage or operation"),
    ],
)
def test_spans_that_are_not_llm_calls(values: dict[str, Value], name: str) -> None:
    assert normalize(values, name=name) is None
