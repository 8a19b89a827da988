"""Per-span pricing cost after warm-up, against genai-prices' own per-call cost measured in the same run.

    .venv/bin/python bench/bench_pricing.py [--spans 200000] [--batch 100] [--out bench/results/pricing.json]

Prices a mix of models (Anthropic with 5m/1h cache writes, OpenAI with cached and reasoning tokens, Gemini
long-context requests, batch/flex/priority tiers, a time-of-day priced model, an override-priced self-hosted
model) over a month of start times. Timing is per batch of `--batch` spans (so the clock's own cost is
spread out); the per-span figure is the median over batches. The baseline calls `genai_prices.calc_price`
per span, which is what pricing would cost without compiled plans. Also reports normalisation per span and
whether our totals equal genai-prices' on the default-tier spans (a cross-check, not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import genai_prices
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline import attributes as attr
from costline_processor.model import Cost, LlmCall, Usage
from costline_processor.normalize import normalize_span
from costline_processor.pricing import Pricer

TARGET_US = 3.0
T0_S = 1_761_955_200  # 2025-11-01 UTC
MONTH_S = 30 * 86_400
OVERRIDES = """
models:
  - id: vllm-llama
    provider: openai_compatible
    model: "llama-3.1-70b*"
    rates: {input: 0.40, output: 0.80}
discounts:
  - id: anthropic-commit
    provider: anthropic
    multiplier: 0.85
"""
# (provider, model, genai-prices provider id, service tier, usage shape)
MIX: tuple[tuple[str, str, str | None, str | None, str], ...] = (
    (attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-5-20250929", "anthropic", None, "cached"),
    (attr.PROVIDER_ANTHROPIC, "claude-haiku-4-5", "anthropic", "batch", "cached"),
    (attr.PROVIDER_OPENAI, "gpt-4o-2024-08-06", "openai", None, "plain"),
    (attr.PROVIDER_OPENAI, "gpt-4o-mini", "openai", None, "plain"),
    (attr.PROVIDER_OPENAI, "gpt-5-mini", "openai", "flex", "reasoning"),
    (attr.PROVIDER_OPENAI, "gpt-5", "openai", None, "reasoning"),
    (attr.PROVIDER_OPENAI, "o3", "openai", "priority", "reasoning"),
    (attr.PROVIDER_GEMINI, "gemini-2.5-pro", "google", None, "long"),
    (attr.PROVIDER_DEEPSEEK, "deepseek-chat", "deepseek", None, "plain"),
    (attr.PROVIDER_SELF_HOSTED, "llama-3.1-70b-instruct", None, None, "plain"),
)


def make_usage(rng: random.Random, shape: str) -> Usage:
    input_tokens = rng.randint(50, 300_000 if shape == "long" else 20_000)
    output = rng.randint(1, 4_000)
    if shape == "cached":
        read = rng.randint(0, input_tokens // 2)
        write = rng.randint(0, (input_tokens - read) // 2)
        return Usage(input_tokens, output, read, write, rng.randint(0, write), 0)
    if shape == "reasoning":
        return Usage(input_tokens, output, rng.randint(0, input_tokens // 2), 0, 0, rng.randint(0, output))
    return Usage(input_tokens, output, rng.randint(0, input_tokens // 4), 0, 0, 0)


def make_calls(count: int, seed: int) -> list[tuple[LlmCall, str | None]]:
    rng = random.Random(seed)
    calls = []
    for index in range(count):
        provider, model, library_provider, tier, shape = MIX[index % len(MIX)]
        start = (T0_S + rng.randrange(MONTH_S)) * 1_000_000_000
        call = LlmCall(
            trace_id=index.to_bytes(16, "big"),
            span_id=index.to_bytes(8, "big"),
            start_time_ns=start,
            end_time_ns=start + 1,
            source="costline",
            provider=provider,
            operation=attr.OPERATION_CHAT,
            request_model=model,
            response_model=model,
            response_id=None,
            usage=make_usage(rng, shape),
            service_tier=tier,
        )
        calls.append((call, library_provider))
    return calls


def per_span_us(run: Callable[[Sequence[Any]], object], items: Sequence[Any], batch: int) -> list[float]:
    """Microseconds per item, one figure per batch of `batch` items."""
    figures = []
    for offset in range(0, len(items) - batch + 1, batch):
        chunk = items[offset : offset + batch]
        started = time.perf_counter_ns()
        run(chunk)
        figures.append((time.perf_counter_ns() - started) / 1_000 / len(chunk))
    return figures


def summary(figures: list[float]) -> dict[str, float]:
    ordered = sorted(figures)
    return {
        "p10_us": round(ordered[len(ordered) // 10], 3),  # the least disturbed batches on a busy host
        "median_us": round(statistics.median(ordered), 3),
        "p90_us": round(ordered[int(len(ordered) * 0.9)], 3),
        "mean_us": round(statistics.fmean(ordered), 3),
        "batches": len(ordered),
    }


def library_call(call: LlmCall, provider_id: str | None) -> Any:
    usage = call.usage
    assert usage is not None
    context: dict[str, str] = {}
    if call.service_tier == "batch":
        context["processing"] = "batch"
    elif call.service_tier:
        context["service_tier"] = call.service_tier
    return genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
        ),
        call.model or "",
        provider_id=provider_id,
        genai_request_timestamp=datetime.fromtimestamp(call.start_time_ns / 1e9, UTC),
        price_context=context or None,
    )


def make_spans(count: int) -> list[Span]:
    def value(v: object) -> AnyValue:
        return AnyValue(int_value=v) if isinstance(v, int) else AnyValue(string_value=str(v))

    spans = []
    for index in range(count):
        values: dict[str, object] = {
            attr.GEN_AI_PROVIDER_NAME: "anthropic",
            attr.GEN_AI_OPERATION_NAME: "chat",
            attr.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
            attr.GEN_AI_RESPONSE_MODEL: "claude-sonnet-4-5-20250929",
            attr.GEN_AI_RESPONSE_ID: f"msg_{index}",
            attr.GEN_AI_USAGE_INPUT_TOKENS: 5_000 + index % 1_000,
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: 300,
            attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 2_000,
            attr.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 1_000,
            attr.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS: 400,
            attr.WORKFLOW_ID: "support",
            attr.TENANT_ID: "acme",
            attr.SERVER_ADDRESS: "api.anthropic.com",
        }
        attributes = [KeyValue(key=k, value=value(v)) for k, v in values.items()]
        spans.append(Span(trace_id=b"t" * 16, span_id=b"s" * 8, name="chat", attributes=attributes))
    return spans


def calibration_us() -> float:
    """A fixed pure-Python workload (sum(range(1000))): ~8 us on an idle core; more means a busy host."""
    figures = []
    for _ in range(200):
        started = time.perf_counter_ns()
        sum(range(1000))
        figures.append((time.perf_counter_ns() - started) / 1_000)
    return round(statistics.median(figures), 2)


def measure_ours(pricer: Pricer, calls: Sequence[LlmCall], batch: int) -> list[float]:
    price = pricer.price
    for call in calls:  # warm-up: every (model, tier, day) plan compiled once
        price(call)

    def ours(chunk: Sequence[LlmCall]) -> None:
        for call in chunk:
            price(call)

    return per_span_us(ours, calls, batch)


def measure_library(items: Sequence[tuple[LlmCall, str | None]], batch: int) -> list[float]:
    def theirs(chunk: Sequence[tuple[LlmCall, str | None]]) -> None:
        for call, provider_id in chunk:
            library_call(call, provider_id)

    theirs(items[:200])  # the library's own lookup caches warm up too
    return per_span_us(theirs, items, batch)


def cross_check(pricer: Pricer, items: Sequence[tuple[LlmCall, str | None]]) -> str:
    """How many standard-tier, undiscounted totals equal genai-prices' (tier fallbacks differ by design)."""
    agree, compared = 0, 0
    for call, provider_id in items:
        if (
            call.service_tier is None and call.provider != attr.PROVIDER_ANTHROPIC
        ):  # the discount applies there
            ours = pricer.price(call)
            compared += 1
            agree += isinstance(ours, Cost) and ours.total == library_call(call, provider_id).total_price
    return f"{agree}/{compared}"


def measure_normalize(count: int, batch: int) -> list[float]:
    spans = make_spans(count)
    resource, scope = Resource(), InstrumentationScope(name=attr.INSTRUMENTATION_SCOPE)

    def normalise(chunk: Sequence[Span]) -> None:
        for span in chunk:
            normalize_span(span, resource, scope)

    return per_span_us(normalise, spans, batch)


def run(args: argparse.Namespace, pricer: Pricer) -> dict[str, Any]:
    calls = make_calls(args.spans, seed=1)
    ours = summary(measure_ours(pricer, [call for call, _ in calls], args.batch))
    library_items = [item for item in calls if item[1] is not None][: args.baseline_spans]
    library = summary(measure_library(library_items, args.batch))
    return {
        "benchmark": "pricing",
        "spans_priced": len(calls),
        "models": len(MIX),
        "costline_pricing": ours,
        "genai_prices_calc_price_baseline": library,
        "speedup_median": round(library["median_us"] / ours["median_us"], 1),
        "target_us": TARGET_US,
        "meets_target": ours["median_us"] <= TARGET_US,
        "normalize_span": summary(measure_normalize(args.normalize_spans, args.batch)),
        "totals_equal_genai_prices": cross_check(pricer, library_items),
        "plan_cache": pricer.cache_info(),
        "calibration_sum_range_1000_us": calibration_us(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "genai_prices": pricer.data_version,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=200_000, help="spans priced after warm-up (>= 100000)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--baseline-spans", type=int, default=5_000, help="spans priced by genai-prices")
    parser.add_argument("--normalize-spans", type=int, default=20_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        overrides = Path(directory) / "overrides.yaml"
        overrides.write_text(OVERRIDES)
        result = run(args, Pricer.load(overrides))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
