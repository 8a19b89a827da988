"""LiteLLM's SDK: `completion`/`acompletion`/`embedding` to OpenAI, Anthropic and Gemini, plain and streamed.

LiteLLM sends these over its own HTTP code (Anthropic, Gemini) or `OpenAI.post()` (OpenAI), under the SDK
methods costline wraps, so costline wraps LiteLLM's entry points: one span per call, never a second one when
LiteLLM does go through a wrapped SDK method (embeddings with `encoding_format`). LiteLLM's own price
(`response_cost`) is never used: the processor prices the span.

With LiteLLM's OTel callback on, LiteLLM records each call a second time, after the fact: as its own span
(a stream, or `USE_OTEL_LITELLM_REQUEST_SPAN=true`), in another trace when the call was a stream, or as
attributes on the span current at the call. Its spans are marked mirrors of costline's, so every call is
one ledger row at list price whatever LiteLLM recorded (it reports no cache reads for Gemini).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from framework_checks import assert_counted_once, costline_spans, ledger_calls, one_span_per_request
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
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


LITELLM_CALLBACK_LISTS = (
    "callbacks", "input_callback", "success_callback", "failure_callback", "_async_success_callback",
    "_async_failure_callback",
)  # fmt: skip


def _litellm_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if span.instrumentation_scope is not None and span.instrumentation_scope.name == "litellm"
    ]


@pytest.fixture(params=["own span when no span is current", "USE_OTEL_LITELLM_REQUEST_SPAN"])
def litellm_otel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """LiteLLM's own OTel callback on the test's tracer provider; True when it always makes its own span."""
    from litellm.integrations.opentelemetry import OpenTelemetry

    always = request.param == "USE_OTEL_LITELLM_REQUEST_SPAN"
    monkeypatch.setenv("USE_OTEL_LITELLM_REQUEST_SPAN", "true" if always else "false")
    callback = OpenTelemetry(tracer_provider=trace.get_tracer_provider())
    # LiteLLM copies `callbacks` into its per-event lists on the first call: each is restored afterwards
    for name in LITELLM_CALLBACK_LISTS:
        monkeypatch.setattr(litellm, name, [callback] if name == "callbacks" else [])
    return always


def _wait_for_litellm_spans(exporter: InMemorySpanExporter, count: int) -> list[ReadableSpan]:
    """LiteLLM logs each call from a background thread or task: wait (bounded) until `count` call spans."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        calls = [span for span in _litellm_spans(exporter) if span.name == "litellm_request"]
        if len(calls) >= count:
            return calls
        time.sleep(0.05)
    raise AssertionError(f"LiteLLM recorded {len(calls)} of {count} calls: {_litellm_spans(exporter)}")


def test_litellm_otel_callback_spans_count_once(
    instrumented: InMemorySpanExporter,
    provider: MockProvider,
    litellm_otel: bool,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def in_tasks(calls: dict[str, dict[str, Any]]) -> None:
        await asyncio.gather(
            *(litellm.acompletion(messages=MESSAGES, api_key="test", **call) for call in calls.values())
        )
        stream = await litellm.acompletion(messages=MESSAGES, api_key="test", stream=True, **calls["gemini"])
        assert [chunk async for chunk in stream]

    with costline.workflow(WORKFLOW):
        for call in targets(provider).values():
            litellm.completion(messages=MESSAGES, api_key="test", **call)
            assert list(litellm.completion(messages=MESSAGES, api_key="test", stream=True, **call))
        asyncio.run(in_tasks(targets(provider)))

    ours = one_span_per_request(instrumented, provider, WORKFLOW, USAGE)
    assert len(ours) == 10
    # LiteLLM makes a span of its own for each stream (no span is current when a stream ends), and for
    # every call when told to
    theirs = _wait_for_litellm_spans(instrumented, len(ours) if litellm_otel else 4)
    time.sleep(0.5)  # any late extra span of LiteLLM's would be counted below
    assert {(s.attributes or {}).get("gen_ai.usage.input_tokens") for s in theirs} == {USAGE.input_tokens}
    ids = {format(span.context.span_id, "016x") for span in costline_spans(instrumented)}
    assert {(s.attributes or {}).get(a.LLM_MIRRORED_BY) for s in theirs} <= ids
    rows = ledger_calls(list(instrumented.get_finished_spans()), tmp_path)
    assert_counted_once(rows, instrumented, WORKFLOW, USAGE)
    # LiteLLM writes its record onto the span current at the call, often after the call: never costline's
    assert not [r.getMessage() for r in caplog.records if "ended span" in r.getMessage()]
    for span in ours:
        assert "gen_ai.cost.total_cost" not in (span.attributes or {})
