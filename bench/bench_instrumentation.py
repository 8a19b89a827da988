"""What costline's instrumentation adds to an LLM SDK call, measured in-process (no sockets).

    .venv/bin/python bench/bench_instrumentation.py --out bench/results/instrumentation.json

Real openai/anthropic clients use an `httpx2.MockTransport` that answers canned JSON / SSE bytes, so the
numbers are the SDK's own cost plus ours, without network noise. Reported (medians, microseconds):

- `added_per_call_us`: instrumented minus uninstrumented non-streamed call (>= 1000 calls each);
- `bare_span_us`: starting and ending one bare OTel SDK span with the same attributes, on the same
  provider (a no-op exporter behind a SimpleSpanProcessor), the floor any span-producing tool pays;
- `ratio_to_bare_span` = added_per_call / bare_span (target <= 1.3);
- `added_per_chunk_us`: the per-chunk slope of streams of two lengths, instrumented minus plain
  (target <= 3).

Instrumented and plain runs alternate in blocks so machine load drifts affect both alike; times are
the thread's CPU time (a shared machine's scheduling noise is not a cost of the code measured).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from costline import attributes as a
from costline.instrumentor import CostlineInstrumentor

TARGET_RATIO = 1.3
TARGET_PER_CHUNK_US = 3.0
MESSAGES = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}


class NullExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _chat_body() -> bytes:
    message = {"role": "assistant", "content": "Hello!", "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini"}
    return json.dumps({**body, "choices": [choice], "usage": USAGE}).encode()


def _chat_sse(chunks: int) -> bytes:
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


def _anthropic_body() -> bytes:
    usage = {"input_tokens": 60, "cache_read_input_tokens": 40, "cache_creation_input_tokens": 20}
    usage |= {
        "output_tokens": 30,
        "cache_creation": {"ephemeral_5m_input_tokens": 15, "ephemeral_1h_input_tokens": 5},
    }
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test-model"}
    body |= {
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
    }
    return json.dumps({**body, "usage": usage}).encode()


def _transport(stream_chunks: dict[str, bytes]) -> httpx2.MockTransport:
    chat, messages = _chat_body(), _anthropic_body()

    def handle(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/messages"):
            return httpx2.Response(200, content=messages, headers={"content-type": "application/json"})
        payload = json.loads(request.content)
        if payload.get("stream"):
            sse = stream_chunks[payload["model"]]
            return httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, content=chat, headers={"content-type": "application/json"})

    return httpx2.MockTransport(handle)


def _median_us(function: Callable[[], Any], repeat: int) -> float:
    # Thread CPU time, not wall time: the benchmark shares its cores with other work, and being
    # descheduled is not a cost of the code measured. Everything here runs in this one thread.
    samples = []
    clock = time.thread_time_ns
    for _ in range(repeat):
        start = clock()
        function()
        samples.append(clock() - start)
    return statistics.median(samples) / 1000


def _alternating(function: Callable[[], Any], calls: int, blocks: int) -> tuple[float, float]:
    """(plain, instrumented) medians of `function`, alternating blocks of each."""
    instrumentor = CostlineInstrumentor()
    plain: list[float] = []
    instrumented: list[float] = []
    for _ in range(blocks):
        plain.append(_median_us(function, calls // blocks))
        instrumentor.instrument()
        try:
            instrumented.append(_median_us(function, calls // blocks))
        finally:
            instrumentor.uninstrument()
    return statistics.median(plain), statistics.median(instrumented)


def _bare_span_us(provider: TracerProvider, calls: int) -> float:
    tracer = provider.get_tracer("bench")
    start_attrs = {
        a.GEN_AI_PROVIDER_NAME: "openai",
        a.SERVER_ADDRESS: "api.openai.com",
        a.SERVER_PORT: 443,
        a.GEN_AI_OPERATION_NAME: "chat",
        a.LLM_INSTRUMENTATION: "openai.chat.completions",
        a.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        a.WORKFLOW_ID: "bench",
    }
    end_attrs = {
        a.GEN_AI_RESPONSE_ID: "chatcmpl-1",
        a.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
        a.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        a.GEN_AI_USAGE_INPUT_TOKENS: 120,
        a.GEN_AI_USAGE_OUTPUT_TOKENS: 30,
    }

    def one_span() -> None:
        span = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=start_attrs)
        span.set_attributes(end_attrs)
        span.end()

    return _median_us(one_span, calls)


def run(calls: int, small: int, large: int, stream_repeat: int) -> dict[str, Any]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    from opentelemetry import trace

    trace.set_tracer_provider(provider)
    transport = _transport({"small": _chat_sse(small), "large": _chat_sse(large)})
    oai = openai.OpenAI(
        api_key="k", max_retries=0, http_client=openai.DefaultHttpxClient(transport=transport)
    )
    ant = anthropic.Anthropic(
        api_key="k",
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(transport=transport),
        open_telemetry=False,  # the SDK's own span would blur both sides; costline suppresses it anyway
    )

    def chat() -> None:
        oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

    def message() -> None:
        ant.messages.create(model="claude-test-model", max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]

    def stream(model: str) -> Callable[[], None]:
        def consume() -> None:
            for _ in oai.chat.completions.create(model=model, messages=MESSAGES, stream=True):  # type: ignore[arg-type]
                pass

        return consume

    for function in (chat, message, stream("small")):  # warm up imports and caches
        _alternating(function, 40, 2)
    bare = _bare_span_us(provider, calls)
    results: dict[str, Any] = {"bare_span_us": round(bare, 2)}
    for name, function in (("openai_chat", chat), ("anthropic_messages", message)):
        plain, instrumented = _alternating(function, calls, 4)
        added = instrumented - plain
        results[name] = {
            "plain_us": round(plain, 2),
            "instrumented_us": round(instrumented, 2),
            "added_per_call_us": round(added, 2),
            "ratio_to_bare_span": round(added / bare, 3),
        }
    plain_small, instr_small = _alternating(stream("small"), stream_repeat, 4)
    plain_large, instr_large = _alternating(stream("large"), stream_repeat, 4)
    per_chunk = ((instr_large - instr_small) - (plain_large - plain_small)) / (large - small)
    results["openai_chat_stream"] = {
        "chunks": [small, large],
        "plain_us": [round(plain_small, 2), round(plain_large, 2)],
        "instrumented_us": [round(instr_small, 2), round(instr_large, 2)],
        "added_per_chunk_us": round(per_chunk, 3),
    }
    oai.close()
    ant.close()
    provider.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/instrumentation.json"))
    parser.add_argument("--calls", type=int, default=2000, help="non-streamed calls per variant (>= 1000)")
    parser.add_argument("--stream-repeat", type=int, default=200, help="streams per variant and length")
    args = parser.parse_args()
    if args.calls < 1000:
        parser.error("--calls must be >= 1000")
    results = run(args.calls, small=10, large=210, stream_repeat=args.stream_repeat)
    ratio = max(
        results["openai_chat"]["ratio_to_bare_span"], results["anthropic_messages"]["ratio_to_bare_span"]
    )
    per_chunk = results["openai_chat_stream"]["added_per_chunk_us"]
    report = {
        "benchmark": "instrumentation",
        "python": platform.python_version(),
        "openai": openai.__version__,
        "anthropic": anthropic.__version__,
        "calls": args.calls,
        "results": results,
        "targets": {"ratio_to_bare_span": TARGET_RATIO, "added_per_chunk_us": TARGET_PER_CHUNK_US},
        "meets_targets": ratio <= TARGET_RATIO and per_chunk <= TARGET_PER_CHUNK_US,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
