"""Spans from the REAL peer instrumentations, normalised: the usage must equal what the provider reported.

Each peer runs in its own subprocess (instrumentors patch SDK classes process-wide, so they must not meet):
it instruments the real `openai`/`anthropic` client, calls the local fake provider once plainly and once
streaming, and prints the spans as an OTLP `ExportTraceServiceRequest` (the exporter's own encoder). The
anthropic 2.x SDK also traces itself whenever a tracer provider is set, so every Anthropic run carries its
native span too.

Run by hand: `python tests/processor/test_peer_spans.py PEER BASE_URL` writes the request to stdout.
"""

from __future__ import annotations

import os
from decimal import Decimal
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage
from costline_processor.model import Cost, LlmCall, Usage
from costline_processor.normalize import normalize_span
from costline_processor.pricing import Pricer

OPENAI_PEERS = ("otel_genai_openai", "openllmetry_openai", "openinference_openai")
ANTHROPIC_PEERS = (
    "otel_genai_anthropic",
    "openllmetry_anthropic",
    "openinference_anthropic",
    "anthropic_sdk",
)
ROOT = Path(__file__).resolve().parents[2]

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


def run_peer(peer: str, provider: MockProvider) -> list[LlmCall]:
    """Run `peer` in a subprocess against `provider`; its spans, normalised (non-LLM spans dropped)."""
    base_url = provider.anthropic_base_url if peer in ANTHROPIC_PEERS else provider.openai_base_url
    env = {
        **os.environ,
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", None)
    done = subprocess.run(
        [sys.executable, __file__, peer, base_url],
        capture_output=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    request = ExportTraceServiceRequest.FromString(done.stdout)
    calls = []
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                call = normalize_span(span, resource_spans.resource, scope_spans.scope)
                if call is not None:
                    calls.append(call)
    return calls


@pytest.fixture
def openai_provider(mock_provider: MockProvider) -> MockProvider:
    mock_provider.default = MockBehaviour(usage=OPENAI_USAGE, service_tier="default")
    return mock_provider


@pytest.fixture
def anthropic_provider(mock_provider: MockProvider) -> MockProvider:
    mock_provider.default = MockBehaviour(usage=ANTHROPIC_USAGE)
    return mock_provider


EXPECTED_SOURCE = {
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
def test_openai_peers(peer: str, openai_provider: MockProvider) -> None:
    calls = run_peer(peer, openai_provider)
    assert len(calls) == 2, calls
    plain, streamed = by_source(calls, EXPECTED_SOURCE[peer])
    assert plain.usage == EXPECTED_USAGE[peer, False]
    assert streamed.usage == EXPECTED_USAGE[peer, True]
    for call in calls:
        assert call.usage_error is None
        assert (call.provider, call.model, call.operation) == ("openai", "gpt-4o-mini", "chat")
        assert call.attribution == {"workflow_id": "peer_test"}
        assert call.service_name == "peer-app"


@pytest.mark.parametrize("peer", ANTHROPIC_PEERS)
def test_anthropic_peers_and_the_sdks_own_span(peer: str, anthropic_provider: MockProvider) -> None:
    calls = run_peer(peer, anthropic_provider)
    # the SDK traces every messages.create itself, next to whatever peer is installed
    native = by_source(calls, "anthropic_sdk")
    assert [call.usage for call in native] == [
        EXPECTED_USAGE["anthropic_sdk", False],
        EXPECTED_USAGE["anthropic_sdk", True],
    ]
    others = [call for call in calls if call.source != "anthropic_sdk"]
    if peer != "anthropic_sdk":
        plain, streamed = by_source(calls, EXPECTED_SOURCE[peer])
        assert plain.usage == EXPECTED_USAGE[peer, False]
        assert streamed.usage == EXPECTED_USAGE[peer, True]
    assert len(native) + len(others) == len(calls) == (2 if peer == "anthropic_sdk" else 4), calls
    for call in calls:
        assert call.usage_error is None
        assert (call.provider, call.model, call.operation) == ("anthropic", "claude-sonnet-4-5", "chat")
        assert call.attribution == {"workflow_id": "peer_test"}
    # priced end to end. Claude Sonnet 4.5 list prices (anthropic.com/pricing): $3/M input, $0.30/M cache read,
    # $3.75/M 5-minute and $6/M 1-hour cache write, $15/M output (thinking tokens are output tokens).
    uncached, read, output = 500 * Decimal(3), 900 * Decimal("0.30"), 250 * Decimal(15)
    for call in native:
        assert _total(call) == (uncached + read + 400 * Decimal("3.75") + 200 * Decimal(6) + output) / M
    for call in others:  # without the 1-hour share its writes price at the 5-minute rate (see EXPECTED_USAGE)
        extra = (
            Decimal(15) if call.source == "openllmetry" and call is by_source(calls, call.source)[1] else 0
        )
        assert _total(call) == (uncached + read + 600 * Decimal("3.75") + output + extra) / M
    # one call seen twice has one response id (when the peer records it): what the processor dedupes on
    peer_ids = {call.response_id for call in others if call.response_id is not None}
    assert peer_ids <= {call.response_id for call in native}


# ----------------------------------------------------------------------------------------------------------
# The subprocess side: instrument one peer, make two real SDK calls, print the encoded spans.


def _instrument(peer: str) -> None:
    if peer == "otel_genai_openai":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif peer == "otel_genai_anthropic":
        from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument()
    elif peer == "openllmetry_openai":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as TraceloopOpenAI

        TraceloopOpenAI().instrument()
    elif peer == "openllmetry_anthropic":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor as TraceloopAnthropic

        TraceloopAnthropic().instrument()
    elif peer == "openinference_openai":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OIOpenAI

        OIOpenAI().instrument()
    elif peer == "openinference_anthropic":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor as OIAnthropic

        OIAnthropic().instrument()


def _call_provider(peer: str, base_url: str) -> None:
    if peer in ANTHROPIC_PEERS:
        import anthropic
        from anthropic.types import MessageParam

        question: list[MessageParam] = [{"role": "user", "content": "hello"}]
        anthropic_client = anthropic.Anthropic(base_url=base_url, api_key="test", max_retries=0)
        anthropic_client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=question)
        with anthropic_client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=question
        ) as stream:
            stream.get_final_message()
        return
    import openai
    from openai.types.chat import ChatCompletionMessageParam

    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
    openai_client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    chunks = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in chunks:
        pass


def _worker(peer: str, base_url: str) -> None:
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
    _instrument(peer)
    with costline.workflow("peer_test"):
        _call_provider(peer, base_url)
    provider.force_flush()
    sys.stdout.buffer.write(encode_spans(exporter.get_finished_spans()).SerializeToString())


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
