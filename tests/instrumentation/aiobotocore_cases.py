"""aiobotocore's Bedrock Runtime client: converse, converse_stream, invoke_model and its stream, awaited.

Not collected in the main venv: aiobotocore pins an older botocore than the boto3 costline tests there, so
tests/test_sdk_versions.py builds a venv with the newest aiobotocore and runs this file in it. A real
aiobotocore client (dummy credentials, `endpoint_url` on 127.0.0.1, aiohttp) talks to the fake provider, which
reports usage as Bedrock does (Converse's `inputTokens` EXCLUDES the cache reads and writes).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError
from llm_harness import assert_typed, attrs, llm_spans, only_span, usage_of
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import costline
from costline import attributes as a
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": [{"text": "hi"}]}]
ANTHROPIC_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
)
USAGE = MockUsage(input_tokens=1_000, output_tokens=80, cache_read_tokens=300, cache_write_tokens=200)
EXPECTED_USAGE = {
    a.GEN_AI_USAGE_INPUT_TOKENS: 1_000,
    a.GEN_AI_USAGE_OUTPUT_TOKENS: 80,
    a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 300,
    a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 200,
}
TEXT = "Hello from the mock Bedrock, in five pieces."
Session = Callable[[Any], Awaitable[None]]


@pytest.fixture
def bedrock_session(fake_provider: MockProvider) -> Callable[[Session], None]:
    """Run `body(client)` with an aiobotocore bedrock-runtime client, in a fresh event loop."""
    fake_provider.default = MockBehaviour(usage=USAGE, text=TEXT, chunks=5)

    async def with_client(body: Session) -> None:
        async with get_session().create_client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=fake_provider.bedrock_endpoint_url,
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1}),
        ) as client:
            await body(client)

    return lambda body: asyncio.run(with_client(body))


def _checked(span: Any, instrumentation: str, request_id: str) -> dict[str, Any]:
    values = attrs(span)
    assert_typed(values)
    assert span.name == f"{a.OPERATION_CHAT} {CLAUDE}"
    assert values[a.GEN_AI_PROVIDER_NAME] == a.PROVIDER_AWS_BEDROCK
    assert values[a.GEN_AI_REQUEST_MODEL] == CLAUDE
    assert values[a.CLOUD_REGION] == "us-east-1"
    assert values[a.LLM_INSTRUMENTATION] == instrumentation
    assert values[a.GEN_AI_RESPONSE_ID] == values[a.AWS_REQUEST_ID] == request_id
    assert a.ERROR_TYPE not in values
    return values


def _usage(values: dict[str, Any]) -> dict[str, Any]:
    """The semconv usage counts (the 1-hour cache-write share is tests/instrumentation/test_bedrock.py's)."""
    return {key: value for key, value in usage_of(values).items() if key in EXPECTED_USAGE}


def test_converse_usage_is_inclusive(
    instrumented: InMemorySpanExporter, bedrock_session: Callable[[Session], None]
) -> None:
    answers: list[Any] = []

    async def body(client: Any) -> None:
        with costline.workflow("support", tenant_id="acme"):
            answers.append(await client.converse(modelId=CLAUDE, messages=MESSAGES))

    bedrock_session(body)
    (response,) = answers
    assert response["usage"]["inputTokens"] == 500  # Bedrock's own, exclusive count, untouched
    values = _checked(only_span(instrumented), "bedrock.converse", response["ResponseMetadata"]["RequestId"])
    assert _usage(values) == EXPECTED_USAGE
    assert (values[a.WORKFLOW_ID], values[a.TENANT_ID]) == ("support", "acme")


def test_streams_end_their_span_with_the_usage(
    instrumented: InMemorySpanExporter, bedrock_session: Callable[[Session], None]
) -> None:
    async def events(stream: AsyncIterator[Any]) -> list[Any]:
        return [event async for event in stream]

    ids: list[str] = []

    async def body(client: Any) -> None:
        with costline.workflow("support"):
            response = await client.converse_stream(modelId=CLAUDE, messages=MESSAGES)
            assert llm_spans(instrumented) == []  # open until the stream is read
            got = await events(response["stream"])
            assert (
                "".join(e["contentBlockDelta"]["delta"]["text"] for e in got if "contentBlockDelta" in e)
                == TEXT
            )
            ids.append(response["ResponseMetadata"]["RequestId"])
            response = await client.invoke_model_with_response_stream(modelId=CLAUDE, body=ANTHROPIC_BODY)
            chunks = [json.loads(event["chunk"]["bytes"]) for event in await events(response["body"])]
            assert "amazon-bedrock-invocationMetrics" in chunks[-1]
            ids.append(response["ResponseMetadata"]["RequestId"])

    bedrock_session(body)
    converse, invoke = sorted(llm_spans(instrumented), key=lambda span: span.start_time or 0)
    for span, surface, request_id in (
        (converse, "bedrock.converse_stream", ids[0]),
        (invoke, "bedrock.invoke_model_with_response_stream", ids[1]),
    ):
        values = _checked(span, surface, request_id)
        assert values[a.GEN_AI_REQUEST_STREAM] is True
        assert _usage(values) == EXPECTED_USAGE
        assert values[a.WORKFLOW_ID] == "support"


def test_invoke_model_usage_from_headers(
    instrumented: InMemorySpanExporter, bedrock_session: Callable[[Session], None]
) -> None:
    async def body(client: Any) -> None:
        response = await client.invoke_model(modelId=CLAUDE, body=ANTHROPIC_BODY)
        assert only_span(instrumented).end_time is not None  # ended before the app read the body
        async with response["body"] as stream:
            assert TEXT in json.dumps(json.loads(await stream.read()))
        values = _checked(
            only_span(instrumented), "bedrock.invoke_model", response["ResponseMetadata"]["RequestId"]
        )
        assert _usage(values) == EXPECTED_USAGE

    bedrock_session(body)


def test_closed_stream_ends_its_span_once(
    instrumented: InMemorySpanExporter, bedrock_session: Callable[[Session], None]
) -> None:
    async def body(client: Any) -> None:
        stream = (await client.converse_stream(modelId=CLAUDE, messages=MESSAGES))["stream"]
        await stream.__anext__()
        await stream.close()
        await stream.close()

    bedrock_session(body)
    values = attrs(only_span(instrumented))
    assert values[a.LLM_USAGE_ESTIMATED] is True
    assert a.ERROR_TYPE not in values


def test_http_error_is_raised_unchanged_and_recorded(
    instrumented: InMemorySpanExporter,
    fake_provider: MockProvider,
    bedrock_session: Callable[[Session], None],
) -> None:
    async def body(client: Any) -> None:
        fake_provider.enqueue(MockBehaviour(error_status=429, error_message="slow down"))
        with pytest.raises(ClientError) as raised:
            await client.converse(modelId=CLAUDE, messages=MESSAGES)
        assert type(raised.value) is client.exceptions.ThrottlingException

    bedrock_session(body)
    span = only_span(instrumented)
    assert attrs(span)[a.ERROR_TYPE] == "429"
    assert span.status.status_code is StatusCode.ERROR


def test_other_aws_calls_are_not_traced(
    instrumented: InMemorySpanExporter, bedrock_session: Callable[[Session], None]
) -> None:
    async def body(client: Any) -> None:
        with pytest.raises(ClientError):  # the fake provider knows no guardrails: 404, untraced
            await client.apply_guardrail(
                guardrailIdentifier="g",
                guardrailVersion="1",
                source="INPUT",
                content=[{"text": {"text": "x"}}],
            )

    bedrock_session(body)
    assert llm_spans(instrumented) == []
