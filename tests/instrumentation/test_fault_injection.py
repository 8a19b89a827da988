"""costline's own bugs never change the app's outcome: a failing extraction callback is logged once and
swallowed (COSTLINE_SWALLOW_INTERNAL_ERRORS=1, as in production), the SDK result is unchanged and the span
still ends. Under plain pytest the same bug is re-raised, so it cannot hide in the test suite.
"""

from __future__ import annotations

import logging
from typing import Any

import anthropic
import openai
import pytest
from llm_harness import (
    TEXT,
    attrs,
    behaviour,
    llm_spans,
    only_span,
    usage_of,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from costline import _safety, anthropic_messages, openai_chat
from costline import attributes as a
from costline_processor.mock_provider import MockProvider

MESSAGES = [{"role": "user", "content": "hi"}]


class InjectedFault(RuntimeError):
    pass


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise InjectedFault("costline bug")


@pytest.fixture
def swallowing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLINE_SWALLOW_INTERNAL_ERRORS", "1")
    monkeypatch.setattr(_safety, "_reported", set())


def _chat(client: openai.OpenAI) -> dict[str, Any]:
    completion = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    dump = completion.model_dump()
    dump.pop("created")
    return dump


def test_response_extraction_fault(  # noqa: PLR0917 - fixtures
    swallowing: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    instrumented: InMemorySpanExporter,
    fake_provider: MockProvider,
    openai_client: openai.OpenAI,
) -> None:
    fake_provider.default = behaviour(response_id="fixed")
    healthy = _chat(openai_client)
    instrumented.clear()
    monkeypatch.setattr(openai_chat, "write_usage", _boom)
    with caplog.at_level(logging.WARNING, logger="costline"):
        assert _chat(openai_client) == healthy
        assert _chat(openai_client) == healthy
    assert caplog.text.count("costline internal error") == 1  # logged once per site
    assert "your code is still running fine" in caplog.text
    spans = llm_spans(instrumented)
    assert len(spans) == 2
    assert all(span.end_time is not None and usage_of(attrs(span)) == {} for span in spans)


def test_request_extraction_fault_still_traces_the_call(
    swallowing: None,
    monkeypatch: pytest.MonkeyPatch,
    instrumented: InMemorySpanExporter,
    anthropic_client: anthropic.Anthropic,
) -> None:
    monkeypatch.setattr(anthropic_messages, "common_request", _boom)
    message = anthropic_client.messages.create(model="claude-test-model", max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    span = only_span(instrumented)
    assert span.name == a.OPERATION_CHAT  # no model known from the request
    assert attrs(span)[a.GEN_AI_RESPONSE_MODEL] == "claude-test-model"


def test_stream_observe_fault_keeps_the_stream_intact(
    swallowing: None,
    monkeypatch: pytest.MonkeyPatch,
    instrumented: InMemorySpanExporter,
    anthropic_client: anthropic.Anthropic,
) -> None:
    monkeypatch.setattr(anthropic_messages.MessageStreamState, "observe", _boom)
    with anthropic_client.messages.stream(
        model="claude-test-model", max_tokens=64, messages=MESSAGES
    ) as stream:  # type: ignore[arg-type]
        assert "".join(stream.text_stream) == TEXT
    values = attrs(only_span(instrumented))
    assert values[a.LLM_USAGE_ESTIMATED] is True  # saw nothing, claims nothing


def test_stream_finish_fault_still_ends_the_span(
    swallowing: None,
    monkeypatch: pytest.MonkeyPatch,
    instrumented: InMemorySpanExporter,
    openai_client: openai.OpenAI,
) -> None:
    monkeypatch.setattr(openai_chat.ChunkStreamState, "finish", _boom)
    stream = openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == TEXT
    span = only_span(instrumented)
    assert span.end_time is not None
    assert usage_of(attrs(span)) == {}


def test_under_pytest_our_bugs_surface(
    monkeypatch: pytest.MonkeyPatch, instrumented: InMemorySpanExporter, openai_client: openai.OpenAI
) -> None:
    monkeypatch.delenv("COSTLINE_SWALLOW_INTERNAL_ERRORS", raising=False)
    monkeypatch.setattr(openai_chat, "write_usage", _boom)
    with pytest.raises(InjectedFault):
        _chat(openai_client)
    assert only_span(instrumented).end_time is not None  # even then, the span was ended
