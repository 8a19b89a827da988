"""LiteLLM's SDK: `completion`/`acompletion`/`embedding` to OpenAI, Anthropic and Gemini, plain and streamed.

LiteLLM sends these over its own HTTP code (Anthropic, Gemini) or `OpenAI.post()` (OpenAI), under the SDK
methods costline wraps, so costline wraps LiteLLM's entry points: one span per call, never a second one when
LiteLLM does go through a wrapped SDK method (embeddings with `encoding_format`). LiteLLM's own price
(`response_cost`) is never used: the processor prices the span.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from framework_checks import one_span_per_request
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from conftest import LEAKY_CLIENTS, require
from costline import attributes as a
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

litellm = require("litellm")

pytestmark = [
    *LEAKY_CLIENTS,
    # LiteLLM's own pydantic models warn when a provider module is first loaded; not the code under test
    pytest.mark.filterwarnings("ignore:Item.* the `ReadOnly` qualifier:UserWarning"),
    pytest.mark.filterwarnings("ignore:Accessing the 'model_.*' attribute on the instance is deprecated"),
]
USAGE = MockUsage(input_tokens=2_000, output_tokens=250, cache_read_tokens=900)
WORKFLOW = "support"
MESSAGES = [{"role": "user", "content": "hello"}]


def targets(mock: MockProvider) -> dict[str, dict[str, Any]]:
    return {
        "openai": {"model": "openai/gpt-4o-mini", "api_base": mock.openai_base_url},
        "anthropic": {"model": "anthropic/claude-sonnet-4-5", "api_base": mock.anthropic_base_url},
        "gemini": {"model": "gemini/gemini-2.5-flash", "api_base": mock.gemini_base_url + "/v1beta"},
    }


@pytest.fixture
def provider(mock_provider: MockProvider) -> MockProvider:
    mock_provider.default = MockBehaviour(usage=USAGE, chunks=3)
    return mock_provider


def test_completion_streams_and_embeddings(
    instrumented: InMemorySpanExporter, provider: MockProvider
) -> None:
    async def concurrently(calls: dict[str, dict[str, Any]]) -> None:
        answers = await asyncio.gather(
            *(litellm.acompletion(messages=MESSAGES, api_key="test", **call) for call in calls.values())
        )
        assert all(answer.usage.prompt_tokens == USAGE.input_tokens for answer in answers)
        stream = await litellm.acompletion(
            messages=MESSAGES, api_key="test", stream=True, **calls["anthropic"]
        )
        chunks = [chunk async for chunk in stream]
        assert not any(hasattr(chunk, "usage") for chunk in chunks)  # costline's injected usage is hidden
        await litellm.aembedding(model="openai/text-embedding-3-small", input=["x"], api_key="test",
                                 api_base=provider.openai_base_url)  # fmt: skip

    with costline.workflow(WORKFLOW):
        for call in targets(provider).values():
            answer = litellm.completion(messages=MESSAGES, api_key="test", **call)
            assert answer.usage.completion_tokens == USAGE.output_tokens
            chunks = list(litellm.completion(messages=MESSAGES, api_key="test", stream=True, **call))
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert not any(hasattr(chunk, "usage") for chunk in chunks)
        for encoding in (
            {},
            {"encoding_format": "float"},
        ):  # the second goes through openai's embeddings.create
            litellm.embedding(model="openai/text-embedding-3-small", input=["x"], api_key="test",
                              api_base=provider.openai_base_url, **encoding)  # fmt: skip
        asyncio.run(concurrently(targets(provider)))

    spans = one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
    assert len(spans) == 13
    by_provider: dict[object, int] = {}
    for span in spans:
        key = (span.attributes or {})[a.GEN_AI_PROVIDER_NAME]
        by_provider[key] = by_provider.get(key, 0) + 1
    assert by_provider == {"openai_compatible": 6, "anthropic": 4, "gcp.gemini": 3}


def test_anthropic_cache_writes_through_litellm(
    instrumented: InMemorySpanExporter, provider: MockProvider
) -> None:
    usage = MockUsage(input_tokens=3_000, output_tokens=100, cache_read_tokens=1_000, cache_write_tokens=600,
                      cache_write_1h_tokens=200)  # fmt: skip
    provider.default = MockBehaviour(usage=usage)
    with costline.workflow(WORKFLOW):
        litellm.completion(messages=MESSAGES, api_key="test", **targets(provider)["anthropic"])

    (span,) = one_span_per_request(instrumented, provider, WORKFLOW, usage)
    assert (span.attributes or {})[a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS] == 200


def test_batch_completion_thread_pool_keeps_the_workflow(
    instrumented: InMemorySpanExporter, provider: MockProvider
) -> None:
    """`batch_completion` runs each request in its own thread pool, which LiteLLM starts."""
    with costline.workflow(WORKFLOW):
        answers = litellm.batch_completion(messages=[MESSAGES, MESSAGES, MESSAGES], api_key="test",
                                           **targets(provider)["openai"])  # fmt: skip
    assert len(answers) == 3
    one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
