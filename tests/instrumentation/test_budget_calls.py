"""The guard on every surface the instrumentor wraps: real openai/anthropic clients against the fake provider,
the budgets read over HTTP from a small JSON server (the contract's `GET /v1/budgets` shape).

A blocked call raises `costline.BudgetExceeded` and the fake provider receives nothing; a downgraded call
reaches the provider with the cheaper model and the app gets the SDK's own response type; a span records
either. End-to-end with a real `costline serve`: tests/e2e/test_budget_guard_e2e.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest
from llm_harness import attrs, llm_spans
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from budget_source_server import BudgetSourceServer, answer, budget
from costline import _budget_install
from costline import attributes as a
from costline._budget_refresher import THREAD_NAME
from costline._config import ENV_BUDGETS_ENFORCE, ENV_BUDGETS_FAIL, ENV_BUDGETS_REFRESH_S, ENV_BUDGETS_URL
from costline.instrumentor import CostlineInstrumentor
from costline_processor.mock_provider import MockBehaviour, MockProvider
from gemini_clients import GEMINI_MODEL, gemini_client

MESSAGES: Any = [{"role": "user", "content": "hi"}]
BLOCKED = "blocked_wf"
DOWNGRADED = "downgraded_wf"


@pytest.fixture
def budget_source() -> Iterator[BudgetSourceServer]:
    with BudgetSourceServer() as server:
        server.reply = answer(
            budget({"workflow_id": BLOCKED}),
            budget({"workflow_id": DOWNGRADED}, on_stop="downgrade", downgrade_to="cheap-model"),
        )
        yield server


def _instrument(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def guarded(
    otel_spans: InMemorySpanExporter, budget_source: BudgetSourceServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InMemorySpanExporter]:
    monkeypatch.setenv(ENV_BUDGETS_URL, budget_source.url)
    monkeypatch.setenv(ENV_BUDGETS_REFRESH_S, "60")  # tests re-read explicitly (reread())
    yield from _instrument(otel_spans)


def reread() -> None:
    refresher = _budget_install._refresher
    assert refresher is not None
    refresher.read_once()


Clients = tuple[openai.OpenAI, anthropic.Anthropic]


@pytest.fixture
def clients(mock_provider: MockProvider) -> Iterator[Clients]:
    with (
        openai.OpenAI(base_url=mock_provider.openai_base_url, api_key="k", max_retries=0) as openai_client,
        anthropic.Anthropic(base_url=mock_provider.anthropic_base_url, api_key="k", max_retries=0) as client,
    ):
        yield openai_client, client


def _consume(result: Any) -> Any:
    if isinstance(result, openai.Stream | anthropic.Stream):
        return list(result)
    return result


SYNC_CALLS: dict[str, Callable[[openai.OpenAI, anthropic.Anthropic], Any]] = {
    "chat": lambda o, _: o.chat.completions.create(model="gpt-4.1", messages=MESSAGES),
    "chat_stream": lambda o, _: _consume(
        o.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    ),
    "chat_raw": lambda o, _: o.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=MESSAGES
    ).parse(),
    "chat_streaming_response": lambda o, _: _streaming_response(o),
    "chat_stream_helper": lambda o, _: _openai_helper(o),
    "responses": lambda o, _: o.responses.create(model="gpt-4.1", input="hi"),
    "responses_stream_helper": lambda o, _: _responses_helper(o),
    "completions": lambda o, _: o.completions.create(model="gpt-4.1", prompt="hi"),
    "embeddings": lambda o, _: o.embeddings.create(model="text-embedding-3-small", input=["hi"]),
    "messages": lambda _, c: c.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES),
    "messages_stream": lambda _, c: _consume(
        c.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, stream=True)
    ),
    "messages_stream_helper": lambda _, c: _anthropic_helper(c),
    "beta_messages": lambda _, c: c.beta.messages.create(
        model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES
    ),
}


def _streaming_response(client: openai.OpenAI) -> Any:
    with client.chat.completions.with_streaming_response.create(model="gpt-4.1", messages=MESSAGES) as raw:
        return raw.parse()


def _openai_helper(client: openai.OpenAI) -> Any:
    with client.chat.completions.stream(model="gpt-4.1", messages=MESSAGES) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion()


def _responses_helper(client: openai.OpenAI) -> Any:
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        for _ in stream:
            pass
        return stream.get_final_response()


def _anthropic_helper(client: anthropic.Anthropic) -> Any:
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES) as stream:
        for _ in stream.text_stream:
            pass
        return stream.get_final_message()


@pytest.mark.parametrize("surface", sorted(SYNC_CALLS))
def test_a_stopped_block_budget_raises_before_anything_is_sent(
    guarded: InMemorySpanExporter, mock_provider: MockProvider, clients: Clients, surface: str
) -> None:
    openai_client, anthropic_client = clients
    with costline.workflow(BLOCKED, tenant_id="acme"), pytest.raises(costline.BudgetExceeded) as caught:
        SYNC_CALLS[surface](openai_client, anthropic_client)
    assert "workflow 'blocked_wf' is over its monthly budget: $1,452.10 of $1,200.00 (121 %)" in str(
        caught.value
    )
    assert mock_provider.requests == []  # not one byte left the process
    (span,) = llm_spans(guarded)
    values = attrs(span)
    assert values[a.LLM_BUDGET_BLOCKED] is True
    assert values[a.LLM_BUDGET_SCOPE] == f"workflow_id={BLOCKED}"
    assert values[a.LLM_BUDGET_PERIOD] == "monthly"
    assert values[a.WORKFLOW_ID] == BLOCKED
    assert values[a.TENANT_ID] == "acme"
    assert values[a.ERROR_TYPE] == "BudgetExceeded"
    assert not any(key.startswith("gen_ai.usage.") for key in values)
    assert span.status.status_code is trace.StatusCode.ERROR


@pytest.mark.parametrize("surface", sorted(SYNC_CALLS))
def test_calls_outside_a_stopped_budget_are_untouched(
    guarded: InMemorySpanExporter, mock_provider: MockProvider, clients: Clients, surface: str
) -> None:
    openai_client, anthropic_client = clients
    with costline.workflow("other_workflow"):
        SYNC_CALLS[surface](openai_client, anthropic_client)
    assert len(mock_provider.requests) == 1
    values = attrs(llm_spans(guarded)[0])
    assert not any(key.startswith("llm.budget.") for key in values)


DOWNGRADABLE = sorted(set(SYNC_CALLS) - {"embeddings"})


@pytest.mark.parametrize("surface", DOWNGRADABLE)
def test_a_stopped_downgrade_budget_sends_the_cheaper_model(
    guarded: InMemorySpanExporter, mock_provider: MockProvider, clients: Clients, surface: str
) -> None:
    openai_client, anthropic_client = clients
    with costline.workflow(DOWNGRADED):
        result = SYNC_CALLS[surface](openai_client, anthropic_client)
    (request,) = mock_provider.requests
    assert request.body["model"] == "cheap-model"
    if not isinstance(result, list):  # a stream's items: the span's response model below says it
        assert result.model == "cheap-model"
    (span,) = llm_spans(guarded)
    values = attrs(span)
    requested = "claude-sonnet-4-6" if "messages" in surface else "gpt-4.1"
    assert values[a.GEN_AI_REQUEST_MODEL] == "cheap-model"
    assert values[a.LLM_BUDGET_DOWNGRADED_FROM] == requested
    assert values[a.GEN_AI_RESPONSE_MODEL] == "cheap-model"
    assert span.name.endswith("cheap-model")
    # Kept lean (each span attribute costs ~0.7 us): the budget is named in the log line, once.
    assert not {a.LLM_BUDGET_SCOPE, a.LLM_BUDGET_PERIOD, a.LLM_BUDGET_BLOCKED} & set(values)
    assert a.GEN_AI_USAGE_INPUT_TOKENS in values  # an ordinary priced call


def test_the_downgraded_response_has_the_sdks_own_type(
    guarded: InMemorySpanExporter, clients: Clients
) -> None:
    openai_client, anthropic_client = clients
    with costline.workflow(DOWNGRADED):
        chat = openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        message = anthropic_client.messages.create(
            model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES
        )
    assert type(chat) is openai.types.chat.ChatCompletion
    assert chat.model == "cheap-model"
    assert type(message) is anthropic.types.Message
    assert message.model == "cheap-model"


def test_embeddings_are_not_downgraded_to_a_chat_model(
    guarded: InMemorySpanExporter,
    mock_provider: MockProvider,
    clients: Clients,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_client, _ = clients
    with costline.workflow(DOWNGRADED):
        for _ in range(2):
            openai_client.embeddings.create(model="text-embedding-3-small", input=["hi"])
    assert [r.body["model"] for r in mock_provider.requests] == ["text-embedding-3-small"] * 2
    assert [r.getMessage() for r in caplog.records if "cannot be downgraded" in r.getMessage()] == [
        "costline budgets: openai.embeddings calls cannot be downgraded to cheap-model "
        f"(workflow_id={DOWNGRADED}); they are sent unchanged"
    ]


def test_a_downgrade_model_the_provider_refuses_falls_back_to_the_requested_one(
    guarded: InMemorySpanExporter,
    mock_provider: MockProvider,
    clients: Clients,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_client, anthropic_client = clients
    mock_provider.enqueue(
        MockBehaviour(error_status=404, error_message="The model cheap-model does not exist")
    )
    with costline.workflow(DOWNGRADED):
        first = openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        second = openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert (first.model, second.model) == ("gpt-4.1", "gpt-4.1")
    assert [r.body["model"] for r in mock_provider.requests] == ["cheap-model", "gpt-4.1", "gpt-4.1"]
    rejected = [r.getMessage() for r in caplog.records if "rejected the downgrade model" in r.getMessage()]
    assert len(rejected) == 1, rejected
    assert "rejected the downgrade model 'cheap-model' (HTTP 404: " in rejected[0]
    failed, resent, _later = sorted(llm_spans(guarded), key=lambda s: s.start_time or 0)
    assert attrs(failed)[a.ERROR_TYPE] == "404"
    assert attrs(failed)[a.GEN_AI_REQUEST_MODEL] == "cheap-model"
    assert attrs(resent)[a.GEN_AI_REQUEST_MODEL] == "gpt-4.1"
    assert a.ERROR_TYPE not in attrs(resent)
    assert resent.parent is None or resent.parent.span_id != failed.context.span_id
    with costline.workflow(DOWNGRADED):  # the other SDK still downgrades
        message = anthropic_client.messages.create(
            model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES
        )
    assert message.model == "cheap-model"


def test_the_anthropic_stream_helper_falls_back_too(
    guarded: InMemorySpanExporter, mock_provider: MockProvider, clients: Clients
) -> None:
    _, anthropic_client = clients
    mock_provider.enqueue(MockBehaviour(error_status=404))
    with costline.workflow(DOWNGRADED):
        message = _anthropic_helper(anthropic_client)
    assert message.model == "claude-sonnet-4-6"
    assert [r.body["model"] for r in mock_provider.requests] == ["cheap-model", "claude-sonnet-4-6"]


ASYNC_CALLS: dict[str, Callable[[openai.AsyncOpenAI, anthropic.AsyncAnthropic], Any]] = {
    "chat": lambda o, _: o.chat.completions.create(model="gpt-4.1", messages=MESSAGES),
    "chat_stream_helper": lambda o, _: _async_openai_helper(o),
    "messages": lambda _, c: c.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES),
    "messages_stream_helper": lambda _, c: _async_anthropic_helper(c),
    "messages_stream": lambda _, c: _async_consume(
        c.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, stream=True)
    ),
}


async def _async_consume(pending: Any) -> Any:
    return [item async for item in await pending]


async def _async_openai_helper(client: openai.AsyncOpenAI) -> Any:
    async with client.chat.completions.stream(model="gpt-4.1", messages=MESSAGES) as stream:
        async for _ in stream:
            pass
        return await stream.get_final_completion()


async def _async_anthropic_helper(client: anthropic.AsyncAnthropic) -> Any:
    async with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES) as stream:
        async for _ in stream.text_stream:
            pass
        return await stream.get_final_message()


@pytest.mark.parametrize("surface", sorted(ASYNC_CALLS))
async def test_async_surfaces_are_guarded(
    guarded: InMemorySpanExporter, mock_provider: MockProvider, clients: Clients, surface: str
) -> None:
    async with (
        openai.AsyncOpenAI(base_url=mock_provider.openai_base_url, api_key="k", max_retries=0) as o,
        anthropic.AsyncAnthropic(base_url=mock_provider.anthropic_base_url, api_key="k", max_retries=0) as c,
    ):
        with costline.workflow(BLOCKED), pytest.raises(costline.BudgetExceeded):
            await ASYNC_CALLS[surface](o, c)
        assert mock_provider.requests == []
        with costline.workflow(DOWNGRADED):
            await ASYNC_CALLS[surface](o, c)
    assert [r.body["model"] for r in mock_provider.requests] == ["cheap-model"]
    blocked, downgraded = sorted(llm_spans(guarded), key=lambda s: s.start_time or 0)
    assert attrs(blocked)[a.LLM_BUDGET_BLOCKED] is True
    assert attrs(downgraded)[a.GEN_AI_REQUEST_MODEL] == "cheap-model"


def test_dry_run_never_blocks_and_says_so_on_the_span(
    otel_spans: InMemorySpanExporter,
    budget_source: BudgetSourceServer,
    mock_provider: MockProvider,
    clients: Clients,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_BUDGETS_URL, budget_source.url)
    monkeypatch.setenv(ENV_BUDGETS_ENFORCE, "false")
    for _ in _instrument(otel_spans):
        openai_client, _ = clients
        with costline.workflow(BLOCKED):
            openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        with costline.workflow(DOWNGRADED):
            openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert [r.body["model"] for r in mock_provider.requests] == ["gpt-4.1", "gpt-4.1"]
    would_block, would_downgrade = (
        attrs(s) for s in sorted(llm_spans(otel_spans), key=lambda s: s.start_time or 0)
    )
    assert would_block[a.LLM_BUDGET_WOULD_BLOCK] is True
    assert a.LLM_BUDGET_BLOCKED not in would_block
    assert would_downgrade[a.LLM_BUDGET_WOULD_DOWNGRADE_TO] == "cheap-model"
    assert would_downgrade[a.GEN_AI_REQUEST_MODEL] == "gpt-4.1"


def test_a_budget_that_starts_again_lets_calls_flow(
    guarded: InMemorySpanExporter,
    mock_provider: MockProvider,
    clients: Clients,
    budget_source: BudgetSourceServer,
) -> None:
    openai_client, _ = clients
    with costline.workflow(BLOCKED), pytest.raises(costline.BudgetExceeded):
        openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    budget_source.reply = answer(budget({"workflow_id": BLOCKED}, spent="0", status="ok"))
    reread()
    with costline.workflow(BLOCKED):
        openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert len(mock_provider.requests) == 1


def test_fail_closed_with_the_source_down_blocks_and_open_lets_calls_through(
    otel_spans: InMemorySpanExporter,
    mock_provider: MockProvider,
    clients: Clients,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with BudgetSourceServer() as dead:
        url = dead.url
    monkeypatch.setenv(ENV_BUDGETS_URL, url)
    monkeypatch.setenv(ENV_BUDGETS_FAIL, "closed")
    for _ in _instrument(otel_spans):
        openai_client, _ = clients
        with pytest.raises(costline.BudgetExceeded, match=r"no budget has been read yet .*refused"):
            openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    monkeypatch.setenv(ENV_BUDGETS_FAIL, "open")
    for _ in _instrument(otel_spans):
        openai_client, _ = clients
        openai_client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert len(mock_provider.requests) == 1


def _budget_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_no_thread_without_a_url_and_none_left_after_uninstrument(
    otel_spans: InMemorySpanExporter, budget_source: BudgetSourceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_BUDGETS_URL, raising=False)
    for _ in _instrument(otel_spans):
        assert _budget_threads() == []
    monkeypatch.setenv(ENV_BUDGETS_URL, budget_source.url)
    for _ in _instrument(otel_spans):
        assert len(_budget_threads()) == 1
    assert _budget_threads() == []


GEMINI_CALLS: dict[str, Callable[[Any], Any]] = {
    "generate_content": lambda g: g.models.generate_content(model=GEMINI_MODEL, contents="hi"),
    "generate_content_stream": lambda g: list(
        g.models.generate_content_stream(model=GEMINI_MODEL, contents="hi")
    ),
    "embed_content": lambda g: g.models.embed_content(model="gemini-embedding-001", contents="hi"),
}


@pytest.mark.parametrize("surface", sorted(GEMINI_CALLS))
def test_google_genai_calls_are_blocked_too(
    guarded: InMemorySpanExporter, mock_provider: MockProvider, surface: str
) -> None:
    with gemini_client(mock_provider.gemini_base_url) as gemini:
        with costline.workflow(BLOCKED), pytest.raises(costline.BudgetExceeded):
            GEMINI_CALLS[surface](gemini)
        assert mock_provider.requests == []
        with costline.workflow(DOWNGRADED):  # google-genai calls are not downgraded: sent as asked
            GEMINI_CALLS[surface](gemini)
    assert len(mock_provider.requests) == 1
    blocked, sent = sorted(llm_spans(guarded), key=lambda s: s.start_time or 0)
    assert attrs(blocked)[a.LLM_BUDGET_BLOCKED] is True
    assert a.LLM_BUDGET_DOWNGRADED_FROM not in attrs(sent)
