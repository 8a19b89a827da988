"""A server that repeats response ids: every call of one trace is still counted, each exactly once.

Ollama's OpenAI-compatible API answers `chatcmpl-<random 0..998>`; gateways send constant ids. Here the fake
provider answers every call with `chatcmpl-7`. The app (under `opentelemetry-instrument`, the real `openai`
client) makes two gpt-4o calls in one trace, of 1,000 and 50,000 input tokens, and turns on the official
OTel GenAI instrumentation on top of costline's: four GenAI spans with one response id, two calls. By hand,
at gpt-4o's list price ($2.50 / $10 per million input / output tokens): $0.0035 and $0.126.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from instrumented_app import run_instrumented
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline._config import ENV_PROVIDER_OVERRIDES
from costline_processor import metric_names as names
from costline_processor.mock_provider import MockBehaviour, MockProvider
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

M = Decimal(1_000_000)
COSTS = {1_000: (1_000 * Decimal("2.50") + 100 * 10) / M, 50_000: (50_000 * Decimal("2.50") + 100 * 10) / M}

APP = textwrap.dedent(
    """
    import json
    import sys

    import openai
    from opentelemetry import trace
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

    import costline
    from costline_processor.mock_provider import USAGE_HEADER

    OpenAIInstrumentor().instrument()  # the official OTel GenAI instrumentation, on top of costline's

    client = openai.OpenAI(base_url=sys.argv[1], api_key="test", max_retries=0)
    with costline.workflow("support"), trace.get_tracer("app").start_as_current_span("handle ticket"):
        for input_tokens in (1_000, 50_000):
            usage = json.dumps({"input_tokens": input_tokens, "output_tokens": 100})
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={USAGE_HEADER: usage},
            )
    """
)


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def test_two_calls_with_one_response_id_are_two_calls_and_each_is_counted_once(
    tmp_path: Path, tempo: GrpcTraceCapture, mock_provider: MockProvider
) -> None:
    mock_provider.default = MockBehaviour(response_id="chatcmpl-7")
    env = {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        ENV_PROVIDER_OVERRIDES: "127.0.0.1=openai",
    }
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        run_instrumented(tmp_path, APP, [mock_provider.openai_base_url], serve.grpc_target, **env)
        samples = serve.metrics()

    assert total(samples, names.PROM_REQUESTS_TOTAL, workflow_id="support") == 2
    assert total(samples, names.PROM_TOKENS_TOTAL, token_type="input") == 51_000
    assert total(samples, names.PROM_COST_USD_TOTAL) == pytest.approx(float(sum(COSTS.values())), rel=1e-12)
    assert total(samples, names.SELF_RESPONSE_ID_COLLISIONS) == 1
    assert total(samples, names.SELF_DUPLICATES_IGNORED, kind="duplicate_call") == 2

    genai = [s for s in tempo.spans if attr.GEN_AI_PROVIDER_NAME in s.attributes]
    assert len(genai) == 4, sorted(s.scope_name for s in genai)
    assert {s.attributes[attr.GEN_AI_RESPONSE_ID] for s in genai} == {"chatcmpl-7"}
    priced = {s.span_id: s for s in genai if attr.LLM_COST_USD in s.attributes}
    by_input = {s.attributes[attr.GEN_AI_USAGE_INPUT_TOKENS]: s for s in priced.values()}
    assert {tokens: s.attributes[attr.LLM_COST_USD] for tokens, s in by_input.items()} == pytest.approx(
        {tokens: float(cost) for tokens, cost in COSTS.items()}, rel=1e-12
    )
    for duplicate in (s for s in genai if s.span_id not in priced):
        canonical = priced[str(duplicate.attributes[attr.LLM_COST_DUPLICATE_OF])]
        same_usage = attr.GEN_AI_USAGE_INPUT_TOKENS
        assert duplicate.attributes[same_usage] == canonical.attributes[same_usage]
