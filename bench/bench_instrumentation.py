"""What costline's instrumentation adds to an LLM SDK call, measured in-process (no sockets).

    .venv/bin/python bench/bench_instrumentation.py --out bench/results/instrumentation.json

Real openai/anthropic/google-genai clients use an `httpx2.MockTransport` answering canned JSON / SSE bytes;
a real boto3 `bedrock-runtime` client is answered by a `before-send` handler (`bedrock_fake`).
Each call's cost is split in place: a timing shim wrapped directly around the SDK method records the SDK's
own time ("inner"); everything outside it is what the wrappers above add. Three variants, alternating
in blocks: `plain` (shim only), `bare_span` (the shim under a minimal wrapper that starts and ends one
OTel SDK span with the same attributes as costline's: the floor any span-producing tool pays, measured
in the same position, i.e. with the SDK's cache footprint; its attributes are exactly those of
costline's span for that call) and `costline`. Reported, medians in us:

- `added_per_call_us` = costline - plain (>= 1000 non-streamed calls each);
- `bare_span_us` = bare_span - plain, and `ratio_to_bare_span` = added / bare (target <= 1.3);
- `bare_span_hot_us`: the same span started and ended in a tight loop (a best case, for reference);
- `added_per_chunk_us`: per-chunk slope (two stream lengths) of costline - plain (target <= 1), each
  stream read by a `for` loop as apps read them; the SDK's own per-chunk time (openai's `Stream.__stream__`
  generator, google-genai's per-request stream generator, botocore's `EventStream` iterator) is timed by a
  shim and left out;
- `aws_other_call.added_per_call_us`: what costline adds to an AWS call it does not trace (STS), which goes
  through the same wrapped `BaseClient._make_api_call`.

Times are the thread's CPU time: the benchmark shares its cores, and being descheduled is not a cost
of the code measured. Spans go to a no-op exporter behind a SimpleSpanProcessor on an SDK provider.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import boto3
import openai
import wrapt
from anthropic.resources.messages.messages import Messages
from botocore.client import BaseClient
from botocore.eventstream import EventStream
from google import genai
from google.genai import types as genai_types
from google.genai.models import Models
from openai.resources.chat.completions import Completions
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bedrock_fake import MESSAGES as BEDROCK_MESSAGES
from bedrock_fake import clients as bedrock_clients
from costline.instrumentor import CostlineInstrumentor
from sdk_fakes import (
    CLOCK,
    MESSAGES,
    TARGET_PER_CHUNK_US,
    InnerClock,
    NullExporter,
    chat_sse,
    gemini_sse,
    mock_transport,
    timed_generator,
)

TARGET_RATIO = 1.3
VARIANTS = ("plain", "bare_span", "costline")
# Attributes a span gets when the call's response is in (the rest are known when the span starts).
_END_PREFIXES = (
    "gen_ai.response.",
    "gen_ai.usage.",
    "llm.usage.",
    "llm.service_tier",
    "gen_ai.openai.response.",
)
BareSpan = tuple[str, dict[str, Any], dict[str, Any]]
Target = tuple[Any, str]  # (owner, method name) of a wrapped SDK method


def _costline_span(function: Callable[[], Any]) -> BareSpan:
    """Name, start and end attributes of the span costline makes for one call of `function`."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        function()
    finally:
        instrumentor.uninstrument()
    (span,) = exporter.get_finished_spans()
    values = dict(span.attributes or {})
    end = {key: value for key, value in values.items() if key.startswith(_END_PREFIXES)}
    return span.name, {key: value for key, value in values.items() if key not in end}, end


def _bare_span_wrapper(tracer: trace.Tracer, shape: BareSpan) -> Callable[..., Any]:
    name, start_attributes, end_attributes = shape

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=start_attributes)
        result = wrapped(*args, **kwargs)
        span.set_attributes(end_attributes)
        span.end()
        return result

    return wrapper


@contextmanager
def _variant(name: str, tracer: trace.Tracer, shapes: dict[Target, BareSpan]) -> Iterator[None]:
    """Install the wrappers of one variant on top of the inner clocks, and remove them after."""
    if name == "costline":
        instrumentor = CostlineInstrumentor()
        instrumentor.instrument()
        try:
            yield
        finally:
            instrumentor.uninstrument()
        return
    saved = {target: target[0].__dict__[target[1]] for target in shapes}
    if name == "bare_span":
        for owner, method in saved:
            wrapt.wrap_function_wrapper(owner, method, _bare_span_wrapper(tracer, shapes[owner, method]))
    try:
        yield
    finally:
        for (owner, method), original in saved.items():
            setattr(owner, method, original)


def _outside_us(function: Callable[[], Any], clock: InnerClock) -> Callable[[int], float]:
    """Median over calls of the time spent outside the SDK method (in the wrappers), in us."""

    def measure(repeat: int) -> float:
        samples = []
        for _ in range(repeat):
            clock.total = 0
            start = CLOCK()
            function()
            samples.append(CLOCK() - start - clock.total)
        return statistics.median(samples) / 1000

    return measure


def _compare(
    measure: Callable[[int], float], tracer: trace.Tracer, shapes: dict[Target, BareSpan], calls: int
) -> dict[str, float]:
    """Median per variant of many short alternating blocks: load drifts on a shared machine hit all alike."""
    block = 25
    found: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(max(calls // block, 1)):
        for name in VARIANTS:
            with _variant(name, tracer, shapes):
                found[name].append(measure(block))
    return {name: statistics.median(values) for name, values in found.items()}


def _bare_span_hot_us(tracer: trace.Tracer, shape: BareSpan, calls: int) -> float:
    name, start_attributes, end_attributes = shape
    samples = []
    for _ in range(calls):
        start = CLOCK()
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=start_attributes)
        span.set_attributes(end_attributes)
        span.end()
        samples.append(CLOCK() - start)
    return statistics.median(samples) / 1000


def run(calls: int, stream_repeat: int, lengths: tuple[int, int]) -> dict[str, Any]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    trace.set_tracer_provider(provider)
    tracer = provider.get_tracer("bench")
    clock = InnerClock()
    streams = {str(length): chat_sse(length) for length in lengths}
    streams |= {f"gemini-{length}": gemini_sse(length) for length in lengths}
    transport = mock_transport(streams)
    oai = openai.OpenAI(
        api_key="k", max_retries=0, http_client=openai.DefaultHttpxClient(transport=transport)
    )
    # The anthropic SDK's own span would count on the plain side; costline suppresses it anyway.
    ant = anthropic.Anthropic(
        api_key="k",
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(transport=transport),
        open_telemetry=False,
    )
    gemini = genai.Client(
        api_key="k",
        http_options=genai_types.HttpOptions(
            base_url="http://gemini.invalid",
            client_args={"transport": transport},
            retry_options=genai_types.HttpRetryOptions(attempts=1),
        ),
    )
    bedrock, sts = bedrock_clients(lengths)
    targets: tuple[Target, ...] = (
        (Completions, "create"),
        (Messages, "create"),
        (Models, "_generate_content"),
        (BaseClient, "_make_api_call"),
    )
    for owner, method in targets:
        wrapt.wrap_function_wrapper(owner, method, clock)

    def chat() -> None:
        oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

    def message() -> None:
        ant.messages.create(model="claude-test-model", max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]

    def content() -> None:
        gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")

    def converse() -> None:
        bedrock.converse(modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0", messages=BEDROCK_MESSAGES)

    def other_aws_call() -> None:
        sts.get_caller_identity()

    made = (_costline_span(chat), _costline_span(message), _costline_span(content), _costline_span(converse))
    shapes = dict(zip(targets, made, strict=True))
    _compare(_outside_us(chat, clock), tracer, shapes, 100)  # warm-up: imports, caches, span processor
    results: dict[str, Any] = {
        "bare_span_hot_us": round(_bare_span_hot_us(tracer, shapes[targets[0]], calls), 2)
    }
    calls_measured = (
        ("openai_chat", chat),
        ("anthropic_messages", message),
        ("google_genai_generate", content),
        ("bedrock_converse", converse),
    )
    for name, function in calls_measured:
        found = _compare(_outside_us(function, clock), tracer, shapes, calls)
        added, bare = found["costline"] - found["plain"], found["bare_span"] - found["plain"]
        results[name] = {
            "outside_sdk_us": {key: round(value, 2) for key, value in found.items()},
            "added_per_call_us": round(added, 2),
            "bare_span_us": round(bare, 2),
            "ratio_to_bare_span": round(added / bare, 3),
        }
    other = _compare(_outside_us(other_aws_call, clock), tracer, shapes, calls)
    results["aws_other_call"] = {
        "outside_sdk_us": {key: round(other[key], 2) for key in ("plain", "costline")},
        "added_per_call_us": round(other["costline"] - other["plain"], 2),
    }
    stream_clock = InnerClock()
    # openai.Stream reads and parses its events in its `__stream__` generator: the shim times its steps.
    with _shim(openai.Stream, "__stream__", timed_generator(stream_clock)):
        results["openai_chat_stream"] = _per_chunk(
            lambda n: oai.chat.completions.create(model=str(n), messages=MESSAGES, stream=True),  # type: ignore[arg-type]
            stream_clock, tracer, shapes, repeat=stream_repeat, lengths=lengths,
        )  # fmt: skip
    # google-genai's per-request stream is a generator: the shim times each of its next() steps.
    with _shim(Models, "_generate_content_stream", timed_generator(stream_clock)):
        results["google_genai_stream"] = _per_chunk(
            lambda n: gemini.models.generate_content_stream(model=f"gemini-{n}", contents="hi"),
            stream_clock, tracer, shapes, repeat=stream_repeat, lengths=lengths,
        )  # fmt: skip
    # botocore's EventStream iterator is a generator: the shim times each of its next() steps.
    with _shim(EventStream, "__iter__", timed_generator(stream_clock)):
        results["bedrock_converse_stream"] = _per_chunk(
            lambda n: iter(bedrock.converse_stream(modelId=str(n), messages=BEDROCK_MESSAGES)["stream"]),
            stream_clock, tracer, shapes, repeat=stream_repeat, lengths=lengths,
        )  # fmt: skip
    oai.close()
    ant.close()
    gemini.close()
    bedrock.close()
    sts.close()
    provider.shutdown()
    return results


@contextmanager
def _shim(owner: Any, name: str, wrapper: Callable[..., Any]) -> Iterator[None]:
    """`owner.name` wrapped by `wrapper` inside the block, restored after."""
    original = owner.__dict__[name]
    wrapt.wrap_function_wrapper(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _per_chunk(
    open_stream: Callable[[int], Iterator[Any]],
    clock: InnerClock,
    tracer: trace.Tracer,
    shapes: dict[Target, BareSpan],
    *,
    repeat: int,
    lengths: tuple[int, int],
) -> dict[str, Any]:
    """Per-chunk cost outside the SDK's own per-chunk code (timed by `clock`), slope over two lengths."""

    def iteration(length: int) -> Callable[[int], float]:
        def measure(count: int) -> float:
            samples = []
            for _ in range(count):
                stream = open_stream(length)
                clock.total = 0
                start = CLOCK()
                for _ in stream:  # as apps read a stream
                    pass
                samples.append(CLOCK() - start - clock.total)
            return statistics.median(samples) / 1000

        return measure

    measured = {length: _compare(iteration(length), tracer, shapes, repeat) for length in lengths}
    small, large = lengths
    slope = {name: (measured[large][name] - measured[small][name]) / (large - small) for name in VARIANTS}
    return {
        "chunks": list(lengths),
        "outside_next_us": {str(n): {k: round(v, 2) for k, v in measured[n].items()} for n in lengths},
        "added_per_chunk_us": round(slope["costline"] - slope["plain"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/instrumentation.json"))
    parser.add_argument("--calls", type=int, default=2000, help="non-streamed calls per variant (>= 1000)")
    parser.add_argument("--stream-repeat", type=int, default=150, help="streams per variant and length")
    args = parser.parse_args()
    if args.calls < 1000:
        parser.error("--calls must be >= 1000")
    results = run(args.calls, args.stream_repeat, lengths=(10, 210))
    calls_measured = ("openai_chat", "anthropic_messages", "google_genai_generate", "bedrock_converse")
    ratio = max(results[name]["ratio_to_bare_span"] for name in calls_measured)
    streams = ("openai_chat_stream", "google_genai_stream", "bedrock_converse_stream")
    per_chunk = max(results[name]["added_per_chunk_us"] for name in streams)
    report = {
        "benchmark": "instrumentation",
        "command": "python bench/bench_instrumentation.py --out bench/results/instrumentation.json",
        "python": platform.python_version(),
        "openai": openai.__version__,
        "anthropic": anthropic.__version__,
        "google-genai": genai.__version__,
        "boto3": boto3.__version__,
        "calls_per_variant": args.calls,
        "results": results,
        "targets": {"ratio_to_bare_span": TARGET_RATIO, "added_per_chunk_us": TARGET_PER_CHUNK_US},
        "meets_targets": ratio <= TARGET_RATIO and per_chunk <= TARGET_PER_CHUNK_US,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
