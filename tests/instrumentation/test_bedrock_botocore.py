"""costline next to opentelemetry-instrumentation-botocore: one GenAI span per Bedrock call, in either order.

The official botocore instrumentation wraps the same `BaseClient._make_api_call` and its `bedrock-runtime`
extension makes a GenAI span of its own for the four model operations, whose input count is Converse's
`inputTokens`, EXCLUSIVE of the cache tokens. While costline instruments, that extension stands down for
those operations; its spans of every other AWS call stay.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from llm_harness import attrs, llm_spans
from opentelemetry import trace
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bedrock_clients import CLAUDE, MESSAGES, bedrock_client, invoke_body
from costline import attributes as a
from costline.instrumentor import CostlineInstrumentor
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

USAGE = MockUsage(input_tokens=1_000, output_tokens=80, cache_read_tokens=300, cache_write_tokens=200)
BOTOCORE_SCOPE = "opentelemetry.instrumentation.botocore"
BOTOCORE_BEDROCK_SCOPE = BOTOCORE_SCOPE + ".bedrock-runtime"  # its extension's spans


@pytest.fixture
def bedrock(mock_provider: MockProvider) -> Iterator[Any]:
    mock_provider.default = MockBehaviour(usage=USAGE)
    client = bedrock_client(mock_provider.bedrock_endpoint_url)
    yield client
    client.close()


def _all_four(client: Any) -> None:
    client.converse(modelId=CLAUDE, messages=MESSAGES)
    list(client.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"])
    client.invoke_model(modelId=CLAUDE, body=invoke_body("anthropic"))["body"].read()
    list(client.invoke_model_with_response_stream(modelId=CLAUDE, body=invoke_body("anthropic"))["body"])


def _scope(span: Any) -> str:
    return str(span.instrumentation_scope.name) if span.instrumentation_scope else ""


def _control_plane_call(provider: MockProvider) -> None:
    control_plane = boto3.client(
        "bedrock",
        region_name="us-east-1",
        endpoint_url=provider.url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with pytest.raises(ClientError):  # 404 from the fake provider: no control plane there
        control_plane.list_foundation_models()


@pytest.mark.parametrize("costline_first", [True, False])
def test_one_genai_span_per_call_in_either_order(
    otel_spans: InMemorySpanExporter, mock_provider: MockProvider, bedrock: Any, costline_first: bool
) -> None:
    provider = trace.get_tracer_provider()
    costline_instrumentor, botocore_instrumentor = CostlineInstrumentor(), BotocoreInstrumentor()
    order = [costline_instrumentor, botocore_instrumentor]
    if not costline_first:
        order.reverse()
    for instrumentor in order:
        instrumentor.instrument(tracer_provider=provider)
    try:
        _all_four(bedrock)
        _control_plane_call(mock_provider)
    finally:
        for instrumentor in reversed(order):  # opentelemetry's unwrap strips the outermost wrapper
            instrumentor.uninstrument()

    spans = llm_spans(otel_spans)
    assert len(spans) == 4
    assert {_scope(span) for span in spans} == {a.INSTRUMENTATION_SCOPE}
    for span in spans:
        assert attrs(span)[a.GEN_AI_USAGE_INPUT_TOKENS] == 1_000
    # The botocore instrumentation still traces the AWS call costline does not.
    (other,) = [span for span in otel_spans.get_finished_spans() if _scope(span) == BOTOCORE_SCOPE]
    assert other.name == "Bedrock.ListFoundationModels"


def test_without_costline_the_botocore_spans_come_back(
    otel_spans: InMemorySpanExporter, bedrock: Any
) -> None:
    provider = trace.get_tracer_provider()
    botocore_instrumentor = BotocoreInstrumentor()
    botocore_instrumentor.instrument(tracer_provider=provider)
    try:
        costline_instrumentor = CostlineInstrumentor()
        costline_instrumentor.instrument(tracer_provider=provider)
        costline_instrumentor.uninstrument()
        bedrock.converse(modelId=CLAUDE, messages=MESSAGES)
    finally:
        botocore_instrumentor.uninstrument()

    (span,) = llm_spans(otel_spans)
    assert _scope(span) == BOTOCORE_BEDROCK_SCOPE
    # Its input is Converse's exclusive inputTokens: the processor adds the cache tokens back.
    values = attrs(span)
    assert values[a.GEN_AI_USAGE_INPUT_TOKENS] == 500
    assert values[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 300
    assert values[a.AWS_REQUEST_ID]


def test_uninstrument_after_the_botocore_instrumentation_removed_itself() -> None:
    """opentelemetry's `unwrap` (the botocore instrumentation's) leaves costline's wrapper re-bound to the
    class; costline's uninstrument must still take it off, or a later instrument() would keep a stale one."""
    import botocore.client

    original = botocore.client.BaseClient.__dict__["_make_api_call"]
    costline_instrumentor, botocore_instrumentor = CostlineInstrumentor(), BotocoreInstrumentor()
    costline_instrumentor.instrument()
    botocore_instrumentor.instrument()
    botocore_instrumentor.uninstrument()
    costline_instrumentor.uninstrument()
    assert botocore.client.BaseClient.__dict__["_make_api_call"] is original
