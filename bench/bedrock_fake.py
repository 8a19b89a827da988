"""A boto3 `bedrock-runtime` client answered in-process, for the instrumentation benchmark (no sockets).

botocore lets a `before-send` handler return the HTTP response itself, so the request is built, signed and
its response parsed exactly as for a real call, only the network is skipped. Converse answers JSON;
ConverseStream answers AWS event-stream bytes (the fake provider's encoder), `chunks` text deltas then the
metadata event with the usage. An STS client answered the same way is the "any other AWS call" case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from costline_processor.mock_provider import eventstream

USAGE = {
    "inputTokens": 60,
    "outputTokens": 30,
    "totalTokens": 150,
    "cacheReadInputTokens": 40,
    "cacheWriteInputTokens": 20,
}
MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]
_CONVERSE = json.dumps(
    {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
        "stopReason": "end_turn",
        "usage": USAGE,
        "metrics": {"latencyMs": 1},
    }
).encode()
_STS = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    b"<Arn>arn:aws:iam::123456789012:user/bench</Arn><UserId>AIDA</UserId><Account>123456789012</Account>"
    b"</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
    b"</GetCallerIdentityResponse>"
)


class _Raw:
    """The urllib3 response botocore reads a body from: `stream()` is all it needs."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def converse_stream_bytes(chunks: int) -> bytes:
    delta = eventstream.event("contentBlockDelta", {"delta": {"text": "tok"}, "contentBlockIndex": 0}).data
    metadata = eventstream.event("metadata", {"usage": USAGE, "metrics": {"latencyMs": 1}}).data
    stop = eventstream.event("messageStop", {"stopReason": "end_turn"}).data
    return delta * chunks + stop + metadata


def _answer(streams: dict[str, bytes]) -> Any:
    def send(request: Any, **_: Any) -> AWSResponse:
        url = request.url
        if url.endswith("/converse"):
            headers = {"content-type": "application/json", "x-amzn-requestid": "req-1"}
            return AWSResponse(url, 200, headers, _Raw(_CONVERSE))
        if url.endswith("/converse-stream"):
            model = url.rsplit("/", 2)[-2]
            headers = {"content-type": eventstream.CONTENT_TYPE, "x-amzn-requestid": "req-2"}
            return AWSResponse(url, 200, headers, _Raw(streams[model]))
        return AWSResponse(url, 200, {"content-type": "text/xml"}, _Raw(_STS))

    return send


def clients(lengths: tuple[int, ...]) -> tuple[Any, Any]:
    """(bedrock-runtime client, sts client), both answered in-process; stream model `str(n)` has n chunks."""
    streams = {str(length): converse_stream_bytes(length) for length in lengths}
    common: dict[str, Any] = {
        "region_name": "us-east-1",
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
    }
    bedrock = boto3.client("bedrock-runtime", **common)
    sts = boto3.client("sts", **common)
    for client, service in ((bedrock, "bedrock-runtime"), (sts, "sts")):
        client.meta.events.register(f"before-send.{service}", _answer(streams))
    return bedrock, sts
