"""CrewAI 1.x crews on its native OpenAI, Anthropic and Gemini providers, with a tool call and async kickoff.

Not collected in the main venv: CrewAI pins `openai<3`, so tests/test_sdk_versions.py builds a venv with
openai 2.x (the previous major, in costline's tested range) and runs this file there. CrewAI's providers call
the real SDKs (openai, anthropic, google-genai), which costline wraps: one span per billed request with the
workflow (CrewAI's Anthropic provider also counts tokens first: not a billed call, never a ledger row).
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import pytest
from framework_checks import assert_counted_once, ledger_calls, one_span_per_request
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from conftest import LEAKY_CLIENTS, require
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockToolCall, MockUsage

with warnings.catch_warnings():
    # CrewAI's lazy `crewai.rag` package refuses the attribute Python sets for its child module at import: an
    # ImportWarning of CrewAI's own, not of the code under test
    warnings.simplefilter("ignore", ImportWarning)
    crewai = require("crewai")
    crewai_tools = require("crewai.tools")

pytestmark = [
    *LEAKY_CLIENTS,
    # CrewAI's own code touches its deprecated field and pydantic's deprecated attributes on every crew
    # (pydantic's warning says just "deprecated"); not the code under test
    pytest.mark.filterwarnings("ignore:function_calling_llm is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated$:DeprecationWarning"),
]
USAGE = MockUsage(input_tokens=2_000, output_tokens=250, cache_read_tokens=900)
WORKFLOW = "support"
ANSWER = "Thought: I know it.\nFinal Answer: The refund is approved."


@pytest.fixture
def provider(mock_provider: MockProvider) -> MockProvider:
    mock_provider.default = MockBehaviour(usage=USAGE, text=ANSWER)
    return mock_provider


def llm(mock: MockProvider, maker: str) -> Any:
    if maker == "openai":
        return crewai.LLM(model="openai/gpt-4o-mini", base_url=mock.openai_base_url, api_key="test")
    if maker == "anthropic":
        return crewai.LLM(
            model="anthropic/claude-sonnet-4-5", base_url=mock.anthropic_base_url, api_key="test"
        )
    # CrewAI's Gemini provider takes no base_url: google-genai's http_options carry it
    return crewai.LLM(
        model="gemini/gemini-2.5-flash",
        api_key="test",
        client_params={"http_options": {"base_url": mock.gemini_base_url}},
    )


@crewai_tools.tool("lookup_order")
def lookup_order(order_id: str) -> str:
    """Where an order is and whether it can be refunded."""
    return f"order {order_id} was delivered yesterday and can be refunded"


def crew(model: Any, *, tools: list[Any] | None = None) -> Any:
    agent = crewai.Agent(
        role="Support agent", goal="Answer refund questions", backstory="You work in support.", llm=model,
        tools=tools or [], max_iter=3,
    )  # fmt: skip
    task = crewai.Task(
        description="Is order 42 refundable?", expected_output="Yes or no, and why.", agent=agent
    )
    return crewai.Crew(agents=[agent], tasks=[task])


@pytest.mark.parametrize("maker", ["openai", "anthropic", "gemini"])
def test_a_crew_gives_one_priced_span_per_request(
    instrumented: InMemorySpanExporter, provider: MockProvider, maker: str, tmp_path: Path
) -> None:
    with costline.workflow(WORKFLOW):
        assert "approved" in str(crew(llm(provider, maker)).kickoff())

    assert len(one_span_per_request(instrumented, provider, WORKFLOW, USAGE)) == 1
    rows = ledger_calls(list(instrumented.get_finished_spans()), tmp_path)
    assert_counted_once(rows, instrumented, WORKFLOW, USAGE)


def test_a_tool_call_and_async_kickoff(
    instrumented: InMemorySpanExporter, provider: MockProvider, tmp_path: Path
) -> None:
    provider.enqueue(
        MockBehaviour(usage=USAGE, text="", tool_calls=(MockToolCall("lookup_order", {"order_id": "42"}),)),
        MockBehaviour(usage=USAGE, text=ANSWER),
    )
    with costline.workflow(WORKFLOW):
        result = asyncio.run(crew(llm(provider, "openai"), tools=[lookup_order]).kickoff_async())

    assert "approved" in str(result)
    assert len(one_span_per_request(instrumented, provider, WORKFLOW, USAGE)) == 2
    rows = ledger_calls(list(instrumented.get_finished_spans()), tmp_path)
    assert_counted_once(rows, instrumented, WORKFLOW, USAGE)
