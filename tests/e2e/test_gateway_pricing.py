"""Calls through a gateway are priced the first time, with real parts: an app under `opentelemetry-instrument`
calls the real `openai`/`anthropic` clients against the fake provider on 127.0.0.1 (a host costline does not
know, like a company gateway or a LiteLLM proxy), exports OTLP/gRPC to a `costline serve` process, which
forwards to a gRPC "Tempo". And `costline serve` says once, with the fix, when a kind of call is unpriced.

Expected costs by hand from the makers' list prices, USD per million tokens (https://openai.com/api/pricing,
https://www.anthropic.com/pricing): gpt-4o-mini input $0.15, cached input $0.075, output $0.60; gpt-4.1 input
$2, cached $0.50, output $8; claude-sonnet-4-5 input $3, 5-minute cache write $3.75, cache read $0.30,
output $15.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from instrumented_app import run_instrumented
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline._config import ENV_PROVIDER_OVERRIDES
from costline_processor import metric_names as names
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage
from costline_processor.pricing.catalog import DATA_VERSION
from genai_spans import Call, make_spans
from otlp_capture import CapturedSpan
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

M = Decimal(1_000_000)
OPENAI_USAGE = MockUsage(input_tokens=12_000, output_tokens=800, cache_read_tokens=4_000)
MINI_COST = (8_000 * Decimal("0.15") + 4_000 * Decimal("0.075") + 800 * Decimal("0.60")) / M
GPT41_COST = (8_000 * Decimal(2) + 4_000 * Decimal("0.50") + 800 * Decimal(8)) / M
CLAUDE_USAGE = MockUsage(
    input_tokens=10_000, output_tokens=500, cache_read_tokens=6_000, cache_write_tokens=2_000
)
CLAUDE_COST = (2_000 * Decimal(3) + 6_000 * Decimal("0.30") + 2_000 * Decimal("3.75") + 500 * Decimal(15)) / M
INFERRED_OPENAI = f"{DATA_VERSION} + provider openai inferred from the model name"

OPENAI_APP = textwrap.dedent(
    """
    import sys

    import openai

    import costline

    client = openai.OpenAI(base_url=sys.argv[1], api_key="test", max_retries=0)
    with costline.workflow("support"):
        for model in ("gpt-4o-mini", "gpt-4o-mini", "gpt-4.1"):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    """
)
GATEWAY_APP = textwrap.dedent(
    """
    import sys

    import anthropic
    import openai

    import costline

    # one gateway (one host and port) in front of both providers, as a company gateway or LiteLLM is
    chat = openai.OpenAI(base_url=sys.argv[1], api_key="test", max_retries=0)
    messages = anthropic.Anthropic(base_url=sys.argv[2], api_key="test", max_retries=0)
    with costline.workflow("support"):
        chat.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        messages.messages.create(
            model="claude-sonnet-4-5", max_tokens=600, messages=[{"role": "user", "content": "hi"}]
        )
    """
)


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def ledger_rows(path: Path) -> list[tuple[str, str, Decimal, str | None, str | None]]:
    """(provider, model, cost_total, pricing_source, unpriced_reason) of every call, in arrival order."""
    with sqlite3.connect(path) as db:
        query = (
            "SELECT provider, model, cost_total, pricing_source, unpriced_reason FROM calls ORDER BY time_ns"
        )
        rows = list(db.execute(query))
    return [
        (provider, model, Decimal(cost), source, reason) for provider, model, cost, source, reason in rows
    ]


def llm_spans(tempo: GrpcTraceCapture) -> list[CapturedSpan]:
    spans = [s for s in tempo.spans if s.scope_name == attr.INSTRUMENTATION_SCOPE]
    return sorted(spans, key=lambda span: span.start_time_unix_nano)


def test_the_openai_sdk_on_an_unknown_host_is_priced_at_openais_list_price(
    tmp_path: Path, tempo: GrpcTraceCapture, mock_provider: MockProvider
) -> None:
    dated = MockBehaviour(usage=OPENAI_USAGE, response_model="gpt-4o-mini-2024-07-18")  # as OpenAI answers
    mock_provider.enqueue(
        dated, dated, MockBehaviour(usage=OPENAI_USAGE, response_model="gpt-4.1-2025-04-14")
    )
    assert mock_provider.openai_base_url.startswith("http://127.0.0.1:")  # no override names this host
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        run_instrumented(tmp_path, OPENAI_APP, [mock_provider.openai_base_url], serve.grpc_target)
        samples = serve.metrics()
    expected = 2 * MINI_COST + GPT41_COST
    assert total(samples, names.PROM_COST_USD_TOTAL, provider=attr.PROVIDER_SELF_HOSTED) == pytest.approx(
        float(expected), rel=1e-12
    )
    assert total(samples, names.PROM_REQUESTS_TOTAL, workflow_id="support") == 3
    assert total(samples, names.PROM_UNPRICED_REQUESTS_TOTAL) == 0
    assert ledger_rows(serve.ledger_path) == [
        (attr.PROVIDER_SELF_HOSTED, "gpt-4o-mini-2024-07-18", MINI_COST, INFERRED_OPENAI, None),
        (attr.PROVIDER_SELF_HOSTED, "gpt-4o-mini-2024-07-18", MINI_COST, INFERRED_OPENAI, None),
        (attr.PROVIDER_SELF_HOSTED, "gpt-4.1-2025-04-14", GPT41_COST, INFERRED_OPENAI, None),
    ]
    spans = llm_spans(tempo)
    assert [s.attributes[attr.LLM_PRICING_SOURCE] for s in spans] == [INFERRED_OPENAI] * 3
    costs = [MINI_COST, MINI_COST, GPT41_COST]
    assert [s.attributes[attr.GEN_AI_USAGE_COST] for s in spans] == [float(cost) for cost in costs]
    assert "unpriced call" not in serve.log()


def test_one_gateway_fronting_both_sdks_is_priced_per_sdk(
    tmp_path: Path, tempo: GrpcTraceCapture, mock_provider: MockProvider
) -> None:
    mock_provider.enqueue(MockBehaviour(usage=OPENAI_USAGE), MockBehaviour(usage=CLAUDE_USAGE))
    host = "127.0.0.1"
    overrides = f"openai@{host}=openai,anthropic@{host}=anthropic"  # `host=openai` made Claude unpriced
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        args = [mock_provider.openai_base_url, mock_provider.anthropic_base_url]
        run_instrumented(
            tmp_path, GATEWAY_APP, args, serve.grpc_target, **{ENV_PROVIDER_OVERRIDES: overrides}
        )
        samples = serve.metrics()
    cost = names.PROM_COST_USD_TOTAL
    assert total(samples, cost, provider=attr.PROVIDER_OPENAI) == pytest.approx(float(MINI_COST), rel=1e-12)
    assert total(samples, cost, provider=attr.PROVIDER_ANTHROPIC) == pytest.approx(
        float(CLAUDE_COST), rel=1e-12
    )
    assert total(samples, names.PROM_UNPRICED_REQUESTS_TOTAL) == 0
    assert ledger_rows(serve.ledger_path) == [
        (attr.PROVIDER_OPENAI, "gpt-4o-mini", MINI_COST, DATA_VERSION, None),
        (attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", CLAUDE_COST, DATA_VERSION, None),
    ]
    assert [s.attributes[attr.GEN_AI_PROVIDER_NAME] for s in llm_spans(tempo)] == [
        attr.PROVIDER_OPENAI,
        attr.PROVIDER_ANTHROPIC,
    ]


def test_serve_logs_the_first_unpriced_call_of_each_kind_once_with_the_fix(tmp_path: Path) -> None:
    self_hosted = Call(attr.PROVIDER_SELF_HOSTED, "llama-3.1-70b-instruct", 1_000, 100)
    ambiguous = Call(attr.PROVIDER_SELF_HOSTED, "meta-llama/llama-3.1-70b-instruct", 1_000, 100)
    corrupt = Call(attr.PROVIDER_OPENAI, "gpt-4o", 10, 10, extra={attr.GEN_AI_USAGE_INPUT_TOKENS: -5})
    batches = [[self_hosted, self_hosted], [self_hosted, corrupt, ambiguous], [corrupt, self_hosted]]
    with ServeProcess(tmp_path) as serve:
        exporter = OTLPSpanExporter(endpoint=serve.grpc_target, insecure=True)
        for batch in batches:
            assert exporter.export(make_spans(batch)) == SpanExportResult.SUCCESS
        exporter.shutdown()
        samples = serve.metrics()
        log = serve.log()
    assert total(samples, names.PROM_UNPRICED_REQUESTS_TOTAL) == 7  # every call is still counted
    lines = [line for line in log.splitlines() if "unpriced call:" in line]
    assert len(lines) == 3, log  # one per (provider, model, reason)
    unknown, corrupted, candidates = lines
    assert "provider=openai_compatible model=llama-3.1-70b-instruct reason=unknown_model" in unknown
    assert "no catalogue provider lists it" in unknown
    assert f"Fix: name the provider behind the gateway in the app's {ENV_PROVIDER_OVERRIDES}" in unknown
    assert "--price-overrides" in unknown
    assert "provider=openai model=gpt-4o reason=invalid_usage" in corrupted
    assert "Fix: the sending instrumentation reports impossible token counts" in corrupted
    assert "reason=unknown_model" in candidates
    assert "listed by novita, openrouter" in candidates  # the candidates, in the log, never in a label
