"""costline against a hand-made span (the floor) and the peer instrumentations, each in its own process.

    .venv/bin/python bench/bench_peers.py [--out bench/results/peers.json] [--rounds 7] [--calls 400]

Each variant runs in a fresh process (`--worker VARIANT`): the real `openai` and `anthropic` clients on an
in-process `httpx2.MockTransport` (canned JSON and SSE from sdk_fakes.py), an SDK
`TracerProvider` with one `BatchSpanProcessor` (a no-op exporter, flushed inside the measured block so the
export thread's work is counted), W3C baggage with a `workflow_id` current, and the anthropic SDK's own
span off (`ANTHROPIC_OPEN_TELEMETRY=false`: costline stands it down while it traces a call, the others do
not). The worker measures process CPU time (all threads) over `--calls` non-streamed OpenAI chat calls, as
many Anthropic messages calls, and OpenAI chat streams of two lengths, after a warm-up. The per-chunk slope
here includes the SDK's own SSE parsing (~70 us a chunk) and so is noisy; bench_instrumentation.py times
costline's per-chunk work alone.
Variants:

- `none`: no instrumentation, the baseline every other variant is measured against (added = variant - none);
- `floor`: a hand-made wrapper that starts one CLIENT span with 8 attributes (operation, provider, request
  and response model, response id, input and output tokens, the workflow from baggage) and ends it;
- `costline`; `otel_genai` (opentelemetry-instrumentation-genai-openai / -anthropic); `openinference`;
  `openllmetry` (opentelemetry-instrumentation-openai / -anthropic): each when installed (the `peers` extra).

The variants run interleaved: every round runs each once, in a rotated order, so drift on a shared machine
hits all of them alike. Reported: per variant the median over rounds of the added microseconds per call
(OpenAI chat, Anthropic messages) and per stream chunk (the slope between the two stream lengths), and
costline's ratios to the floor and to the cheapest peer, each with a 95 % bootstrap confidence interval over
the rounds (resampled in pairs: the rounds' `none` runs with the variants of the same round). JSON to stdout
and to `--out`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from sdk_fakes import MESSAGES, TARGET_PER_CHUNK_US, NullExporter, chat_sse, mock_transport

VARIANTS = ("none", "floor", "costline", "otel_genai", "openinference", "openllmetry")
PEERS = ("otel_genai", "openinference", "openllmetry")
# Where each peer's instrumentors live: (OpenAI, Anthropic)
PEER_MODULES = {
    "otel_genai": (
        "opentelemetry.instrumentation.genai.openai",
        "opentelemetry.instrumentation.genai.anthropic",
    ),
    "openinference": ("openinference.instrumentation.openai", "openinference.instrumentation.anthropic"),
    "openllmetry": ("opentelemetry.instrumentation.openai", "opentelemetry.instrumentation.anthropic"),
}
PEER_DISTRIBUTIONS = {
    "otel_genai": "opentelemetry-instrumentation-genai-openai",
    "openinference": "openinference-instrumentation-openai",
    "openllmetry": "opentelemetry-instrumentation-openai",
}
METRICS = ("openai_chat_us", "anthropic_messages_us", "per_chunk_us")
STREAM_LENGTHS = (8, 40)
TARGET_FLOOR_RATIO = 1.3
TARGET_PEER_RATIO = 0.3
BOOTSTRAP = 2000


def available(variant: str) -> bool:
    if variant not in PEER_MODULES:
        return True
    return all(find_spec(module) is not None for module in PEER_MODULES[variant])


# ---- the worker: one variant, one process ----


def _floor_wrapper(tracer: Any, provider: str) -> Callable[..., Any]:
    from opentelemetry import baggage
    from opentelemetry.trace import SpanKind

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": kwargs.get("model", ""),
            "workflow_id": str(baggage.get_baggage("workflow_id") or ""),
        }
        span = tracer.start_span(f"chat {kwargs.get('model')}", kind=SpanKind.CLIENT, attributes=attributes)
        try:
            result = wrapped(*args, **kwargs)
            usage = getattr(result, "usage", None)
            if usage is not None:  # openai's and anthropic's usage objects name the counts differently
                tokens_in = getattr(usage, "prompt_tokens", None) or usage.input_tokens
                tokens_out = getattr(usage, "completion_tokens", None) or usage.output_tokens
                span.set_attributes({
                    "gen_ai.response.model": result.model,
                    "gen_ai.response.id": result.id,
                    "gen_ai.usage.input_tokens": tokens_in,
                    "gen_ai.usage.output_tokens": tokens_out,
                })  # fmt: skip
            return result
        finally:
            span.end()

    return wrapper


def _instrument(variant: str, provider: Any) -> None:
    if variant == "none":
        return
    if variant == "costline":
        from costline.instrumentor import CostlineInstrumentor

        CostlineInstrumentor().instrument(tracer_provider=provider)
        return
    if variant == "floor":
        import wrapt
        from anthropic.resources.messages.messages import Messages
        from openai.resources.chat.completions import Completions

        tracer = provider.get_tracer("floor")
        wrapt.wrap_function_wrapper(Completions, "create", _floor_wrapper(tracer, "openai"))
        wrapt.wrap_function_wrapper(Messages, "create", _floor_wrapper(tracer, "anthropic"))
        return
    import importlib

    for module, name in zip(
        PEER_MODULES[variant], ("OpenAIInstrumentor", "AnthropicInstrumentor"), strict=True
    ):
        getattr(importlib.import_module(module), name)().instrument(tracer_provider=provider)


def _process_ns(function: Callable[[], Any], repeat: int, flush: Callable[[], Any]) -> float:
    start = time.process_time_ns()
    for _ in range(repeat):
        function()
    flush()
    return (time.process_time_ns() - start) / repeat


def worker(variant: str, calls: int) -> dict[str, float]:
    os.environ.setdefault("TRACELOOP_TELEMETRY", "false")
    # The anthropic SDK makes a span of its own per call when an SDK TracerProvider is set; costline stands it
    # down during its call and the others do not, which would charge every other variant for it.
    os.environ["ANTHROPIC_OPEN_TELEMETRY"] = "false"
    import anthropic
    import httpx2
    import openai
    from opentelemetry import baggage, context, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NullExporter()))
    trace.set_tracer_provider(provider)
    _instrument(variant, provider)
    streams = {f"stream-{n}": chat_sse(n) for n in STREAM_LENGTHS}
    transport = mock_transport(streams)
    oai = openai.OpenAI(
        api_key="x", base_url="http://llm.test/v1", http_client=httpx2.Client(transport=transport)
    )
    ant = anthropic.Anthropic(
        api_key="x", base_url="http://llm.test", http_client=httpx2.Client(transport=transport)
    )  # fmt: skip
    token = context.attach(baggage.set_baggage("workflow_id", "support"))

    def chat() -> None:
        oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

    def message() -> None:
        ant.messages.create(model="claude-test-model", max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]

    def stream(length: int) -> Callable[[], None]:
        def run() -> None:
            for _ in oai.chat.completions.create(model=f"stream-{length}", messages=MESSAGES, stream=True):  # type: ignore[arg-type]
                pass

        return run

    flush = provider.force_flush
    for function in (chat, message, stream(STREAM_LENGTHS[0]), stream(STREAM_LENGTHS[1])):
        _process_ns(function, max(calls // 4, 20), flush)  # warm-up: caches, the specializing interpreter
    # The heap of imports (~200k objects) is moved out of the collector's reach in every variant, as
    # `costline serve` does with its own: otherwise where each variant's allocations fall in the collector's
    # cycle decides its figure (the floor's Anthropic call measured +49 us in one session and +344 us in the
    # next, with the same code and packages; with the heap frozen it measures +45 us, +42 us on OpenAI).
    gc.collect()
    gc.freeze()
    chat_ns = _process_ns(chat, calls, flush)
    message_ns = _process_ns(message, calls, flush)
    short_ns = _process_ns(stream(STREAM_LENGTHS[0]), calls, flush)
    long_ns = _process_ns(stream(STREAM_LENGTHS[1]), calls, flush)
    context.detach(token)
    provider.shutdown()
    chunks = STREAM_LENGTHS[1] - STREAM_LENGTHS[0]
    return {
        "openai_chat_us": chat_ns / 1000,
        "anthropic_messages_us": message_ns / 1000,
        "per_chunk_us": (long_ns - short_ns) / chunks / 1000,
    }


# ---- the coordinator ----


def _run_worker(variant: str, calls: int) -> dict[str, float]:
    here = Path(__file__).resolve()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(here.parent), os.environ.get("PYTHONPATH")])),
    }
    env.pop("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", None)
    result = subprocess.run(
        [sys.executable, str(here), "--worker", variant, "--calls", str(calls)],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"worker {variant} failed:\n{result.stderr[-3000:]}")
    found: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def _rounds(
    variants: list[str], rounds: int, calls: int, log: Callable[[str], None]
) -> list[dict[str, dict[str, float]]]:
    runs: list[dict[str, dict[str, float]]] = []
    for number in range(rounds):
        order = variants[number % len(variants) :] + variants[: number % len(variants)]
        runs.append({variant: _run_worker(variant, calls) for variant in order})
        log(f"round {number + 1}/{rounds} done")
    return runs


def _added(run: dict[str, dict[str, float]], variant: str, metric: str) -> float:
    return run[variant][metric] - run["none"][metric]


def _median_added(runs: list[dict[str, dict[str, float]]], variant: str, metric: str) -> float:
    return statistics.median(_added(run, variant, metric) for run in runs)


def _ratio_ci(runs: list[dict[str, dict[str, float]]], metric: str, other: str) -> dict[str, float]:
    """costline's median added time over `other`'s, with a bootstrap 95 % interval over the rounds."""
    point = _median_added(runs, "costline", metric) / _median_added(runs, other, metric)
    rng = random.Random(7)
    samples = []
    for _ in range(BOOTSTRAP):
        resampled = [rng.choice(runs) for _ in runs]
        samples.append(_median_added(resampled, "costline", metric) / _median_added(resampled, other, metric))
    samples.sort()
    low, high = samples[int(0.025 * BOOTSTRAP)], samples[int(0.975 * BOOTSTRAP)]
    return {"ratio": point, "ci95_low": low, "ci95_high": high}


def summarize(runs: list[dict[str, dict[str, float]]], variants: list[str]) -> dict[str, Any]:
    added = {v: {m: _median_added(runs, v, m) for m in METRICS} for v in variants if v != "none"}
    peers = [v for v in PEERS if v in variants]
    ratios: dict[str, Any] = {}
    for metric in ("openai_chat_us", "anthropic_messages_us"):
        ratios[metric] = {"to_floor": _ratio_ci(runs, metric, "floor")}
        if peers:
            cheapest = min(peers, key=lambda peer: added[peer][metric])
            ratios[metric]["to_cheapest_peer"] = {"peer": cheapest, **_ratio_ci(runs, metric, cheapest)}
    chunk = added["costline"]["per_chunk_us"]
    ratios["per_chunk_us"] = {"costline": chunk, "target": TARGET_PER_CHUNK_US}
    return {"added_us": added, "costline_ratios": ratios}


def _versions(variants: list[str]) -> dict[str, str]:
    from importlib.metadata import version

    found = {name: version(name) for name in ("openai", "anthropic", "opentelemetry-sdk", "costline")}
    for variant in variants:
        if variant in PEER_DISTRIBUTIONS:
            found[PEER_DISTRIBUTIONS[variant]] = version(PEER_DISTRIBUTIONS[variant])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/peers.json"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=400, help="calls per measured block in each worker")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.calls)))
        return
    variants = [v for v in VARIANTS if available(v)]
    runs = _rounds(variants, args.rounds, args.calls, lambda line: print(line, file=sys.stderr, flush=True))
    summary = summarize(runs, variants)
    result = {
        "benchmark": "peers",
        "unit": "microseconds of process CPU time added per call (per chunk), median over rounds",
        "targets": {"to_floor": TARGET_FLOOR_RATIO, "to_cheapest_peer": TARGET_PEER_RATIO,
                    "per_chunk_us": TARGET_PER_CHUNK_US},
        "rounds": args.rounds, "calls": args.calls, "variants": variants,
        "missing": [v for v in VARIANTS if v not in variants],
        **summary,
        "versions": _versions(variants),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "raw": runs,
    }  # fmt: skip
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
