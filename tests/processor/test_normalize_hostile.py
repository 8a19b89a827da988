"""Hostile and incomplete spans: the normaliser never raises, and unusable usage is flagged, never guessed."""

from __future__ import annotations

import pytest
from _normalize_spans import RESOURCE, Value, make_span, normalize, normalized
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from costline import attributes as attr
from costline_processor.model import Usage
from costline_processor.normalize import normalize_span

ANTHROPIC_SDK = "com.anthropic.sdk.python"


def test_genai_span_without_usage_is_no_usage_not_invalid() -> None:
    result = normalized(
        {"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "x"}
    )
    assert (result.usage, result.usage_error) == (None, None)


BASE: dict[str, Value] = {
    "gen_ai.provider.name": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 10,
}


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"gen_ai.usage.input_tokens": "100"}, "type str"),
        ({"gen_ai.usage.output_tokens": -1}, "negative"),
        ({"gen_ai.usage.input_tokens": float("nan")}, "not a whole number"),
        ({"gen_ai.usage.input_tokens": float("inf")}, "not a whole number"),
        ({"gen_ai.usage.input_tokens": 12.5}, "not a whole number"),
        ({"gen_ai.usage.input_tokens": True}, "boolean"),
        ({"gen_ai.usage.input_tokens": 10_000_001}, "exceeds"),
        ({"gen_ai.usage.input_tokens": 2**62}, "exceeds"),
        ({"gen_ai.usage.cache_read.input_tokens": 101}, "exceed the input"),
        ({"gen_ai.usage.reasoning.output_tokens": 11}, "reasoning"),
        ({"gen_ai.usage.input_tokens": ["1", "2"]}, "type list"),
    ],
)
def test_hostile_usage_becomes_usage_error(overrides: dict[str, Value], why: str) -> None:
    result = normalized({**BASE, **overrides})
    assert result.usage is None
    assert result.usage_error is not None
    assert why in result.usage_error


def test_integral_doubles_are_accepted() -> None:
    assert normalized({**BASE, "gen_ai.usage.input_tokens": 100.0}).usage == Usage(100, 10)


def test_error_type_from_attribute_or_status() -> None:
    assert normalized({**BASE, "error.type": "RateLimitError"}).error_type == "RateLimitError"
    result = normalize_span(make_span(BASE, error=True), RESOURCE, InstrumentationScope(name="x"))
    assert result is not None
    assert result.error_type == "_OTHER"
    assert normalized(BASE).error_type is None


def test_attribution_values_are_bounded_and_strings_only() -> None:
    result = normalized({**BASE, attr.WORKFLOW_ID: "w" * 1_000, attr.FEATURE_ID: 7, attr.TENANT_ID: ""})
    assert result.attribution == {}
    assert result.rejected_attribution == ((attr.WORKFLOW_ID, "processor"), (attr.FEATURE_ID, "processor"))


def test_missing_service_name() -> None:
    result = normalize_span(make_span(BASE), Resource(), InstrumentationScope())
    assert result is not None
    assert (result.service_name, result.service_instance_id) == ("unknown_service", None)


TOKEN_KEYS = [
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "llm.usage.cache_write_1h.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "anthropic.usage.cache_creation.ephemeral_1h_input_tokens",
]
hostile_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=5),
    st.lists(st.text(max_size=3), max_size=3),
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    values=st.dictionaries(st.sampled_from(TOKEN_KEYS), hostile_values, max_size=6),
    provider=st.sampled_from(["openai", "anthropic", "", "Weird Provider"]),
    scope=st.sampled_from(["", "costline", ANTHROPIC_SDK, "openlit.otel.tracing", "openinference.x"]),
)
def test_hostile_spans_never_raise_and_usage_is_always_consistent(
    values: dict[str, Value], provider: str, scope: str
) -> None:
    span_values: dict[str, Value] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        **values,
    }
    if provider:
        span_values["gen_ai.provider.name"] = provider
    result = normalize(span_values, scope=scope, name="anthropic.messages.create")
    if result is None or result.usage is None:
        return
    usage = result.usage
    assert result.usage_error is None
    assert all(isinstance(v, int) and v >= 0 for v in (usage.input_tokens, usage.output_tokens))
    assert usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
    assert usage.cache_write_1h_tokens <= usage.cache_write_tokens
    assert usage.reasoning_tokens <= usage.output_tokens


def test_model_names_are_bounded() -> None:
    result = normalized({**BASE, "gen_ai.request.model": "m" * 10_000, "gen_ai.response.model": "r" * 10_000})
    assert (result.request_model, result.response_model) == ("m" * 256, "r" * 256)


HOSTILE_VALUES = ['=HYPERLINK("http://evil")', "acme corp", "w" * 129, "tenant\n1", "ünïcode", 7, True]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_an_attribution_value_workflow_would_refuse_is_unattributed_and_reported(value: Value) -> None:
    """Defence in depth: whoever sent the span, the ledger never records what costline.workflow() refuses."""
    result = normalized({**BASE, attr.WORKFLOW_ID: "support", attr.TENANT_ID: value, attr.USER_ID: "u-1"})
    assert result.attribution == {attr.WORKFLOW_ID: "support", attr.USER_ID: "u-1"}
    assert result.rejected_attribution == ((attr.TENANT_ID, "processor"),)


def test_empty_and_absent_attribution_is_simply_unattributed() -> None:
    result = normalized({**BASE, attr.TENANT_ID: ""})
    assert (result.attribution, result.rejected_attribution) == ({}, ())


def test_keys_the_app_dropped_are_reported_once_each_and_only_known_keys() -> None:
    reported = [attr.TENANT_ID, attr.TENANT_ID, "not_a_key", attr.WORKFLOW_ID]
    result = normalized({**BASE, attr.FEATURE_ID: "chat", attr.LLM_ATTRIBUTION_REJECTED: reported})
    assert result.attribution == {attr.FEATURE_ID: "chat"}
    assert result.rejected_attribution == (
        (attr.TENANT_ID, "instrumentation"),
        (attr.WORKFLOW_ID, "instrumentation"),
    )
