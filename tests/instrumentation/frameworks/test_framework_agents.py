"""The OpenAI Agents SDK: a run with a tool call and a handoff, on the Responses and Chat Completions models.

The SDK's own tracing (which exports to OpenAI) is off (`OPENAI_AGENTS_DISABLE_TRACING=1`, conftest). With
OpenInference's Agents instrumentation, its LLM spans are marked as mirrors and each call counts once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from framework_checks import assert_counted_once, ledger_calls, one_span_per_request
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from conftest import LEAKY_CLIENTS, require
from costline import attributes as a
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockToolCall, MockUsage

agents = require("agents")
openai = require("openai")

pytestmark = LEAKY_CLIENTS
USAGE = MockUsage(input_tokens=2_000, output_tokens=250, cache_read_tokens=900)
WORKFLOW = "support"


def lookup_order(order_id: str) -> str:
    """Where an order is."""
    return f"order {order_id} shipped"


def triage_agent(mock: MockProvider, chat: bool) -> Any:
    """A fresh client per agent: an async client belongs to the event loop of its first request."""
    client = openai.AsyncOpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)
    model_class = agents.OpenAIChatCompletionsModel if chat else agents.OpenAIResponsesModel
    model = model_class("gpt-4o-mini", client)
    billing = agents.Agent(name="billing", instructions="Answer billing questions.", model=model)
    return agents.Agent(
        name="triage",
        instructions="Route the customer.",
        tools=[agents.function_tool(lookup_order)],
        handoffs=[billing],
        model=model,
    )


def queue_turns(mock: MockProvider) -> None:
    """tool call -> handoff -> answer: three model calls per run."""
    turn = MockBehaviour(usage=USAGE, text="")
    mock.enqueue(
        MockBehaviour(usage=USAGE, text="", tool_calls=(MockToolCall("lookup_order", {"order_id": "42"}),)),
        MockBehaviour(usage=USAGE, text="", tool_calls=(MockToolCall("transfer_to_billing", {}),)),
        MockBehaviour(usage=turn.usage, text="Your refund is on its way."),
    )


@pytest.fixture
def provider(mock_provider: MockProvider) -> MockProvider:
    mock_provider.default = MockBehaviour(usage=USAGE)
    return mock_provider


@pytest.mark.parametrize("chat", [False, True], ids=["responses", "chat_completions"])
def test_run_with_tool_and_handoff(
    chat: bool, instrumented: InMemorySpanExporter, provider: MockProvider
) -> None:
    queue_turns(provider)
    queue_turns(provider)
    with costline.workflow(WORKFLOW):
        result = agents.Runner.run_sync(triage_agent(provider, chat), "Where is my refund?")
        again = asyncio.run(agents.Runner.run(triage_agent(provider, chat), "Where is my refund?"))

    for run in (result, again):
        assert run.last_agent.name == "billing"
        assert run.final_output == "Your refund is on its way."
    spans = one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
    assert len(spans) == 6
    path = "/v1/chat/completions" if chat else "/v1/responses"
    assert {request.path for request in provider.requests} == {path}


@pytest.fixture
def openinference_agents(instrumented: InMemorySpanExporter) -> Iterator[None]:
    module = require("openinference.instrumentation.openai_agents")
    instrumentor = module.OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    agents.set_tracing_disabled(False)  # OpenInference reads the SDK's traces; OpenAI's exporter stays off
    agents.set_trace_processors(_openinference_processors())
    try:
        yield
    finally:
        instrumentor.uninstrument()
        agents.set_trace_processors([])
        agents.set_tracing_disabled(True)


def _openinference_processors() -> list[Any]:
    provider = agents.tracing.get_trace_provider()
    found = getattr(getattr(provider, "_multi_processor", None), "_processors", ())
    return [p for p in found if type(p).__module__.startswith("openinference")]


@pytest.mark.usefixtures("openinference_agents")
def test_openinference_agents_spans_count_once(
    instrumented: InMemorySpanExporter, provider: MockProvider, tmp_path: Path
) -> None:
    agent = triage_agent(provider, chat=False)
    queue_turns(provider)
    with costline.workflow(WORKFLOW):
        agents.Runner.run_sync(agent, "Where is my refund?")

    one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
    marked = [
        span for span in instrumented.get_finished_spans() if a.LLM_MIRRORED_BY in (span.attributes or {})
    ]
    assert len(marked) == 3, [
        (s.instrumentation_scope and s.instrumentation_scope.name, s.name) for s in marked
    ]
    assert_counted_once(
        ledger_calls(list(instrumented.get_finished_spans()), tmp_path), instrumented, WORKFLOW, USAGE
    )
