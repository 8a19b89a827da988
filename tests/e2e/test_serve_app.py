"""The whole path with real parts: an app under `opentelemetry-instrument` calls the real `anthropic` client
(against the fake provider), exports OTLP/gRPC to `costline serve`, which forwards to a gRPC "Tempo".

The app also turns on the official OTel GenAI anthropic instrumentation, so each call is traced twice
(costline's span and the peer's): two GenAI spans, one trace, one response id. Each call must be counted
once. Expected cost by hand from Anthropic's list
price for claude-sonnet-4-0, USD per million tokens: input 3, cache read 0.30, cache write (5 min) 3.75,
output 15.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from instrumented_app import run_app
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline._config import ENV_PROVIDER_OVERRIDES
from costline_processor import metric_names as names
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

USAGE = MockUsage(input_tokens=10_000, output_tokens=500, cache_read_tokens=6_000, cache_write_tokens=2_000)
M = Decimal(1_000_000)
COST = (2_000 * Decimal(3) + 6_000 * Decimal("0.30") + 2_000 * Decimal("3.75") + 500 * Decimal(15)) / M

APP = textwrap.dedent(
    """
    import sys

    import anthropic
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor

    import costline

    AnthropicInstrumentor().instrument()  # the official OTel GenAI instrumentation, on top of costline's

    client = anthropic.Anthropic(base_url=sys.argv[1], api_key="test", max_retries=0)
    with costline.workflow("support", tenant_id="acme"):
        for _ in range(3):
            client.messages.create(
                model="claude-sonnet-4-0", max_tokens=600, messages=[{"role": "user", "content": "hi"}]
            )
        costline.record_outcome("ticket_resolved")
    """
)


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def test_sdk_span_and_instrumentation_span_of_one_call_are_counted_once(
    tmp_path: Path, tempo: GrpcTraceCapture, mock_provider: MockProvider
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        env = {ENV_PROVIDER_OVERRIDES: "127.0.0.1=anthropic"}
        run_app(tmp_path, APP, serve.grpc_target, [mock_provider.anthropic_base_url], env)
        samples = serve.metrics()
    assert total(samples, names.PROM_REQUESTS_TOTAL, workflow_id="support", tenant_id="acme") == 3
    assert total(samples, names.PROM_COST_USD_TOTAL, workflow_id="support") == pytest.approx(
        float(3 * COST), rel=1e-12
    )
    assert total(samples, names.PROM_TOKENS_TOTAL, token_type="cache_write") == 3 * 2_000
    assert total(samples, names.PROM_WORKFLOW_OUTCOMES_TOTAL, outcome="ticket_resolved") == 1

    genai = [s for s in tempo.spans if attr.GEN_AI_RESPONSE_ID in s.attributes]
    assert len(genai) == 6, sorted(s.scope_name for s in genai)  # two spans per call
    assert len({s.scope_name for s in genai}) == 2
    for response_id in {s.attributes[attr.GEN_AI_RESPONSE_ID] for s in genai}:
        pair = [s for s in genai if s.attributes[attr.GEN_AI_RESPONSE_ID] == response_id]
        (priced,) = [s for s in pair if attr.LLM_COST_USD in s.attributes]
        (duplicate,) = [s for s in pair if attr.LLM_COST_DUPLICATE_OF in s.attributes]
        assert priced.attributes[attr.LLM_COST_USD] == pytest.approx(float(COST), rel=1e-12)
        assert duplicate.attributes[attr.LLM_COST_DUPLICATE_OF] == priced.span_id
