"""What the instrumentation benchmarks share: canned provider answers and the timing shims.

The real SDK clients answer from an `httpx2.MockTransport` serving these bytes (no sockets), so each
benchmark measures the SDK's and the instrumentation's own work, not a network. Importing this module
imports no LLM SDK: bench_peers.py sets the SDKs' environment before it imports them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

# costline's own work per stream chunk, the target (bench_instrumentation.py and bench_peers.py)
TARGET_PER_CHUNK_US = 1.0  # costline's own work per stream chunk (bench_peers.py has the same)
MESSAGES = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
GEMINI_USAGE = {
    "promptTokenCount": 120,
    "cachedContentTokenCount": 40,
    "candidatesTokenCount": 23,
    "thoughtsTokenCount": 7,
    "totalTokenCount": 150,
}
CLOCK = time.thread_time_ns


class NullExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def chat_body() -> bytes:
    message = {"role": "assistant", "content": "Hello!", "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini"}
    return json.dumps({**body, "choices": [choice], "usage": USAGE}).encode()


def chat_sse(chunks: int) -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    events = []
    for index in range(chunks):
        finish = "stop" if index == chunks - 1 else None
        choice = {"index": 0, "delta": {"content": "tok"}, "logprobs": None, "finish_reason": finish}
        events.append({**base, "choices": [choice], "usage": None})
    events.append({**base, "choices": [], "usage": USAGE})
    return (
        b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"
    )


def anthropic_body() -> bytes:
    split = {"ephemeral_5m_input_tokens": 15, "ephemeral_1h_input_tokens": 5}
    usage = {"input_tokens": 60, "cache_read_input_tokens": 40, "cache_creation_input_tokens": 20}
    usage |= {"output_tokens": 30, "cache_creation": split}
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test-model"}
    body |= {
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
    }
    return json.dumps({**body, "usage": usage}).encode()


def gemini_chunk(text: str, finish: str | None, usage: dict[str, int]) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash"}
    return {**body, "responseId": "resp-1"}


def gemini_sse(chunks: int) -> bytes:
    prompt = {"promptTokenCount": 120, "cachedContentTokenCount": 40, "totalTokenCount": 120}
    events = [
        gemini_chunk("tok", "STOP" if last else None, GEMINI_USAGE if last else prompt)
        for last in (index == chunks - 1 for index in range(chunks))
    ]
    return b"".join(b"data: " + json.dumps(event).encode() + b"\r\n\r\n" for event in events)


def mock_transport(streams: dict[str, bytes]) -> httpx2.MockTransport:
    chat, messages, json_type = chat_body(), anthropic_body(), {"content-type": "application/json"}
    gemini = json.dumps(gemini_chunk("Hello!", "STOP", GEMINI_USAGE)).encode()

    def handle(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/messages"):
            return httpx2.Response(200, content=messages, headers=json_type)
        if request.url.path.endswith(":generateContent"):
            return httpx2.Response(200, content=gemini, headers=json_type)
        if request.url.path.endswith(":streamGenerateContent"):
            model = request.url.path.rsplit("/", 1)[-1].split(":")[0]
            return httpx2.Response(200, content=streams[model], headers={"content-type": "text/event-stream"})
        payload = json.loads(request.content)
        if payload.get("stream"):
            return httpx2.Response(
                200, content=streams[payload["model"]], headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, content=chat, headers=json_type)

    return httpx2.MockTransport(handle)


class InnerClock:
    """A wrapt wrapper timing the wrapped SDK method itself; `total` accumulates, `reset()` zeroes."""

    def __init__(self) -> None:
        self.total = 0

    def __call__(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        start = CLOCK()
        try:
            return wrapped(*args, **kwargs)
        finally:
            self.total += CLOCK() - start


class TimedIterator:
    """What a timed generator function returns: its generator, each `next()` timed into a clock."""

    __slots__ = ("_clock", "_iterator")

    def __init__(self, iterator: Iterator[Any], clock: InnerClock) -> None:
        self._iterator, self._clock = iterator, clock

    def __iter__(self) -> TimedIterator:
        return self

    def __next__(self) -> Any:
        start = CLOCK()
        try:
            return next(self._iterator)
        finally:
            self._clock.total += CLOCK() - start

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()


def timed_generator(clock: InnerClock) -> Callable[..., Any]:
    """A wrapt wrapper for a generator function: what it returns, each `next()` timed into `clock`."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        return TimedIterator(wrapped(*args, **kwargs), clock)

    return wrapper
