"""Attribution baggage never reaches the LLM provider in HTTP headers, yet every span still carries it.

Real openai/anthropic clients talk to the local fake provider with a real SDK TracerProvider, the real
httpx2 instrumentation and the global W3C propagators (tracecontext + baggage). Two injectors are live:
the anthropic SDK's own propagation and opentelemetry-instrumentation-httpx's httpx2 instrumentor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import unquote_plus

import anthropic
import openai
import pytest
from opentelemetry import baggage, context
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from costline import attributes
from costline.outbound import hide_attribution_from_propagation
from costline_processor.mock_provider import MockProvider, RecordedRequest

ATTRIBUTION = {
    attributes.WORKFLOW_ID: "wf-private-support",
    attributes.FEATURE_ID: "feat-private-triage",
    attributes.TENANT_ID: "tenant-private-acme",
    attributes.USER_ID: "user-private@example.com",
}
ANTHROPIC_SCOPE = "com.anthropic.sdk.python"
HTTPX_SCOPE = "opentelemetry.instrumentation.httpx"


@pytest.fixture
def attributed() -> Iterator[None]:
    """Inside a workflow with every key set, plus one unrelated baggage entry that must still propagate."""
    token = context.attach(baggage.set_baggage("region", "eu-west"))
    try:
        with costline.workflow(
            ATTRIBUTION[attributes.WORKFLOW_ID],
            feature_id=ATTRIBUTION[attributes.FEATURE_ID],
            tenant_id=ATTRIBUTION[attributes.TENANT_ID],
            user_id=ATTRIBUTION[attributes.USER_ID],
        ):
            yield
    finally:
        context.detach(token)


@pytest.fixture
def httpx2_instrumented(otel_spans: InMemorySpanExporter) -> Iterator[None]:
    instrumentor = HTTPX2ClientInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


@pytest.fixture
def ant(mock_provider: MockProvider) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=mock_provider.anthropic_base_url, api_key="test", max_retries=0
    ) as client:
        yield client


@pytest.fixture
def oai(mock_provider: MockProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mock_provider.openai_base_url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
async def aant(mock_provider: MockProvider) -> AsyncIterator[anthropic.AsyncAnthropic]:
    base_url = mock_provider.anthropic_base_url
    async with anthropic.AsyncAnthropic(base_url=base_url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
async def aoai(mock_provider: MockProvider) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=mock_provider.openai_base_url, api_key="test", max_retries=0
    ) as client:
        yield client


def _leaks(request: RecordedRequest) -> list[str]:
    """Every header that mentions an attribution key or value (after URL-decoding, as baggage is encoded)."""
    found = []
    for name, value in request.headers.items():
        text = unquote_plus(f"{name}: {value}").lower()
        if any(key in text for key in attributes.ATTRIBUTION_KEYS) or any(
            secret.lower() in text for secret in ATTRIBUTION.values()
        ):
            found.append(f"{name}: {value}")
    return found


def _assert_private(request: RecordedRequest) -> None:
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert _leaks(request) == []
    assert "traceparent" in headers  # trace context still flows
    assert unquote_plus(headers["baggage"]) == "region=eu-west"  # unrelated baggage still flows


def _spans_by_scope(exporter: InMemorySpanExporter) -> dict[str, list[dict[str, object]]]:
    spans: dict[str, list[dict[str, object]]] = {}
    for span in exporter.get_finished_spans():
        scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
        spans.setdefault(scope, []).append(dict(span.attributes or {}))
    return spans


def _assert_attributed(span_attributes: dict[str, object]) -> None:
    assert {key: span_attributes.get(key) for key in ATTRIBUTION} == ATTRIBUTION


@pytest.mark.usefixtures("attributed")
@pytest.mark.parametrize("injector", ["anthropic SDK", "httpx2 instrumentation"])
def test_without_hiding_each_injector_leaks_attribution(
    injector: str,
    mock_provider: MockProvider,
    otel_spans: InMemorySpanExporter,
    ant: anthropic.Anthropic,
    oai: openai.OpenAI,
) -> None:
    """The problem hide_attribution_from_propagation solves: the default W3C baggage propagator sends it."""
    if injector == "anthropic SDK":
        ant.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    else:  # openai does not propagate by itself: only the httpx2 instrumentation injects here
        instrumentor = HTTPX2ClientInstrumentor()
        instrumentor.instrument()
        try:
            oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        finally:
            instrumentor.uninstrument()
    (request,) = mock_provider.requests
    assert len(_leaks(request)) == 1  # the baggage header
    assert ATTRIBUTION[attributes.WORKFLOW_ID] in request.headers["baggage"]


@pytest.mark.usefixtures("attributed")
def test_openai_without_http_instrumentation_sends_no_trace_headers(
    mock_provider: MockProvider, oai: openai.OpenAI
) -> None:
    oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    (request,) = mock_provider.requests
    assert {"baggage", "traceparent"}.isdisjoint(name.lower() for name in request.headers)


@pytest.mark.usefixtures("httpx2_instrumented", "attributed")
def test_anthropic_sdk_propagation_sends_no_attribution(
    mock_provider: MockProvider, otel_spans: InMemorySpanExporter, ant: anthropic.Anthropic
) -> None:
    with hide_attribution_from_propagation():
        assert costline.current_attribution() == ATTRIBUTION
        ant.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
        stream = ant.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}], stream=True
        )
    # The stream is read after the call returned, as a wrapper's caller would; its span ends only now.
    assert [event.type for event in stream][-1] == "message_stop"
    assert baggage.get_baggage(attributes.WORKFLOW_ID) == ATTRIBUTION[attributes.WORKFLOW_ID]  # restored

    assert len(mock_provider.requests) == 2
    for request in mock_provider.requests:
        _assert_private(request)
    spans = _spans_by_scope(otel_spans)
    assert len(spans[ANTHROPIC_SCOPE]) == 2  # the SDK's own call spans are attributed by the processor
    assert len(spans[HTTPX_SCOPE]) == 2
    for span_attributes in spans[ANTHROPIC_SCOPE] + spans[HTTPX_SCOPE]:
        _assert_attributed(span_attributes)
    assert spans[ANTHROPIC_SCOPE][0][attributes.GEN_AI_PROVIDER_NAME] == attributes.PROVIDER_ANTHROPIC


@pytest.mark.usefixtures("httpx2_instrumented", "attributed")
def test_openai_through_httpx2_instrumentation_sends_no_attribution(
    mock_provider: MockProvider, otel_spans: InMemorySpanExporter, oai: openai.OpenAI
) -> None:
    with hide_attribution_from_propagation():
        oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    (request,) = mock_provider.requests
    _assert_private(request)
    (http_span,) = _spans_by_scope(otel_spans)[HTTPX_SCOPE]
    _assert_attributed(http_span)


@pytest.mark.usefixtures("httpx2_instrumented", "attributed")
async def test_async_clients_send_no_attribution(
    mock_provider: MockProvider,
    otel_spans: InMemorySpanExporter,
    aoai: openai.AsyncOpenAI,
    aant: anthropic.AsyncAnthropic,
) -> None:
    with hide_attribution_from_propagation():
        stream = await aoai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        await aant.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert len([chunk async for chunk in stream]) > 0

    assert len(mock_provider.requests) == 2
    for request in mock_provider.requests:
        _assert_private(request)
    spans = _spans_by_scope(otel_spans)
    for span_attributes in spans[ANTHROPIC_SCOPE] + spans[HTTPX_SCOPE]:
        _assert_attributed(span_attributes)
    assert len(spans[HTTPX_SCOPE]) == 2


def test_hiding_outside_a_workflow_changes_nothing(mock_provider: MockProvider) -> None:
    token = context.attach(baggage.set_baggage("region", "eu-west"))
    try:
        before = context.get_current()
        with hide_attribution_from_propagation():
            assert context.get_current() is before  # no attribution: nothing attached
            assert costline.current_attribution() == {}
    finally:
        context.detach(token)


@pytest.fixture
def costline_instrumented(otel_spans: InMemorySpanExporter) -> Iterator[None]:
    from costline.instrumentor import CostlineInstrumentor

    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


@pytest.mark.usefixtures("httpx2_instrumented", "costline_instrumented", "attributed")
async def test_costline_wrappers_hide_attribution_for_every_call_shape(
    mock_provider: MockProvider,
    otel_spans: InMemorySpanExporter,
    ant: anthropic.Anthropic,
    oai: openai.OpenAI,
    aoai: openai.AsyncOpenAI,
) -> None:
    """No manual hiding here: costline's own SDK wrappers enter hide_attribution_from_propagation."""
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    ant.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=messages)
    with ant.messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=messages) as stream:
        stream.until_done()
    oai.chat.completions.create(model="gpt-4o-mini", messages=messages)
    list(oai.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
    await aoai.chat.completions.create(model="gpt-4o-mini", messages=messages)

    assert len(mock_provider.requests) == 5
    for request in mock_provider.requests:
        _assert_private(request)
    spans = _spans_by_scope(otel_spans)
    assert len(spans[attributes.INSTRUMENTATION_SCOPE]) == 5
    for span_attributes in spans[attributes.INSTRUMENTATION_SCOPE] + spans[HTTPX_SCOPE]:
        _assert_attributed(span_attributes)


@pytest.mark.usefixtures("httpx2_instrumented", "costline_instrumented", "attributed")
async def test_gemini_calls_send_no_attribution(
    mock_provider: MockProvider, otel_spans: InMemorySpanExporter
) -> None:
    """google-genai's sync stream sends its request at the first `next()`, after the wrapped call returned:
    that first step runs hidden too. The Gemini API and Vertex AI clients both go through httpx2 (async
    calls too: with aiohttp installed the SDK would take it for them, where no injector is live)."""
    import httpx2

    from gemini_clients import GEMINI_MODEL, gemini_client, vertex_client

    def on_httpx2() -> dict[str, object]:
        return {"async_client_args": {"transport": httpx2.AsyncHTTPTransport()}}

    for client in (
        gemini_client(mock_provider.gemini_base_url, **on_httpx2()),
        vertex_client(mock_provider.gemini_base_url, **on_httpx2()),
    ):
        with client:
            client.models.generate_content(model=GEMINI_MODEL, contents="hi")
            list(client.models.generate_content_stream(model=GEMINI_MODEL, contents="hi"))
            async with client.aio as aio:
                await aio.models.generate_content(model=GEMINI_MODEL, contents="hi")
                [
                    chunk
                    async for chunk in await aio.models.generate_content_stream(
                        model=GEMINI_MODEL, contents="hi"
                    )
                ]

    assert len(mock_provider.requests) == 8
    for request in mock_provider.requests:
        _assert_private(request)
    spans = _spans_by_scope(otel_spans)
    assert len(spans[attributes.INSTRUMENTATION_SCOPE]) == 8
    assert len(spans[HTTPX_SCOPE]) == 8
    for span_attributes in spans[attributes.INSTRUMENTATION_SCOPE] + spans[HTTPX_SCOPE]:
        _assert_attributed(span_attributes)


@pytest.fixture
def botocore_propagating(otel_spans: InMemorySpanExporter) -> Iterator[None]:
    """opentelemetry-instrumentation-botocore injecting the global W3C propagators (baggage included) into
    every AWS request, instead of its default X-Ray header."""
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.propagate import get_global_textmap

    instrumentor = BotocoreInstrumentor()
    instrumentor.instrument(propagator=get_global_textmap())
    yield
    instrumentor.uninstrument()


def _bedrock_calls(mock_provider: MockProvider) -> None:
    from bedrock_clients import CLAUDE, MESSAGES, bedrock_client, invoke_body

    client = bedrock_client(mock_provider.bedrock_endpoint_url)
    client.converse(modelId=CLAUDE, messages=MESSAGES)
    list(client.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"])
    client.invoke_model(modelId=CLAUDE, body=invoke_body("anthropic"))["body"].read()
    list(client.invoke_model_with_response_stream(modelId=CLAUDE, body=invoke_body("anthropic"))["body"])
    client.close()


@pytest.mark.usefixtures("botocore_propagating", "attributed")
def test_without_costline_botocore_propagation_leaks_attribution(mock_provider: MockProvider) -> None:
    _bedrock_calls(mock_provider)
    assert len(mock_provider.requests) == 4
    for request in mock_provider.requests:
        assert ATTRIBUTION[attributes.WORKFLOW_ID] in request.headers["baggage"]


@pytest.mark.usefixtures("botocore_propagating", "costline_instrumented", "attributed")
def test_bedrock_calls_send_no_attribution(
    mock_provider: MockProvider, otel_spans: InMemorySpanExporter
) -> None:
    _bedrock_calls(mock_provider)

    assert len(mock_provider.requests) == 4
    for request in mock_provider.requests:
        _assert_private(request)
    spans = _spans_by_scope(otel_spans)
    assert len(spans[attributes.INSTRUMENTATION_SCOPE]) == 4
    for span_attributes in spans[attributes.INSTRUMENTATION_SCOPE]:
        _assert_attributed(span_attributes)
