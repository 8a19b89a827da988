"""What every framework test checks: one costline span per billed request, then one ledger row per call.

`one_span_per_request`: the costline LLM spans equal, in number, the billed requests the fake provider
received, each attributed to the workflow and carrying the provider-reported usage exactly.
`ledger_calls`: ALL finished spans (costline's, the framework's own, the SDKs' own), encoded as OTLP the way
an exporter sends them, through the real processor pipeline into a real SQLite ledger; the rows it stored.
Expected costs come from list prices written here (USD per million tokens), never from costline's pricing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from costline import attributes as a
from costline_processor.ledger import Ledger
from costline_processor.metrics import CostMetrics, LabelLimits, SelfTelemetry
from costline_processor.mock_provider import MockProvider, MockUsage
from costline_processor.mock_provider.routes import route
from costline_processor.pipeline import Pipeline
from costline_processor.pricing import Pricer
from genai_spans import encode_request

BILLED_ENDPOINTS = frozenset(
    {"chat", "responses", "embeddings", "completions", "messages", "generate_content", "embed_content"}
)
M = Decimal(1_000_000)


@dataclass(frozen=True)
class ListPrice:
    """USD per million tokens, from the providers' price pages (short prompts: no long-context tier)."""

    input: Decimal
    cache_read: Decimal
    output: Decimal
    cache_write: Decimal = Decimal(0)

    def cost(self, usage: MockUsage) -> Decimal:
        uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        return (
            uncached * self.input
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
            + usage.output_tokens * self.output
        ) / M


LIST_PRICES = {
    "gpt-4o-mini": ListPrice(Decimal("0.15"), Decimal("0.075"), Decimal("0.60")),
    "claude-sonnet-4-5": ListPrice(Decimal(3), Decimal("0.30"), Decimal(15), cache_write=Decimal("3.75")),
    "gemini-2.5-flash": ListPrice(Decimal("0.30"), Decimal("0.03"), Decimal("2.50")),
    "text-embedding-3-small": ListPrice(Decimal("0.02"), Decimal("0.02"), Decimal(0)),
}


def billed_requests(mock: MockProvider) -> list[str]:
    """The paths of the requests that were LLM calls (not model listings or token counts)."""
    paths = []
    for request in mock.requests:
        found = route(request.method, request.path)
        if found is not None and found.endpoint in BILLED_ENDPOINTS:
            paths.append(request.path)
    return paths


def costline_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if span.instrumentation_scope is not None
        and span.instrumentation_scope.name == a.INSTRUMENTATION_SCOPE
        and span.attributes is not None
        and a.GEN_AI_OPERATION_NAME in span.attributes
    ]


def usage_attributes(usage: MockUsage, *, embedding: bool = False) -> dict[str, int]:
    expected = {a.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens}
    if embedding:
        return expected
    expected[a.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
    if usage.cache_read_tokens:
        expected[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        expected[a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = usage.cache_write_tokens
    return expected


def one_span_per_request(
    exporter: InMemorySpanExporter, mock: MockProvider, workflow_id: str, usage: MockUsage
) -> list[ReadableSpan]:
    """costline's spans, checked: as many as billed requests, attributed, with the exact usage."""
    spans = costline_spans(exporter)
    requests = billed_requests(mock)
    assert requests, "the framework sent no LLM request"
    assert len(spans) == len(requests), ([span.name for span in spans], requests)
    for span in spans:
        values: dict[str, Any] = dict(span.attributes or {})
        assert values.get(a.WORKFLOW_ID) == workflow_id, (span.name, values)
        assert a.ERROR_TYPE not in values, (span.name, values)
        embedding = values[a.GEN_AI_OPERATION_NAME] == a.OPERATION_EMBEDDINGS
        expected = usage_attributes(usage, embedding=embedding)
        assert {key: values.get(key) for key in expected} == expected, (span.name, values)
    return spans


def ledger_calls(spans: list[ReadableSpan], tmp_path: Path) -> list[dict[str, object]]:
    """Every span through the real pipeline (normalise, price, dedupe, ledger); the calls it recorded."""
    telemetry = SelfTelemetry()
    ledger = Ledger(tmp_path / "framework-ledger.sqlite3")
    metrics = CostMetrics(
        limits=LabelLimits(max_values_per_label=100), service_instance_id="t", telemetry=telemetry
    )
    pipeline = Pipeline(
        pricer=Pricer.load(None),
        ledger=ledger,
        metrics=metrics,
        telemetry=telemetry,
        forwarder=None,
        max_inflight=2,
    )
    try:
        pipeline.export(encode_request(spans))
        return list(ledger.iter_calls())
    finally:
        ledger.close()


def assert_counted_once(
    rows: list[dict[str, object]], exporter: InMemorySpanExporter, workflow_id: str, usage: MockUsage
) -> None:
    """One ledger row per costline span (the same span ids), each priced exactly at list price."""
    ours = {format(span.context.span_id, "016x") for span in costline_spans(exporter)}
    stored = {bytes(row["span_id"]).hex() for row in rows}  # type: ignore[arg-type]
    assert stored == ours, [(row["source"], row["model"], row["response_id"]) for row in rows]
    for row in rows:
        assert row["workflow_id"] == workflow_id
        assert row["status"] == "ok", row
        model = str(row["model"])
        price = LIST_PRICES[model]
        embedding = row["operation"] == a.OPERATION_EMBEDDINGS
        expected = price.cost(
            MockUsage(input_tokens=usage.input_tokens, output_tokens=0) if embedding else usage
        )
        assert Decimal(str(row["cost_total"])) == expected, (model, row["cost_total"], expected)
