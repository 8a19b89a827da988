"""google-genai spans from the REAL peer instrumentations, normalised and priced like costline's own.

Each family runs in its own subprocess (as in test_peer_spans.py): it instruments the real `google-genai` SDK,
calls the local fake provider through a Gemini API client and a Vertex AI client (generate_content, its
stream, embed_content, count_tokens) and prints the spans as OTLP. The official OpenTelemetry instrumentation
(opentelemetry-instrumentation-google-genai 1.x) declares `google-genai<3` and instruments nothing on 3.x
unless told to skip that check, which this test does to measure its spans on the SDK users have.

By hand: `python tests/processor/test_peer_spans_gemini.py FAMILY URL USAGE_JSON`.
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
from test_peer_spans import collect

from costline import attributes as a
from costline_processor.metric_names import REASON_NO_USAGE
from costline_processor.mock_provider import USAGE_HEADER, MockProvider, MockUsage
from costline_processor.model import Cost, LlmCall, Unpriced, Usage
from costline_processor.pricing import Pricer

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("costline", "otel_genai", "openllmetry", "openinference")
MODEL = "gemini-2.5-flash"
EMBEDDING_MODEL = "gemini-embedding-001"
# On the wire: prompt 11,600 (5,000 of it cached) + 400 tool-use prompt; candidates 1,200 + thoughts 1,800;
# Google's total_token_count 15,000.
USAGE = MockUsage(
    input_tokens=12_000,
    output_tokens=3_000,
    cache_read_tokens=5_000,
    reasoning_tokens=1_800,
    tool_use_prompt_tokens=400,
)
TRUE_USAGE = Usage(12_000, 3_000, cache_read_tokens=5_000, reasoning_tokens=1_800)
# What each family's generate_content spans carry once normalised. The peers' documented gaps:
# - the official instrumentation's input is prompt_token_count alone: the 400 tool-use prompt tokens are lost;
# - OpenLLMetry copies prompt and candidates counts (thinking and tool-use tokens lost) but records Google's
#   total: the processor adds the 2,200 missing tokens to output as reasoning (400 of them were input).
EXPECTED_USAGE = {
    "costline": TRUE_USAGE,
    "otel_genai": Usage(11_600, 3_000, cache_read_tokens=5_000, reasoning_tokens=1_800),
    "openllmetry": Usage(11_600, 3_400, cache_read_tokens=5_000, reasoning_tokens=2_200),
    "openinference": TRUE_USAGE,
}
# (Gemini API, Vertex AI) provider as normalised: OpenLLMetry and OpenInference name Google for both.
EXPECTED_PROVIDERS = {
    "costline": (a.PROVIDER_GEMINI, a.PROVIDER_GCP_VERTEX_AI),
    "otel_genai": (a.PROVIDER_GEMINI, a.PROVIDER_GCP_VERTEX_AI),
    "openllmetry": (a.PROVIDER_GEMINI, a.PROVIDER_GEMINI),
    "openinference": (a.PROVIDER_GEMINI, a.PROVIDER_GEMINI),
}
# Embedding spans: OpenLLMetry makes none, OpenInference's carry no token count (unpriced: no_usage).
EMBEDDING_INPUT = {"costline": 12_000, "otel_genai": 12_000, "openinference": None}
PRICER = Pricer.load()
M = Decimal(1_000_000)


def start_family(family: str, provider: MockProvider) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", None)
    usage = json.dumps(asdict(USAGE))
    command = [sys.executable, __file__, family, provider.gemini_base_url, usage]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def family_calls() -> dict[str, list[LlmCall]]:
    with MockProvider() as provider:
        calls: dict[str, list[LlmCall]] = {}
        for offset in range(0, len(FAMILIES), 2):
            running = {family: start_family(family, provider) for family in FAMILIES[offset : offset + 2]}
            calls |= {family: collect(process) for family, process in running.items()}
    return calls


def _generate(calls: list[LlmCall]) -> list[LlmCall]:
    return sorted((c for c in calls if c.model == MODEL), key=lambda call: call.start_time_ns)


def _total(call: LlmCall) -> Decimal:
    cost = PRICER.price(call)
    assert isinstance(cost, Cost), cost
    return cost.total


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_content_spans_are_normalised_and_priced(
    family: str, family_calls: dict[str, list[LlmCall]]
) -> None:
    calls = _generate(family_calls[family])
    # Per backend: generate_content and its stream. count_tokens is no billed call: no family prices one.
    assert len(calls) == 4, calls
    gemini_api, vertex = EXPECTED_PROVIDERS[family]
    assert [call.provider for call in calls] == [gemini_api, gemini_api, vertex, vertex]
    for call in calls:
        assert call.usage == EXPECTED_USAGE[family], call.source
        assert call.usage_error is None
        assert call.operation == a.OPERATION_GENERATE_CONTENT or family == "openinference"
        assert call.attribution == {"workflow_id": "gemini_peer_test"}
    # Gemini 2.5 Flash list prices (ai.google.dev/gemini-api/docs/pricing): $0.30/M input, $0.03/M cached
    # input, $2.50/M output, thinking tokens included.
    true_cost = (7_000 * Decimal("0.30") + 5_000 * Decimal("0.03") + 3_000 * Decimal("2.50")) / M
    assert true_cost == Decimal("0.00975")
    expected = {
        "otel_genai": (6_600 * Decimal("0.30") + 5_000 * Decimal("0.03") + 3_000 * Decimal("2.50")) / M,
        "openllmetry": (6_600 * Decimal("0.30") + 5_000 * Decimal("0.03") + 3_400 * Decimal("2.50")) / M,
    }.get(family, true_cost)
    assert {_total(call) for call in calls} == {expected}


def test_openllmetry_would_be_under_priced_by_almost_half_without_the_thinking_tokens() -> None:
    """What reading candidates_token_count as the output costs: 1,200 of the 3,000 output tokens priced."""
    as_reported = (6_600 * Decimal("0.30") + 5_000 * Decimal("0.03") + 1_200 * Decimal("2.50")) / M
    assert as_reported == Decimal("0.00513")
    assert 1 - as_reported / Decimal("0.00975") > Decimal("0.47")


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "openllmetry"])
def test_embedding_spans(family: str, family_calls: dict[str, list[LlmCall]]) -> None:
    calls = [call for call in family_calls[family] if call.model == EMBEDDING_MODEL]
    assert len(calls) == 2, calls
    tokens = EMBEDDING_INPUT[family]
    for call in calls:
        assert call.operation == a.OPERATION_EMBEDDINGS
        if tokens is None:
            priced = PRICER.price(call)
            assert isinstance(priced, Unpriced)
            assert priced.reason == REASON_NO_USAGE
            continue
        assert call.usage == Usage(tokens, 0)
        assert _total(call) == tokens * Decimal("0.15") / M  # gemini-embedding-001: $0.15/M input


def test_only_llm_calls_are_kept(family_calls: dict[str, list[LlmCall]]) -> None:
    assert not family_calls["openllmetry"] or {c.model for c in family_calls["openllmetry"]} == {MODEL}
    for family, calls in family_calls.items():
        assert {call.model for call in calls} <= {MODEL, EMBEDDING_MODEL}, family


# ----------------------------------------------------------------------------------------------------------
# The subprocess side: instrument one family, make real google-genai calls, print the encoded spans.


def _instrument(family: str) -> None:
    if family == "costline":
        from costline.instrumentor import CostlineInstrumentor

        CostlineInstrumentor().instrument()
    elif family == "otel_genai":
        from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

        GoogleGenAiSdkInstrumentor().instrument(skip_dep_check=True)
    elif family == "openllmetry":
        from opentelemetry.instrumentation.google_generativeai import GoogleGenerativeAiInstrumentor

        GoogleGenerativeAiInstrumentor().instrument()
    elif family == "openinference":
        from openinference.instrumentation.google_genai import GoogleGenAIInstrumentor

        GoogleGenAIInstrumentor().instrument()


def _calls(base_url: str, usage_json: str) -> None:
    import google.auth.credentials
    from google import genai
    from google.genai import types

    class Credentials(google.auth.credentials.Credentials):  # type: ignore[misc]
        def refresh(self, request: object) -> None:
            self.token = "dummy-token"

    options = types.HttpOptions(
        base_url=base_url,
        headers={USAGE_HEADER: usage_json},
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    gemini_api = genai.Client(api_key="dummy", http_options=options)
    vertex = genai.Client(
        vertexai=True, project="p", location="us-central1", credentials=Credentials(), http_options=options
    )
    for client in (gemini_api, vertex):
        client.models.generate_content(model=MODEL, contents="hello")
        for _ in client.models.generate_content_stream(model=MODEL, contents="hello"):
            pass
        client.models.embed_content(model=EMBEDDING_MODEL, contents=["hello"])
        client.models.count_tokens(model=MODEL, contents="hello")


def _worker(family: str, base_url: str, usage_json: str) -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import costline
    from costline.span_processor import AttributionSpanProcessor

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "gemini-peer-app"}))
    provider.add_span_processor(AttributionSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument(family)
    with costline.workflow("gemini_peer_test"):
        _calls(base_url, usage_json)
    provider.force_flush()
    sys.stdout.buffer.write(encode_spans(exporter.get_finished_spans()).SerializeToString())


if __name__ == "__main__":
    _worker(*sys.argv[1:4])
