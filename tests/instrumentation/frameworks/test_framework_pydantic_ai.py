"""pydantic-ai agents (OpenAI chat and Anthropic models) with a tool call, sync and async.

pydantic-ai's own instrumentation (`Agent.instrument_all()`) emits gen_ai spans with the response id, in
costline's trace: the processor's same-call rule counts each call once. Its Anthropic model first tries a
non-streamed request that the anthropic SDK refuses before sending (a large default max_tokens), then
streams: costline records the refusal as an error span with no usage and no request behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from framework_checks import assert_counted_once, costline_spans, ledger_calls, one_span_per_request
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from conftest import LEAKY_CLIENTS, require
from costline import attributes as a
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockToolCall, MockUsage

pydantic_ai = require("pydantic_ai")
openai_models = require("pydantic_ai.models.openai")
anthropic_models = require("pydantic_ai.models.anthropic")
openai_providers = require("pydantic_ai.providers.openai")
anthropic_providers = require("pydantic_ai.providers.anthropic")

pytestmark = LEAKY_CLIENTS
USAGE = MockUsage(input_tokens=2_000, output_tokens=250, cache_read_tokens=900)
WORKFLOW = "support"


def agent_for(mock: MockProvider, provider: str) -> Any:
    if provider == "openai":
        model = openai_models.OpenAIChatModel(
            "gpt-4o-mini",
            provider=openai_providers.OpenAIProvider(base_url=mock.openai_base_url, api_key="test"),
        )
    else:
        model = anthropic_models.AnthropicModel(
            "claude-sonnet-4-5",
            provider=anthropic_providers.AnthropicProvider(base_url=mock.anthropic_base_url, api_key="test"),
        )
    agent = pydantic_ai.Agent(model, instructions="Help the customer.")

    @agent.tool_plain
    def lookup_order(order_id: str) -> str:
        """Where an order is."""
        return f"order {order_id} shipped"

    return agent


@pytest.fixture
def pydantic_ai_spans() -> Iterator[None]:
    pydantic_ai.Agent.instrument_all(True)
    try:
        yield
    finally:
        pydantic_ai.Agent.instrument_all(False)


def queue_turns(mock: MockProvider) -> None:
    mock.enqueue(
        MockBehaviour(usage=USAGE, text="", tool_calls=(MockToolCall("lookup_order", {"order_id": "42"}),)),
        MockBehaviour(usage=USAGE, text="It shipped."),
    )


def refused_before_sending(span: ReadableSpan) -> bool:
    values = span.attributes or {}
    return values.get(a.ERROR_TYPE) == "ValueError" and a.GEN_AI_USAGE_INPUT_TOKENS not in values


def run_both(mock: MockProvider, provider: str) -> None:
    queue_turns(mock)
    queue_turns(mock)
    with costline.workflow(WORKFLOW):
        assert agent_for(mock, provider).run_sync("Where is order 42?").output == "It shipped."
        assert asyncio.run(agent_for(mock, provider).run("Where is order 42?")).output == "It shipped."


@pytest.mark.usefixtures("pydantic_ai_spans")
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_agent_runs_count_once(
    provider: str, instrumented: InMemorySpanExporter, mock_provider: MockProvider, tmp_path: Path
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)
    run_both(mock_provider, provider)

    refusals = [span for span in costline_spans(instrumented) if refused_before_sending(span)]
    assert len(refusals) == (4 if provider == "anthropic" else 0)
    for span in refusals:  # the anthropic SDK's own check, before any request: not a billed call
        assert "Streaming is required" in str(span.status.description)
    exporter = InMemorySpanExporter()
    billed = [span for span in instrumented.get_finished_spans() if span not in refusals]
    exporter.export(billed)
    one_span_per_request(exporter, mock_provider, WORKFLOW, USAGE)
    theirs = [s for s in billed if s.instrumentation_scope and s.instrumentation_scope.name == "pydantic-ai"]
    assert len([s for s in theirs if a.GEN_AI_RESPONSE_ID in (s.attributes or {})]) == 4
    rows = ledger_calls(list(instrumented.get_finished_spans()), tmp_path)
    assert_counted_once([row for row in rows if row["status"] == "ok"], exporter, WORKFLOW, USAGE)
    errors = [row for row in rows if row["status"] != "ok"]
    assert {bytes(row["span_id"]).hex() for row in errors} == {  # type: ignore[arg-type]
        format(span.context.span_id, "016x") for span in refusals
    }
    assert all(row["unpriced_reason"] == "no_usage" for row in errors), errors
