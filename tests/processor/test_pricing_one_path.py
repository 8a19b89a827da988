"""`costline prices show` and `costline serve` give the same answer for the same (provider, model).

The CLI is run as a user runs it (click's runner, same arguments); the spans go through the real service
(OTLP/gRPC receiver, pipeline, SQLite ledger, forwarder to a gRPC capture). Each span's cost must be its token
counts times the rates the CLI printed, and its `llm.pricing.source` the source the CLI printed; a call
the CLI cannot price must be unpriced in the service with the same reason text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_in_process import running_service

from costline import attributes as attr
from costline_processor.commands.prices import prices
from genai_spans import Call, make_spans
from otlp_grpc_capture import CapturedSpan, GrpcTraceCapture

M = Decimal(1_000_000)
INPUT, CACHE_READ, OUTPUT = 100_000, 20_000, 10_000
PRICED = [
    (attr.PROVIDER_SELF_HOSTED, "gpt-4o-mini"),
    (attr.PROVIDER_SELF_HOSTED, "gpt-4.1"),
    (attr.PROVIDER_SELF_HOSTED, "claude-sonnet-4-5-20250929"),
    (attr.PROVIDER_SELF_HOSTED, "openai/gpt-4o"),
    (attr.PROVIDER_SELF_HOSTED, "anthropic.claude-3-5-sonnet-20240620-v1:0"),
    (attr.PROVIDER_UNKNOWN, "o4-mini"),
    (attr.PROVIDER_OPENAI, "gpt-4o"),
    ("azure", "gpt-4o-mini"),  # an alias: both sides normalise it to azure.ai.openai
    (attr.PROVIDER_ANTHROPIC, "claude-haiku-4-5"),
]
UNPRICED = [
    (attr.PROVIDER_SELF_HOSTED, "llama-3.1-70b-instruct"),
    (attr.PROVIDER_SELF_HOSTED, "meta-llama/llama-3.1-70b-instruct"),
    (attr.PROVIDER_OPENAI, "no-such-model"),
]
_ROW = re.compile(r"│ (input|cache read|output) +│ \$([0-9.]+) ")
_UNPRICED = re.compile(r"Error: (.*): calls to it are counted as unpriced \(reason unknown_model\)", re.S)


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def show(provider: str, model: str, at: datetime) -> tuple[int, str]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S")
    result = CliRunner().invoke(prices, ["show", model, "--provider", provider, "--at", stamp])
    return result.exit_code, result.output


def cli_answer(provider: str, model: str, at: datetime) -> tuple[str, Decimal] | str:
    """(source, cost of the test usage at the printed rates), or the unpriced reason the CLI printed."""
    code, out = show(provider, model, at)
    if code != 0:
        match = _UNPRICED.search(out)
        assert match is not None, out
        return " ".join(match.group(1).split())  # the console wraps long lines
    source = next(line for line in out.splitlines() if line.startswith("source"))
    rates = {name: Decimal(rate) for name, rate in _ROW.findall(out)}
    cost = (
        (INPUT - CACHE_READ) * rates["input"] + CACHE_READ * rates["cache read"] + OUTPUT * rates["output"]
    ) / M
    return source.removeprefix("source").strip(), cost


def serve_answers(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> tuple[dict[str, CapturedSpan], dict[str, dict[str, object]]]:
    calls = [
        Call(provider, model, INPUT, OUTPUT, cache_read=CACHE_READ, response_id=f"r{index}")
        for index, (provider, model) in enumerate(PRICED + UNPRICED)
    ]
    with running_service(tmp_path, tempo) as service:
        exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{service.grpc.port}", insecure=True)
        assert exporter.export(make_spans(calls)) == SpanExportResult.SUCCESS
        exporter.shutdown()
        rows = {str(row["response_id"]): row for row in service.ledger.iter_calls()}
    spans = {
        str(s.attributes[attr.GEN_AI_RESPONSE_ID]): s
        for s in tempo.spans
        if s.scope_name == attr.INSTRUMENTATION_SCOPE
    }
    return spans, rows


def test_prices_show_and_the_pipeline_give_the_same_cost_and_source(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    at = datetime.now(UTC)
    spans, rows = serve_answers(tmp_path, tempo)
    assert len(spans) == len(rows) == len(PRICED) + len(UNPRICED)
    for index, (provider, model) in enumerate(PRICED):
        answer = cli_answer(provider, model, at)
        assert isinstance(answer, tuple), (provider, model, answer)
        source, cost = answer
        span, row = spans[f"r{index}"], rows[f"r{index}"]
        assert span.attributes[attr.LLM_PRICING_SOURCE] == source == row["pricing_source"], model
        assert Decimal(str(row["cost_total"])) == cost, model
        assert span.attributes[attr.LLM_COST_USD] == float(cost), model
        assert span.attributes[attr.GEN_AI_USAGE_COST] == float(cost), model  # what other trace UIs read
    for index, (provider, model) in enumerate(UNPRICED, start=len(PRICED)):
        answer = cli_answer(provider, model, at)
        assert isinstance(answer, str), (provider, model, answer)
        span, row = spans[f"r{index}"], rows[f"r{index}"]
        assert span.attributes[attr.LLM_COST_UNPRICED_DETAIL] == answer == row["unpriced_detail"], model
        assert attr.LLM_COST_USD not in span.attributes
        assert attr.GEN_AI_USAGE_COST not in span.attributes
