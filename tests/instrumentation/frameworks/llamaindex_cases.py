"""LlamaIndex 0.14 (`llama-index-llms-openai`, `llama-index-embeddings-openai`).

Not collected in the main venv: `llama-index-llms-openai` pins `openai<3`, so tests/test_sdk_versions.py
builds a venv with openai 2.x (the previous major, in costline's tested range) and runs this file there.
LlamaIndex's LLMs call the providers' real SDKs, which costline wraps: one span per request, attributed
through LlamaIndex's async gather and its streaming. (OpenInference's LlamaIndex instrumentation 4.6 made no
span under this test harness, though it does in a plain script; its scope is among the framework scopes
costline marks, as for LangChain, but that pairing is not tested here.)
`llama-index-llms-anthropic` 0.12 is left out: it fails before sending with either anthropic major (2.x: it
instantiates `MessageParam`, a Union there; 1.x: `create()` refuses its `temperature`), costline or not.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from framework_checks import assert_counted_once, ledger_calls, one_span_per_request
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from conftest import LEAKY_CLIENTS, require
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

llms_openai = require("llama_index.llms.openai")
embeddings_openai = require("llama_index.embeddings.openai")
core_llms = require("llama_index.core.llms")

pytestmark = LEAKY_CLIENTS
USAGE = MockUsage(input_tokens=2_000, output_tokens=250, cache_read_tokens=900)
WORKFLOW = "support"


@pytest.fixture
def provider(mock_provider: MockProvider) -> MockProvider:
    mock_provider.default = MockBehaviour(usage=USAGE, chunks=3)
    return mock_provider


def llms(mock: MockProvider) -> dict[str, Any]:
    return {
        "openai": llms_openai.OpenAI(
            model="gpt-4o-mini", api_base=mock.openai_base_url, api_key="test", max_retries=0
        ),
        "openai-second": llms_openai.OpenAI(
            model="gpt-4o-mini", api_base=mock.openai_base_url, api_key="test", max_retries=0
        ),
    }


def use_every_llm(models: dict[str, Any]) -> None:
    """complete, chat, stream_chat on each LLM, then achat on each under asyncio.gather."""
    message = [core_llms.ChatMessage(role="user", content="hello")]
    for model in models.values():
        assert model.complete("hello").text
        assert model.chat(message).message.content
        assert "".join(chunk.delta or "" for chunk in model.stream_chat(message))

    async def concurrently() -> None:
        await asyncio.gather(*(model.achat(message) for model in models.values()))

    asyncio.run(concurrently())


def test_llms_give_one_span_per_request(
    instrumented: InMemorySpanExporter, provider: MockProvider, tmp_path: Path
) -> None:
    with costline.workflow(WORKFLOW):
        use_every_llm(llms(provider))

    spans = one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
    assert len(spans) == 8
    rows = ledger_calls(list(instrumented.get_finished_spans()), tmp_path)
    assert_counted_once(rows, instrumented, WORKFLOW, USAGE)


def test_embeddings(instrumented: InMemorySpanExporter, provider: MockProvider) -> None:
    model = embeddings_openai.OpenAIEmbedding(
        model="text-embedding-3-small", api_base=provider.openai_base_url, api_key="test", max_retries=0
    )
    with costline.workflow(WORKFLOW):
        assert model.get_text_embedding("hello")
        assert asyncio.run(model.aget_text_embedding("hello"))

    assert len(one_span_per_request(instrumented, provider, WORKFLOW, USAGE)) == 2
