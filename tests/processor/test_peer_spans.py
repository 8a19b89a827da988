"""Spans from the REAL peer instrumentations, normalised: the usage must equal what the provider reported.

Each peer family runs in its own subprocess (instrumentors patch SDK classes process-wide, so different
families must not meet): it instruments the real `openai` and `anthropic` clients, calls the local fake
provider once plainly and once streaming with each, and prints the spans as an OTLP
`ExportTraceServiceRequest` (the exporter's own encoder). The anthropic 2.x SDK also traces itself whenever a
tracer provider is set, so every Anthropic run carries its native span too.

By hand: `python tests/processor/test_peer_spans.py FAMILY OPENAI_URL ANTHROPIC_URL USAGES_JSON`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from costline_processor.mock_provider import USAGE_HEADER, MockProvider, MockUsage
from costline_processor.model import Cost, LlmCall, Usage
from costline_processor.normalize import normalize_span
from costline_processor.pricing import Pricer

OPENAI_PEERS = ("costline_openai", "otel_genai_openai", "openllmetry_openai", "openinference_openai")
ANTHROPIC_PEERS = (
    "costline_anthropic",
    "otel_genai_anthropic",
    "openllmetry_anthropic",
    "openinference_anthropic",
    "anthropic_sdk",
)
ROOT = Path(__file__).resolve().parents[2]
PARALLEL = 2

# Inclusive usage the fake provider reports (converted to each wire format: Anthropic's input is exclusive).
OPENAI_USAGE = MockUsage(input_tokens=1_200, output_tokens=300, cache_read_tokens=500, reasoning_tokens=120)
ANTHROPIC_USAGE = MockUsage(
    input_tokens=2_000,
    output_tokens=250,
    cache_read_tokens=900,
    cache_write_tokens=600,
    cache_write_1h_tokens=200,
    reasoning_tokens=100,
)


def reported(mock: MockUsage, **gaps: int) -> Usage:
    """`mock` as a normalised Usage, with the fields a peer does not report (correctly) set to `gaps`."""
    fields = {
        "input_tokens": mock.input_tokens,
        "output_tokens": mock.output_tokens,
        "cache_read_tokens": mock.cache_read_tokens,
        "cache_write_tokens": mock.cache_write_tokens,
        "cache_write_1h_tokens": mock.cache_write_1h_tokens,
        "reasoning_tokens": mock.reasoning_tokens,
    }
    return Usage(**{**fields, **gaps})


# (peer, streamed) -> the usage its span carries. Equal to what the provider reported, inclusive, except for
# the peers' own documented gaps, pinned here so a fix (or a regression) in a peer shows up:
# - no peer but the anthropic SDK records the 1-hour share of Anthropic cache writes (they are priced at the
#   5-minute rate from those spans; costline's own and the SDK's spans carry it);
# - OpenLLMetry drops OpenAI reasoning tokens on streams and Anthropic thinking tokens always (harmless to
#   cost: reasoning is inside output), and counts message_start's placeholder output token on Anthropic
#   streams (one token too many).
EXPECTED_USAGE = {
    ("costline_openai", False): reported(OPENAI_USAGE),
    ("costline_openai", True): reported(OPENAI_USAGE),
    ("costline_anthropic", False): reported(ANTHROPIC_USAGE),
    ("costline_anthropic", True): reported(ANTHROPIC_USAGE),
    ("otel_genai_openai", False): reported(OPENAI_USAGE),
    ("otel_genai_openai", True): reported(OPENAI_USAGE),
    ("openllmetry_openai", False): reported(OPENAI_USAGE),
    ("openllmetry_openai", True): reported(OPENAI_USAGE, reasoning_tokens=0),
    ("openinference_openai", False): reported(OPENAI_USAGE),
    ("openinference_openai", True): reported(OPENAI_USAGE),
    ("anthropic_sdk", False): reported(ANTHROPIC_USAGE),
    ("anthropic_sdk", True): reported(ANTHROPIC_USAGE),
    ("otel_genai_anthropic", False): reported(ANTHROPIC_USAGE, cache_write_1h_tokens=0),
    ("otel_genai_anthropic", True): reported(ANTHROPIC_USAGE, cache_write_1h_tokens=0),
    ("openllmetry_anthropic", False): reported(ANTHROPIC_USAGE, cache_write_1h_tokens=0, reasoning_tokens=0),
    ("openllmetry_anthropic", True): reported(
        ANTHROPIC_USAGE,
        cache_write_1h_tokens=0,
        reasoning_tokens=0,
        output_tokens=ANTHROPIC_USAGE.output_tokens + 1,
    ),
    ("openinference_anthropic", False): reported(ANTHROPIC_USAGE, cache_write_1h_tokens=0),
    ("openinference_anthropic", True): reported(ANTHROPIC_USAGE, cache_write_1h_tokens=0),
}


# Peers of one family instrument different SDKs, so they share a subprocess (the imports are the cost).
FAMILIES = {
    "costline": ("costline_openai", "costline_anthropic"),
    # the anthropic SDK's own spans: those it emits next to the official instrumentation's
    "otel_genai": ("otel_genai_openai", "otel_genai_anthropic", "anthropic_sdk"),
    "openllmetry": ("openllmetry_openai", "openllmetry_anthropic"),
    "openinference": ("openinference_openai", "openinference_anthropic"),
}


def start_family(family: str, provider: MockProvider) -> subprocess.Popen[bytes]:
    """Start one family's peers in a subprocess against `provider`; it prints its spans as OTLP."""
    usages = json.dumps({"openai": asdict(OPENAI_USAGE), "anthropic": asdict(ANTHROPIC_USAGE)})
    env = {
        **os.environ,
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", None)
    command = [
        sys.executable,
        __file__,
        family,
        provider.openai_base_url,
        provider.anthropic_base_url,
        usages,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)


def collect(process: subprocess.Popen[bytes]) -> list[LlmCall]:
    """The family's spans, normalised (spans that are not LLM calls dropped)."""
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr.decode()[-3000:]
    request = ExportTraceServiceRequest.FromString(stdout)
    calls = []
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                call = normalize_span(span, resource_spans.resource, scope_spans.scope)
                if call is not None:
                    calls.append(call)
    return calls


@pytest.fixture(scope="module")
def peer_calls() -> dict[str, list[LlmCall]]:
    """Every peer's normalised calls (openai peers: the gpt calls, anthropic peers: the claude calls).

    Families run two at a time against one fake provider; each request carries its usage in the provider's
    per-request usage header.
    """
    by_peer: dict[str, list[LlmCall]] = {}
    names = list(FAMILIES)
    with MockProvider() as provider:
        for offset in range(0, len(names), PARALLEL):
            running = {family: start_family(family, provider) for family in names[offset : offset + PARALLEL]}
            for family, process in running.items():
                calls = collect(process)
                for peer in FAMILIES[family]:
                    wanted = "claude" if peer in ANTHROPIC_PEERS else "gpt"
                    by_peer[peer] = [call for call in calls if wanted in (call.model or "")]
                    if peer == "anthropic_sdk":
                        by_peer[peer] = [call for call in calls if call.source == "anthropic_sdk"]
    return by_peer


EXPECTED_SOURCE = {
    "costline_openai": "costline",
    "costline_anthropic": "costline",
    "anthropic_sdk": "anthropic_sdk",
    "otel_genai_openai": "otel_genai",
    "openllmetry_openai": "openllmetry",
    "openinference_openai": "openinference",
    "otel_genai_anthropic": "otel_genai",
    "openllmetry_anthropic": "openllmetry",
    "openinference_anthropic": "openinference",
}


PRICER = Pricer.load()
M = Decimal(1_000_000)


def _total(call: LlmCall) -> Decimal:
    cost = PRICER.price(call)
    assert isinstance(cost, Cost), cost
    return cost.total


def by_source(calls: list[LlmCall], source: str) -> list[LlmCall]:
    """The calls of one source, plain call first, then the streamed one."""
    return sorted((call for call in calls if call.source == source), key=lambda call: call.start_time_ns)


@pytest.mark.parametrize("peer", OPENAI_PEERS)
def test_openai_peers(peer: str, peer_calls: dict[str, list[LlmCall]]) -> None:
    calls = peer_calls[peer]
    assert len(calls) == 2, calls
    plain, streamed = by_source(calls, EXPECTED_SOURCE[peer])
    assert plain.usage == EXPECTED_USAGE[peer, False]
    assert streamed.usage == EXPECTED_USAGE[peer, True]
    for call in calls:
        assert call.usage_error is None
        # costline names an OpenAI-compatible server by what it is: the fake provider is not api.openai.com
        provider = "openai_compatible" if peer == "costline_openai" else "openai"
        assert (call.provider, call.model, call.operation) == (provider, "gpt-4o-mini", "chat")
        assert call.attribution == {"workflow_id": "peer_test"}
        assert call.service_name == "peer-app"


@pytest.mark.parametrize("peer", ANTHROPIC_PEERS)
def test_anthropic_peers_and_the_sdks_own_span(peer: str, peer_calls: dict[str, list[LlmCall]]) -> None:
    calls = peer_calls[peer]
    # The SDK traces every messages.create itself, next to whatever peer is installed; costline's own
    # instrumentation turns that native span off (one call, one costline-side span).
    native = by_source(calls, "anthropic_sdk")
    if peer == "costline_anthropic":
        assert native == []
    else:
        sdk_usage = [EXPECTED_USAGE["anthropic_sdk", False], EXPECTED_USAGE["anthropic_sdk", True]]
        assert [call.usage for call in native] == sdk_usage
    others = [call for call in calls if call.source != "anthropic_sdk"]
    if peer != "anthropic_sdk":
        plain, streamed = by_source(calls, EXPECTED_SOURCE[peer])
        assert plain.usage == EXPECTED_USAGE[peer, False]
        assert streamed.usage == EXPECTED_USAGE[peer, True]
    assert len(calls) == (4 if native and others else 2), calls
    for call in calls:
        assert call.usage_error is None
        assert (call.provider, call.model, call.operation) == ("anthropic", "claude-sonnet-4-5", "chat")
        assert call.attribution == {"workflow_id": "peer_test"}
    # priced end to end. Claude Sonnet 4.5 list prices (anthropic.com/pricing): $3/M input, $0.30/M cache
    # read, $3.75/M 5-minute and $6/M 1-hour cache write, $15/M output (thinking tokens are output tokens).
    uncached, read, output = 500 * Decimal(3), 900 * Decimal("0.30"), 250 * Decimal(15)
    for call in native:
        assert _total(call) == (uncached + read + 400 * Decimal("3.75") + 200 * Decimal(6) + output) / M
    for call in by_source(calls, "costline"):
        assert _total(call) == (uncached + read + 400 * Decimal("3.75") + 200 * Decimal(6) + output) / M
    for call in (c for c in others if c.source != "costline"):  # no 1h share: all writes at the 5-minute rate
        extra = (
            Decimal(15) if call.source == "openllmetry" and call is by_source(calls, call.source)[1] else 0
        )
        assert _total(call) == (uncached + read + 600 * Decimal("3.75") + output + extra) / M
    # one call seen twice has one response id (when the peer records it): what the processor dedupes on
    if native:
        peer_ids = {call.response_id for call in others if call.response_id is not None}
        assert peer_ids <= {call.response_id for call in native}


# ----------------------------------------------------------------------------------------------------------
# The subprocess side: instrument one peer, make two real SDK calls, print the encoded spans.


def _instrument(family: str) -> None:
    if family == "costline":
        from costline.instrumentor import CostlineInstrumentor

        CostlineInstrumentor().instrument()
    elif family == "otel_genai":
        from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
        AnthropicInstrumentor().instrument()
    elif family == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor as TraceloopAnthropic
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as TraceloopOpenAI

        TraceloopOpenAI().instrument()
        TraceloopAnthropic().instrument()
    elif family == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor as OIAnthropic
        from openinference.instrumentation.openai import OpenAIInstrumentor as OIOpenAI

        OIOpenAI().instrument()
        OIAnthropic().instrument()


def _call_anthropic(base_url: str, headers: dict[str, str]) -> None:
    import anthropic
    from anthropic.types import MessageParam

    question: list[MessageParam] = [{"role": "user", "content": "hello"}]
    client = anthropic.Anthropic(base_url=base_url, api_key="test", max_retries=0, default_headers=headers)
    client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=question)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=question) as stream:
        stream.get_final_message()


def _call_openai(base_url: str, headers: dict[str, str]) -> None:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
    client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0, default_headers=headers)
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    chunks = client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    for _ in chunks:
        pass


def _worker(family: str, openai_url: str, anthropic_url: str, usages_json: str) -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import costline
    from costline.span_processor import AttributionSpanProcessor

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "peer-app"}))
    # costline's processor copies the workflow baggage onto the peers' spans, as in a real deployment
    provider.add_span_processor(AttributionSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument(family)
    usages = json.loads(usages_json)
    with costline.workflow("peer_test"):
        _call_openai(openai_url, {USAGE_HEADER: json.dumps(usages["openai"])})
        _call_anthropic(anthropic_url, {USAGE_HEADER: json.dumps(usages["anthropic"])})
    provider.force_flush()
    sys.stdout.buffer.write(encode_spans(exporter.get_finished_spans()).SerializeToString())


if __name__ == "__main__":
    _worker(*sys.argv[1:5])
