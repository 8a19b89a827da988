"""boto3 Bedrock Runtime: converse, converse_stream, invoke_model and its stream, for each model family.

Real `boto3` clients (dummy credentials, `endpoint_url` on 127.0.0.1) talk to the fake provider, which reports
usage as Bedrock does: Converse's `inputTokens` and InvokeModel's token-count headers EXCLUDE the cache reads
and writes. The spans must carry semconv's inclusive usage, the region, and the AWS request id.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.eventstream import EventStream
from botocore.exceptions import ClientError, EventStreamError
from llm_harness import assert_typed, attrs, llm_spans, only_span, usage_of
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from urllib3.exceptions import ProtocolError

import costline
from bedrock_clients import CLAUDE, FAMILY_MODELS, MESSAGES, bedrock_client, invoke_body
from costline import attributes as a
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockToolCall, MockUsage

# On the wire: 500 uncached input (plus 300 read from the cache, 200 written, 50 of those for 1 hour).
USAGE = MockUsage(
    input_tokens=1_000,
    output_tokens=80,
    cache_read_tokens=300,
    cache_write_tokens=200,
    cache_write_1h_tokens=50,
)
EXPECTED_USAGE = {
    a.GEN_AI_USAGE_INPUT_TOKENS: 1_000,
    a.GEN_AI_USAGE_OUTPUT_TOKENS: 80,
    a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 300,
    a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 200,
}
TEXT = "Hello from the mock Bedrock, in five pieces."
# Converse's `cacheDetails` (cache writes by TTL) is newer than botocore 1.40, whose parser drops it: the
# 1-hour share is then unknown and the writes count as 5-minute ones.
CACHE_DETAILS = (
    "cacheDetails" in bedrock_client("http://127.0.0.1:9").meta.service_model.shape_for("TokenUsage").members
)


@pytest.fixture
def bedrock(fake_provider: MockProvider) -> Iterator[Any]:
    fake_provider.default = MockBehaviour(usage=USAGE, text=TEXT, chunks=5)
    client = bedrock_client(fake_provider.bedrock_endpoint_url)
    yield client
    client.close()


def _check(span: ReadableSpan, instrumentation: str, model: str = CLAUDE) -> dict[str, Any]:
    values = attrs(span)
    assert_typed(values)
    assert span.name == f"{a.OPERATION_CHAT} {model}"
    assert values[a.GEN_AI_OPERATION_NAME] == a.OPERATION_CHAT
    assert values[a.GEN_AI_PROVIDER_NAME] == a.PROVIDER_AWS_BEDROCK
    assert values[a.GEN_AI_REQUEST_MODEL] == model
    assert values[a.CLOUD_REGION] == "us-east-1"
    assert values[a.SERVER_ADDRESS] == "127.0.0.1"
    assert values[a.LLM_INSTRUMENTATION] == instrumentation
    return values


def _complete(values: dict[str, Any], request_id: str, with_1h: bool = CACHE_DETAILS) -> None:
    assert values[a.GEN_AI_RESPONSE_ID] == values[a.AWS_REQUEST_ID] == request_id
    expected = {**EXPECTED_USAGE, a.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS: 50} if with_1h else EXPECTED_USAGE
    assert usage_of(values) == expected
    assert a.LLM_USAGE_ESTIMATED not in values
    assert a.ERROR_TYPE not in values


def test_converse_usage_is_inclusive(instrumented: InMemorySpanExporter, bedrock: Any) -> None:
    with costline.workflow("support", tenant_id="acme"):
        response = bedrock.converse(
            modelId=CLAUDE, messages=MESSAGES, inferenceConfig={"maxTokens": 256, "temperature": 0.5}
        )

    # What the app gets is Bedrock's own answer, untouched: the exclusive count peers misread.
    assert response["usage"]["inputTokens"] == 500
    assert response["output"]["message"]["content"] == [{"text": TEXT}]
    values = _check(only_span(instrumented), "bedrock.converse")
    _complete(values, response["ResponseMetadata"]["RequestId"])
    assert values[a.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert values[a.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert values[a.GEN_AI_REQUEST_TEMPERATURE] == pytest.approx(0.5)
    assert (values[a.WORKFLOW_ID], values[a.TENANT_ID]) == ("support", "acme")


def test_region_is_the_client_s(instrumented: InMemorySpanExporter, fake_provider: MockProvider) -> None:
    client = bedrock_client(fake_provider.bedrock_endpoint_url, region="eu-west-3")
    client.converse(modelId="eu.anthropic.claude-sonnet-4-5-20250929-v1:0", messages=MESSAGES)
    assert attrs(only_span(instrumented))[a.CLOUD_REGION] == "eu-west-3"


def test_converse_stream_ends_its_span_with_the_metadata_usage(
    instrumented: InMemorySpanExporter, bedrock: Any
) -> None:
    response = bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)
    stream = response["stream"]
    assert isinstance(stream, EventStream)
    assert llm_spans(instrumented) == []  # open until the stream is read

    events = list(stream)

    assert (
        "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e) == TEXT
    )
    assert events[-1]["metadata"]["usage"]["inputTokens"] == 500
    values = _check(only_span(instrumented), "bedrock.converse_stream")
    assert values[a.GEN_AI_REQUEST_STREAM] is True
    _complete(values, response["ResponseMetadata"]["RequestId"])
    assert values[a.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)


@pytest.mark.parametrize("family", list(FAMILY_MODELS))
def test_invoke_model_usage_from_headers_body_left_to_the_app(
    instrumented: InMemorySpanExporter, bedrock: Any, family: str
) -> None:
    model = FAMILY_MODELS[family]
    response = bedrock.invoke_model(modelId=model, body=invoke_body(family))

    assert only_span(instrumented).end_time is not None  # ended before the app read the body
    body = json.loads(response["body"].read())
    assert TEXT in json.dumps(body)
    values = _check(only_span(instrumented), "bedrock.invoke_model", model)
    _complete(values, response["ResponseMetadata"]["RequestId"], with_1h=False)


@pytest.mark.parametrize("family", list(FAMILY_MODELS))
def test_invoke_model_stream_usage_from_the_invocation_metrics(
    instrumented: InMemorySpanExporter, bedrock: Any, family: str
) -> None:
    model = FAMILY_MODELS[family]
    response = bedrock.invoke_model_with_response_stream(modelId=model, body=invoke_body(family))
    assert isinstance(response["body"], EventStream)

    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]

    assert "amazon-bedrock-invocationMetrics" in chunks[-1]
    values = _check(only_span(instrumented), "bedrock.invoke_model_with_response_stream", model)
    # Only Anthropic's message_start tells the 1-hour part of the cache writes.
    _complete(values, response["ResponseMetadata"]["RequestId"], with_1h=family == "anthropic")
    reason = {"anthropic": "end_turn", "nova": "end_turn"}.get(family, "stop")
    assert values[a.GEN_AI_RESPONSE_FINISH_REASONS] == (reason,)


def test_embedding_model_is_an_embeddings_span(instrumented: InMemorySpanExporter, bedrock: Any) -> None:
    model = "amazon.titan-embed-text-v2:0"
    bedrock.invoke_model(modelId=model, body=json.dumps({"inputText": "hi"}))
    span = only_span(instrumented)
    assert span.name == f"{a.OPERATION_EMBEDDINGS} {model}"
    assert attrs(span)[a.GEN_AI_OPERATION_NAME] == a.OPERATION_EMBEDDINGS


def test_tool_use_turn(instrumented: InMemorySpanExporter, fake_provider: MockProvider, bedrock: Any) -> None:
    tool = MockToolCall("get_weather", {"city": "Oslo"})
    fake_provider.enqueue(MockBehaviour(usage=MockUsage(400, 30), text="", tool_calls=(tool,)))
    bedrock.converse(modelId=CLAUDE, messages=MESSAGES)
    values = attrs(only_span(instrumented))
    assert values[a.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert usage_of(values) == {
        a.GEN_AI_USAGE_INPUT_TOKENS: 400,
        a.GEN_AI_USAGE_OUTPUT_TOKENS: 30,
        a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 0,
    }


@pytest.mark.parametrize("operation", ["converse", "converse_stream", "invoke_model"])
def test_http_error_is_raised_unchanged_and_recorded(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider, bedrock: Any, operation: str
) -> None:
    fake_provider.enqueue(MockBehaviour(error_status=429, error_message="slow down"))

    def call() -> Any:
        if operation == "invoke_model":
            return bedrock.invoke_model(modelId=CLAUDE, body=invoke_body("anthropic"))
        return getattr(bedrock, operation)(modelId=CLAUDE, messages=MESSAGES)

    with pytest.raises(ClientError) as raised:
        call()

    assert type(raised.value) is bedrock.exceptions.ThrottlingException
    span = only_span(instrumented)
    values = attrs(span)
    assert values[a.ERROR_TYPE] == "429"
    assert span.status.status_code is StatusCode.ERROR
    assert a.GEN_AI_USAGE_INPUT_TOKENS not in values


@pytest.mark.parametrize("operation", ["converse_stream", "invoke_model_with_response_stream"])
def test_cut_stream_and_in_stream_error(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider, bedrock: Any, operation: str
) -> None:
    fake_provider.enqueue(
        MockBehaviour(usage=USAGE, chunks=5, fail_after_events=3),
        MockBehaviour(usage=USAGE, chunks=5, fail_after_events=3, fail_with_error_event=True),
    )

    def stream() -> Any:
        if operation == "converse_stream":
            return bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"]
        return bedrock.invoke_model_with_response_stream(modelId=CLAUDE, body=invoke_body("anthropic"))[
            "body"
        ]

    for error in (ProtocolError, EventStreamError):
        events = stream()
        with pytest.raises(error):
            list(events)
        events.close()

    cut, in_stream = sorted(llm_spans(instrumented), key=lambda span: span.start_time or 0)
    assert attrs(cut)[a.ERROR_TYPE] == "ProtocolError"
    assert attrs(in_stream)[a.ERROR_TYPE] == "modelStreamErrorException"
    for span in (cut, in_stream):
        values = attrs(span)
        assert span.status.status_code is StatusCode.ERROR
        assert values[a.LLM_USAGE_ESTIMATED] is True
        assert a.GEN_AI_USAGE_OUTPUT_TOKENS not in values
        if operation == "converse_stream":  # the usage only comes with the last event
            assert a.GEN_AI_USAGE_INPUT_TOKENS not in values
        else:  # Anthropic's message_start already told the input side
            assert values[a.GEN_AI_USAGE_INPUT_TOKENS] == 1_000


def test_closed_stream_ends_its_span_once(instrumented: InMemorySpanExporter, bedrock: Any) -> None:
    stream = bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"]
    next(iter(stream))
    stream.close()
    stream.close()

    values = attrs(only_span(instrumented))
    assert values[a.LLM_USAGE_ESTIMATED] is True
    assert a.ERROR_TYPE not in values


# The app drops a stream it did not close: urllib3's socket is left to the collector, which warns.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_abandoned_stream_ends_its_span_once(instrumented: InMemorySpanExporter, bedrock: Any) -> None:
    abandoned = bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"]
    next(iter(abandoned))
    del abandoned
    gc.collect()

    values = attrs(only_span(instrumented))
    assert values[a.LLM_USAGE_ESTIMATED] is True
    assert a.ERROR_TYPE not in values


def test_other_aws_calls_are_not_traced(
    instrumented: InMemorySpanExporter, fake_provider: MockProvider
) -> None:
    import boto3

    control_plane = boto3.client(
        "bedrock",  # the Bedrock control plane: no model call, not billed per token
        region_name="us-east-1",
        endpoint_url=fake_provider.url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with pytest.raises(ClientError):  # the fake provider serves no control plane: 404
        control_plane.list_foundation_models()
    assert llm_spans(instrumented) == []


def test_captured_content(otel_spans: InMemorySpanExporter, bedrock: Any) -> None:
    from costline.instrumentor import CostlineInstrumentor

    instrumentor = CostlineInstrumentor()
    instrumentor.instrument(capture_content=True)
    try:
        bedrock.converse(modelId=CLAUDE, messages=MESSAGES, system=[{"text": "be brief"}])
        list(bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"])
        list(bedrock.invoke_model_with_response_stream(modelId=CLAUDE, body=invoke_body("anthropic"))["body"])
    finally:
        instrumentor.uninstrument()

    spans = sorted(llm_spans(otel_spans), key=lambda span: span.start_time or 0)
    assert len(spans) == 3
    assert "be brief" in attrs(spans[0])[a.GEN_AI_INPUT_MESSAGES]
    assert '"hi"' in attrs(spans[2])[a.GEN_AI_INPUT_MESSAGES]
    for span in spans:
        assert TEXT in attrs(span)[a.GEN_AI_OUTPUT_MESSAGES]


class InjectedFault(RuntimeError):
    pass


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise InjectedFault("costline bug")


@pytest.fixture
def swallowing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production mode: costline's own errors are logged once and swallowed."""
    from costline import _safety

    monkeypatch.setenv("COSTLINE_SWALLOW_INTERNAL_ERRORS", "1")
    monkeypatch.setattr(_safety, "_reported", set())


@pytest.mark.usefixtures("swallowing")
def test_our_faults_never_change_the_app_s_results(
    monkeypatch: pytest.MonkeyPatch, instrumented: InMemorySpanExporter, bedrock: Any
) -> None:
    from costline import bedrock_converse, bedrock_invoke

    monkeypatch.setattr(bedrock_converse, "write_usage", _boom)
    monkeypatch.setattr(bedrock_converse.ConverseStreamState, "observe", _boom)
    monkeypatch.setattr(bedrock_invoke.InvokeStreamState, "observe", _boom)
    monkeypatch.setattr(bedrock_invoke, "write_exclusive_usage", _boom)
    monkeypatch.setattr(bedrock_converse, "_request", _boom)

    response = bedrock.converse(modelId=CLAUDE, messages=MESSAGES)
    events = list(bedrock.converse_stream(modelId=CLAUDE, messages=MESSAGES)["stream"])
    body = bedrock.invoke_model(modelId=CLAUDE, body=invoke_body("anthropic"))["body"].read()
    chunks = list(
        bedrock.invoke_model_with_response_stream(modelId=CLAUDE, body=invoke_body("anthropic"))["body"]
    )

    assert response["output"]["message"]["content"] == [{"text": TEXT}]
    assert events[-1]["metadata"]["usage"]["inputTokens"] == 500
    assert TEXT in body.decode()
    assert len(chunks) > 3
    spans = llm_spans(instrumented)
    assert len(spans) == 4
    assert all(span.end_time is not None for span in spans)


def test_under_pytest_our_bugs_surface(
    monkeypatch: pytest.MonkeyPatch, instrumented: InMemorySpanExporter, bedrock: Any
) -> None:
    from costline import bedrock_converse

    monkeypatch.delenv("COSTLINE_SWALLOW_INTERNAL_ERRORS", raising=False)
    monkeypatch.setattr(bedrock_converse, "write_usage", _boom)
    with pytest.raises(InjectedFault):
        bedrock.converse(modelId=CLAUDE, messages=MESSAGES)
    assert only_span(instrumented).end_time is not None
