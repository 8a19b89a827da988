"""The instrumentation matrix: API x sync/async x mode x outcome, one real call each, exact span checked.

APIs: OpenAI chat, OpenAI responses, OpenAI embeddings, Anthropic messages, Anthropic `messages.stream()`.
Modes: a plain call, a stream read to the end, a stream abandoned early (`break` out of its `with`).
Outcomes: success, HTTP 429, the connection cut mid-stream, the caller raising inside the `with`.
Combinations that cannot exist are listed with their reason in `NOT_APPLICABLE` (and checked below).
"""

from __future__ import annotations

import itertools
from typing import Any

import anthropic
import openai
import pytest
from llm_harness import (
    assert_typed,
    attrs,
    behaviour,
    exact_usage,
    only_span,
    usage_of,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import costline
from costline import attributes as a
from costline_processor.mock_provider import MockProvider

APIS = (
    "openai.chat",
    "openai.responses",
    "openai.embeddings",
    "anthropic.messages",
    "anthropic.stream_helper",
)
MODES = ("call", "stream", "abandoned")
OUTCOMES = ("success", "http_error", "mid_stream_error", "caller_error")
# (api or None for any, mode or None, outcome or None) -> why that combination does not exist.
NOT_APPLICABLE: dict[tuple[str | None, str | None, str | None], str] = {
    ("openai.embeddings", "stream", None): "embeddings have no streaming API",
    ("openai.embeddings", "abandoned", None): "embeddings have no streaming API",
    ("anthropic.stream_helper", "call", None): "messages.stream() always streams",
    (None, "call", "mid_stream_error"): "a non-streamed call has no stream to cut",
    (None, "call", "caller_error"): "a non-streamed result has no `with` block to raise in",
    (None, "abandoned", "http_error"): "the request fails before there is a stream to abandon",
    (None, "abandoned", "mid_stream_error"): "abandoning closes the stream before the cut is reached",
    (None, "abandoned", "caller_error"): "a caller error inside `with` is itself the early exit",
}
MODEL = {"openai.chat": "gpt-4o-mini", "openai.responses": "gpt-4.1-mini", "openai.embeddings": "emb-small"}
CLAUDE = "claude-test-model"


def _reason(api: str, mode: str, outcome: str) -> str | None:
    for (r_api, r_mode, r_outcome), reason in NOT_APPLICABLE.items():
        if r_api in (None, api) and r_mode in (None, mode) and r_outcome in (None, outcome):
            return reason
    return None


CASES = [
    pytest.param(api, is_async, mode, outcome, id=f"{api}-{'async' if is_async else 'sync'}-{mode}-{outcome}")
    for api, is_async, mode, outcome in itertools.product(APIS, (False, True), MODES, OUTCOMES)
    if _reason(api, mode, outcome) is None
]


class CallerError(Exception):
    """What the app raises inside the `with` block."""


def _model(api: str) -> str:
    return MODEL.get(api, CLAUDE)


def _client(api: str, is_async: bool, fake_provider: MockProvider) -> Any:
    if api.startswith("anthropic"):
        anthropic_class = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        return anthropic_class(base_url=fake_provider.anthropic_base_url, api_key="test", max_retries=0)
    openai_class = openai.AsyncOpenAI if is_async else openai.OpenAI
    return openai_class(base_url=fake_provider.openai_base_url, api_key="test", max_retries=0)


def _open(client: Any, api: str, stream: bool) -> Any:
    """Start the call (awaitable for async clients, except the stream helper's manager)."""
    messages = [{"role": "user", "content": "hi"}]
    if api == "openai.chat":
        return client.chat.completions.create(model=_model(api), messages=messages, stream=stream)
    if api == "openai.responses":
        return client.responses.create(model=_model(api), input="hi", stream=stream)
    if api == "openai.embeddings":
        return client.embeddings.create(model=_model(api), input="hi")
    if api == "anthropic.messages":
        return client.messages.create(model=CLAUDE, max_tokens=64, messages=messages, stream=stream)
    return client.messages.stream(model=CLAUDE, max_tokens=64, messages=messages)


def _run_sync(client: Any, api: str, mode: str, outcome: str) -> None:
    if mode == "call":
        _open(client, api, stream=False)
        return
    with _open(client, api, stream=True) as stream:
        for index, _ in enumerate(stream):
            if index == 1 and mode == "abandoned":
                break
            if index == 1 and outcome == "caller_error":
                raise CallerError("the app failed while reading")


async def _run_async(client: Any, api: str, mode: str, outcome: str) -> None:
    if mode == "call":
        await _open(client, api, stream=False)
        return
    opened = _open(client, api, stream=True)
    manager = opened if api == "anthropic.stream_helper" else await opened
    async with manager as stream:
        index = 0
        async for _ in stream:
            if index == 1 and mode == "abandoned":
                break
            if index == 1 and outcome == "caller_error":
                raise CallerError("the app failed while reading")
            index += 1


def _expected_error(outcome: str) -> type[BaseException] | tuple[type[BaseException], ...] | None:
    if outcome == "http_error":
        return (openai.RateLimitError, anthropic.RateLimitError)
    if outcome == "caller_error":
        return CallerError
    if outcome == "mid_stream_error":
        return Exception
    return None


def test_not_applicable_combinations_are_declared() -> None:
    all_combinations = list(itertools.product(APIS, (False, True), MODES, OUTCOMES))
    excluded = [combo for combo in all_combinations if _reason(combo[0], combo[2], combo[3]) is not None]
    assert len(CASES) + len(excluded) == len(all_combinations)
    assert len(CASES) == 56  # every remaining combination runs


@pytest.mark.parametrize(("api", "is_async", "mode", "outcome"), CASES)
async def test_matrix(  # noqa: PLR0917 - parameters and fixtures
    api: str,
    is_async: bool,
    mode: str,
    outcome: str,
    instrumented: InMemorySpanExporter,
    fake_provider: MockProvider,
) -> None:
    if outcome == "http_error":
        fake_provider.enqueue(behaviour(error_status=429))
    if outcome == "mid_stream_error":
        fake_provider.enqueue(behaviour(fail_after_events=3))
    client = _client(api, is_async, fake_provider)
    expected_error = _expected_error(outcome)
    raised: BaseException | None = None
    with costline.workflow("matrix_test", tenant_id="acme"):
        try:
            if is_async:
                await _run_async(client, api, mode, outcome)
            else:
                _run_sync(client, api, mode, outcome)
        except Exception as exc:
            raised = exc
        finally:
            await client.close() if is_async else client.close()
    if expected_error is None:
        assert raised is None
    else:
        assert isinstance(raised, expected_error), raised
    _check_span(only_span(instrumented), api, mode, outcome, raised)


def _check_span(span: Any, api: str, mode: str, outcome: str, raised: BaseException | None) -> None:
    values = attrs(span)
    assert_typed(values)
    operation = a.OPERATION_EMBEDDINGS if api == "openai.embeddings" else a.OPERATION_CHAT
    is_anthropic = api.startswith("anthropic")
    assert span.name == f"{operation} {_model(api)}"
    assert values[a.GEN_AI_OPERATION_NAME] == operation
    assert values[a.GEN_AI_REQUEST_MODEL] == _model(api)
    assert values[a.GEN_AI_PROVIDER_NAME] == (
        a.PROVIDER_ANTHROPIC if is_anthropic else a.PROVIDER_SELF_HOSTED
    )
    assert values[a.SERVER_ADDRESS] == "127.0.0.1"
    assert values[a.WORKFLOW_ID] == "matrix_test"
    assert values[a.TENANT_ID] == "acme"
    assert (values.get(a.GEN_AI_REQUEST_STREAM) is True) == (mode != "call")
    if outcome == "success" and mode != "abandoned":
        _check_complete(values, api, is_anthropic)
        assert span.status.status_code is StatusCode.UNSET
        return
    if outcome == "success":  # abandoned: no usage-bearing event was read
        assert values[a.LLM_USAGE_ESTIMATED] is True
        assert a.ERROR_TYPE not in values
        _check_partial_usage(values, is_anthropic)
        return
    assert span.status.status_code is StatusCode.ERROR
    assert raised is not None
    if outcome == "http_error":
        assert values[a.ERROR_TYPE] == "429"
        assert usage_of(values) == {}
        return
    assert values[a.ERROR_TYPE] == type(raised).__qualname__
    assert values[a.LLM_USAGE_ESTIMATED] is True
    _check_partial_usage(values, is_anthropic)


def _check_complete(values: dict[str, Any], api: str, is_anthropic: bool) -> None:
    assert a.LLM_USAGE_ESTIMATED not in values
    assert a.ERROR_TYPE not in values
    if api == "openai.embeddings":
        assert usage_of(values) == exact_usage(cache_write_1h=False, output=False)
        assert values[a.GEN_AI_RESPONSE_MODEL] == _model(api)
        return
    assert usage_of(values) == exact_usage(cache_write_1h=is_anthropic)
    assert values[a.GEN_AI_RESPONSE_MODEL] == _model(api)
    assert isinstance(values[a.GEN_AI_RESPONSE_ID], str)
    finish = {"openai.chat": ("stop",), "openai.responses": ("completed",)}.get(api, ("end_turn",))
    assert values[a.GEN_AI_RESPONSE_FINISH_REASONS] == finish


def _check_partial_usage(values: dict[str, Any], is_anthropic: bool) -> None:
    """Cut short: never a silent 0. Anthropic's message_start gave the exact input side; OpenAI gave none."""
    usage = usage_of(values)
    if not is_anthropic:
        assert usage == {}
        return
    full = exact_usage(cache_write_1h=True)
    assert usage[a.GEN_AI_USAGE_INPUT_TOKENS] == full[a.GEN_AI_USAGE_INPUT_TOKENS]
    assert usage[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == full[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]
    assert usage[a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS] == full[a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS]
    assert usage[a.GEN_AI_USAGE_OUTPUT_TOKENS] == 1  # message_start's provisional count, flagged estimated
