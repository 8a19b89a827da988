"""Bedrock spans from the REAL peer instrumentations, normalised and priced like costline's own.

Each family runs in its own subprocess (as in test_peer_spans.py): it instruments the real `boto3` client,
calls the local fake provider with converse, converse_stream, and invoke_model (and its stream) in the
Anthropic, Nova, Llama and Mistral body formats, and prints the spans as OTLP. The families: costline, the
official OpenTelemetry botocore instrumentation (its bedrock-runtime extension), OpenLLMetry's bedrock
instrumentation and OpenInference's.

By hand: `python tests/processor/test_peer_spans_bedrock.py FAMILY URL`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_peer_spans import collect

from costline import attributes as a
from costline_processor.metric_names import REASON_NO_USAGE, REASON_UNKNOWN_MODEL
from costline_processor.mock_provider import USAGE_HEADER, MockProvider, MockUsage
from costline_processor.model import Cost, LlmCall, Unpriced, Usage
from costline_processor.pricing import Pricer

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("costline", "otel_botocore", "openllmetry", "openinference")
# (call, model id, body family or None for Converse): one distinct model id per call, to tell them apart.
CALLS: tuple[tuple[str, str, str | None], ...] = (
    ("converse", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", None),
    ("converse_stream", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", None),
    ("invoke_model", "anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic"),
    ("invoke_model_with_response_stream", "us.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic"),
    ("invoke_model", "us.amazon.nova-pro-v1:0", "nova"),
    ("invoke_model", "meta.llama3-3-70b-instruct-v1:0", "llama"),
    ("invoke_model", "mistral.mistral-large-2402-v1:0", "mistral"),
)
# semconv (inclusive): 10,000 input, 4,000 of it read from the cache and 1,000 written; on the wire 5,000.
CACHED = MockUsage(input_tokens=10_000, output_tokens=600, cache_read_tokens=4_000, cache_write_tokens=1_000)
PLAIN = MockUsage(input_tokens=3_000, output_tokens=400)
TRUE_CACHED = Usage(10_000, 600, cache_read_tokens=4_000, cache_write_tokens=1_000)
TRUE_PLAIN = Usage(3_000, 400)
PRICER = Pricer.load()


def usage_for(model: str) -> MockUsage:
    return PLAIN if model.startswith(("meta.", "mistral.")) else CACHED


def start_family(family: str, provider: MockProvider) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", None)
    command = [sys.executable, __file__, family, provider.bedrock_endpoint_url]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def family_calls() -> dict[str, dict[str, list[LlmCall]]]:
    """family -> model id -> its normalised calls."""
    with MockProvider() as provider:
        calls: dict[str, list[LlmCall]] = {}
        for offset in range(0, len(FAMILIES), 2):
            running = {family: start_family(family, provider) for family in FAMILIES[offset : offset + 2]}
            calls |= {family: collect(process) for family, process in running.items()}
    by_model: dict[str, dict[str, list[LlmCall]]] = {}
    for family, found in calls.items():
        for call in found:
            by_model.setdefault(family, {}).setdefault(call.request_model or "", []).append(call)
    return by_model


M = Decimal(1_000_000)
# USD per million tokens (input, cache read, cache write, output) from the AWS Bedrock on-demand price data:
# Claude Sonnet 4.5 bills the geographic (us./eu./apac.) and in-region rate, 10 % above the global. profile's.
SONNET_REGIONAL = (Decimal("3.3"), Decimal("0.33"), Decimal("4.125"), Decimal("16.5"))
SONNET_GLOBAL = (Decimal(3), Decimal("0.3"), Decimal("3.75"), Decimal(15))
HAIKU_REGIONAL = (Decimal("1.1"), Decimal("0.11"), Decimal("1.375"), Decimal("5.5"))
NOVA_PRO = (Decimal("0.8"), Decimal("0.2"), Decimal("0.8"), Decimal("3.2"))  # no write rate: billed as input
LLAMA_3_3_70B = (Decimal("0.72"), Decimal("0.72"), Decimal("0.72"), Decimal("0.72"))
MISTRAL_LARGE = (Decimal(4), Decimal(4), Decimal(4), Decimal(12))
RATES = (
    SONNET_REGIONAL,
    SONNET_GLOBAL,
    HAIKU_REGIONAL,
    HAIKU_REGIONAL,
    NOVA_PRO,
    LLAMA_3_3_70B,
    MISTRAL_LARGE,
)
TRUE_USAGES = (TRUE_CACHED,) * 5 + (TRUE_PLAIN,) * 2
UNCACHED = Usage(5_000, 600)  # the exclusive input alone: the cache tokens dropped
# What each family's spans carry once normalised, in CALLS order. The peers' documented gaps:
# - the botocore extension drops the cache counts of InvokeModel bodies (Anthropic, Nova) and estimates
#   Mistral's counts from the text (4 and 5 tokens here: marked estimated);
# - OpenLLMetry drops the cache counts of an Anthropic InvokeModel stream and has no count for Mistral;
# - OpenInference drops the cache counts of an Anthropic InvokeModel stream (priced as plain input).
EXPECTED: dict[str, tuple[Usage | None, ...]] = {
    "costline": TRUE_USAGES,
    "otel_botocore": (TRUE_CACHED, TRUE_CACHED, UNCACHED, UNCACHED, UNCACHED, TRUE_PLAIN, Usage(4, 5)),
    "openllmetry": (TRUE_CACHED, TRUE_CACHED, TRUE_CACHED, UNCACHED, TRUE_CACHED, TRUE_PLAIN, None),
    "openinference": (TRUE_CACHED, TRUE_CACHED, TRUE_CACHED, Usage(10_000, 600), TRUE_CACHED, TRUE_PLAIN,
                      TRUE_PLAIN),
}  # fmt: skip
# OpenLLMetry records the requested model id without its first part (`us.anthropic.claude-...` becomes
# `claude-...`, `global.anthropic.claude-...` becomes `anthropic.claude-...`): both price at the regional
# rate, and `nova-pro-v1:0`, `llama3-3-70b-...` are no ids AWS lists (unpriced, counted as unknown_model).
# Anthropic bodies name their model, which is the response model.
OPENLLMETRY_MODELS = (
    "claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "nova-pro-v1:0",
    "llama3-3-70b-instruct-v1:0",
    "mistral-large-2402-v1:0",
)


def cost(usage: Usage, rates: tuple[Decimal, Decimal, Decimal, Decimal]) -> Decimal:
    """By hand: uncached input, cache reads, cache writes and output at their rates."""
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    parts = (uncached, usage.cache_read_tokens, usage.cache_write_tokens, usage.output_tokens)
    return sum((count * rate for count, rate in zip(parts, rates, strict=True)), Decimal(0)) / M


def test_hand_computed_costs_of_the_true_usage() -> None:
    assert [cost(u, r) for u, r in zip(TRUE_USAGES, RATES, strict=True)] == [
        Decimal("0.031845"),  # 5,000 x 3.3 + 4,000 x 0.33 + 1,000 x 4.125 + 600 x 16.5, per million
        Decimal("0.02895"),  # the same at the global rates: 10 % less
        Decimal("0.010615"),
        Decimal("0.010615"),
        Decimal("0.00752"),
        Decimal("0.002448"),
        Decimal("0.0168"),
    ]


def _in_order(calls: dict[str, list[LlmCall]]) -> list[LlmCall]:
    return sorted((call for found in calls.values() for call in found), key=lambda call: call.start_time_ns)


@pytest.mark.parametrize("family", FAMILIES)
def test_spans_are_normalised_to_the_inclusive_usage(
    family: str, family_calls: dict[str, dict[str, list[LlmCall]]]
) -> None:
    calls = _in_order(family_calls[family])
    assert len(calls) == len(CALLS), [call.model for call in calls]
    models = OPENLLMETRY_MODELS if family == "openllmetry" else [model for _, model, _ in CALLS]
    assert [call.model for call in calls] == list(models)
    assert [call.usage for call in calls] == list(EXPECTED[family])
    for call in calls:
        assert call.provider == a.PROVIDER_AWS_BEDROCK
        assert call.usage_error is None
        assert call.attribution == {"workflow_id": "bedrock_peer_test"}
    estimated = [call.estimated for call in calls]
    assert estimated == [False] * 6 + [family == "otel_botocore"]


@pytest.mark.parametrize("family", FAMILIES)
def test_spans_are_priced_from_the_aws_price_data(
    family: str, family_calls: dict[str, dict[str, list[LlmCall]]]
) -> None:
    rates: list[Any] = list(RATES)
    if family == "openllmetry":
        rates[1] = SONNET_REGIONAL  # the global. prefix is lost
        rates[4] = rates[5] = None  # nova-pro-v1:0, llama3-3-70b-instruct-v1:0
    for call, usage, rate in zip(_in_order(family_calls[family]), EXPECTED[family], rates, strict=True):
        priced = PRICER.price(call)
        if usage is None or rate is None:
            assert isinstance(priced, Unpriced), priced
            assert priced.reason == (REASON_NO_USAGE if usage is None else REASON_UNKNOWN_MODEL)
            continue
        assert isinstance(priced, Cost), priced
        assert priced.total == cost(usage, rate), (family, call.model)


@pytest.mark.parametrize("family", ["costline", "otel_botocore"])
def test_the_aws_request_id_identifies_the_call(
    family: str, family_calls: dict[str, dict[str, list[LlmCall]]]
) -> None:
    """Converse has no response id: both record the AWS request id, which the processor's dedupe keys on."""
    ids = [call.response_id for call in _in_order(family_calls[family])]
    assert all(id_ and id_.startswith("bedrock-mock") for id_ in ids), ids
    assert len(set(ids)) == len(ids)


# ----------------------------------------------------------------------------------------------------------
# The subprocess side: instrument one family, make real boto3 calls, print the encoded spans.


def _instrument(family: str) -> None:
    if family == "costline":
        from costline.instrumentor import CostlineInstrumentor

        CostlineInstrumentor().instrument()
    elif family == "otel_botocore":
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

        BotocoreInstrumentor().instrument()
    elif family == "openllmetry":
        from opentelemetry.instrumentation.bedrock import BedrockInstrumentor

        BedrockInstrumentor().instrument()
    elif family == "openinference":
        from openinference.instrumentation.bedrock import BedrockInstrumentor as OpenInferenceBedrock

        OpenInferenceBedrock().instrument()


def _calls(endpoint_url: str) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from bedrock_clients import MESSAGES, bedrock_client, invoke_body

    client = bedrock_client(endpoint_url)
    current: dict[str, str] = {}

    def add_usage_header(request: Any, **_: Any) -> None:
        request.headers[USAGE_HEADER] = current["usage"]

    client.meta.events.register("before-send.bedrock-runtime", add_usage_header)
    for operation, model, body_family in CALLS:
        current["usage"] = json.dumps(asdict(usage_for(model)))
        if body_family is None:
            response = getattr(client, operation)(modelId=model, messages=MESSAGES)
            if "stream" in response:
                list(response["stream"])
            continue
        response = getattr(client, operation)(modelId=model, body=invoke_body(body_family))
        body = response["body"]
        if hasattr(body, "read"):
            body.read()
        else:
            list(body)


def _worker(family: str, endpoint_url: str) -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import costline
    from costline.span_processor import AttributionSpanProcessor

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bedrock-peer-app"}))
    provider.add_span_processor(AttributionSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument(family)
    with costline.workflow("bedrock_peer_test"):
        _calls(endpoint_url)
    provider.force_flush()
    sys.stdout.buffer.write(encode_spans(exporter.get_finished_spans()).SerializeToString())


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
