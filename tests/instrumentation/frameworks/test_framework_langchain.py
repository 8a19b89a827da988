"""LangChain (`langchain-openai`, `langchain-anthropic`, `langchain-google-genai`) and a LangGraph graph.

Each chat model sends its calls through the provider's real SDK (openai, anthropic, google-genai), which
costline wraps: one span per request, attributed through LangChain's thread pool (`batch`), asyncio tasks
(`ainvoke` under `gather`) and LangGraph's parallel branches. With OpenInference's or OpenLLMetry's LangChain
instrumentation installed too, their LLM spans (in another trace; OpenInference's without a response id)
are marked as mirrors of costline's, and the processor counts each call once.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from framework_checks import assert_counted_once, costline_spans, ledger_calls, one_span_per_request
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from conftest import LEAKY_CLIENTS, require
from costline import attributes as a
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

require("langchain_core")
require("langgraph")
langchain_openai = require("langchain_openai")
langchain_anthropic = require("langchain_anthropic")
langchain_google_genai = require("langchain_google_genai")

pytestmark = LEAKY_CLIENTS
USAGE = MockUsage(input_tokens=2_000, output_tokens=250, cache_read_tokens=900)
WORKFLOW = "support"


@pytest.fixture
def provider(mock_provider: MockProvider) -> MockProvider:
    mock_provider.default = MockBehaviour(usage=USAGE, chunks=3)
    return mock_provider


def chat_models(mock: MockProvider) -> dict[str, Any]:
    return {
        "openai": langchain_openai.ChatOpenAI(
            model="gpt-4o-mini", base_url=mock.openai_base_url, api_key="test", max_retries=0
        ),
        "anthropic": langchain_anthropic.ChatAnthropic(
            model="claude-sonnet-4-5", base_url=mock.anthropic_base_url, api_key="test", max_retries=0
        ),
        "gemini": langchain_google_genai.ChatGoogleGenerativeAI(
            model="gemini-2.5-flash", google_api_key="dummy", base_url=mock.gemini_base_url, retries=0
        ),
    }


def use_every_model(models: dict[str, Any]) -> None:
    """invoke, stream and batch (a thread pool) on each model, then ainvoke on each under asyncio.gather."""
    for model in models.values():
        model.invoke("hello")
        assert "".join(str(chunk.content) for chunk in model.stream("hello"))
        model.batch(["one", "two"])

    async def concurrently() -> None:
        await asyncio.gather(*(model.ainvoke("hello") for model in models.values()))

    asyncio.run(concurrently())


def test_chat_models_give_one_span_per_request(
    instrumented: InMemorySpanExporter, provider: MockProvider
) -> None:
    models = chat_models(provider)
    with costline.workflow(WORKFLOW):
        use_every_model(models)

    spans = one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
    providers = sorted(str((span.attributes or {})[a.GEN_AI_PROVIDER_NAME]) for span in spans)
    assert providers == ["anthropic"] * 5 + ["gcp.gemini"] * 5 + ["openai_compatible"] * 5


class Review(TypedDict):
    topic: str
    notes: Annotated[list[str], operator.add]


def review_graph(models: dict[str, Any]) -> Any:
    """draft (openai) -> two reviews in parallel (anthropic, gemini) -> verdict (openai)."""
    from langgraph.graph import END, START, StateGraph

    def node(name: str) -> Any:
        def run(state: Review) -> dict[str, list[str]]:
            answer = models[name].invoke(f"{state['topic']}: {state['notes']}")
            return {"notes": [str(answer.content)]}

        return run

    graph = StateGraph(Review)
    graph.add_node("draft", node("openai"))
    graph.add_node("review_a", node("anthropic"))
    graph.add_node("review_b", node("gemini"))
    graph.add_node("verdict", node("openai"))
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review_a")
    graph.add_edge("draft", "review_b")
    graph.add_edge(["review_a", "review_b"], "verdict")
    graph.add_edge("verdict", END)
    return graph.compile()


def test_langgraph_graph_sync_and_async(instrumented: InMemorySpanExporter, provider: MockProvider) -> None:
    graph = review_graph(chat_models(provider))
    with costline.workflow(WORKFLOW):
        result = graph.invoke({"topic": "refund", "notes": []})
        asyncio.run(graph.ainvoke({"topic": "refund", "notes": []}))

    assert len(result["notes"]) == 4
    one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
    assert len(costline_spans(instrumented)) == 8


def _openinference() -> Any:
    return require("openinference.instrumentation.langchain").LangChainInstrumentor()


def _openllmetry() -> Any:
    return require("opentelemetry.instrumentation.langchain").LangchainInstrumentor()


FRAMEWORK_SCOPES = {
    "openinference": "openinference.instrumentation.langchain",
    "openllmetry": "opentelemetry.instrumentation.langchain",
}


@pytest.fixture(params=["openinference", "openllmetry"])
def langchain_peer(request: pytest.FixtureRequest, instrumented: InMemorySpanExporter) -> Iterator[str]:
    instrumentor = _openinference() if request.param == "openinference" else _openllmetry()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        yield str(request.param)
    finally:
        instrumentor.uninstrument()


def test_langchain_instrumentations_spans_count_once(
    langchain_peer: str, instrumented: InMemorySpanExporter, provider: MockProvider, tmp_path: Path
) -> None:
    models = chat_models(provider)
    with costline.workflow(WORKFLOW):
        for model in models.values():
            model.invoke("hello")
            list(model.stream("hello"))

    ours = one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
    scope = FRAMEWORK_SCOPES[langchain_peer]
    theirs = [
        span
        for span in instrumented.get_finished_spans()
        if span.instrumentation_scope is not None
        and span.instrumentation_scope.name == scope
        and a.LLM_MIRRORED_BY in (span.attributes or {})
    ]
    # Every call has the framework's span too, marked with costline's span of the same call.
    assert sorted(str((s.attributes or {})[a.LLM_MIRRORED_BY]) for s in theirs) == sorted(
        format(span.context.span_id, "016x") for span in ours
    )
    assert {s.context.trace_id for s in theirs}.isdisjoint({s.context.trace_id for s in ours})
    assert_counted_once(
        ledger_calls(list(instrumented.get_finished_spans()), tmp_path), instrumented, WORKFLOW, USAGE
    )
