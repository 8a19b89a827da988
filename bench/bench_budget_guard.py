"""What the budget guard adds to an LLM call on the hot path, measured in-process (no sockets, no thread).

    .venv/bin/python bench/bench_budget_guard.py --out bench/results/budget_guard.json

A real openai client answers from an `httpx2.MockTransport` (the canned bytes of sdk_fakes.py); a
timing shim around the SDK method takes the SDK's own time out, as in bench_instrumentation. Every call
runs inside `costline.workflow("bench")` under costline's instrumentation, and only the guard differs
between the variants, alternated in short blocks so load drifts hit all alike:

- `no_guard`: `COSTLINE_BUDGETS_URL` unset (the wrappers find no guard);
- `other_budgets_stopped`: a guard whose snapshot has a stopped budget of another workflow (one dict
  lookup misses);
- `partial_match`: also a stopped budget of this workflow and another tenant (the lookup finds it, the
  tenant does not match: the most a call under no budget pays);
- `downgrade_applies`: this call's workflow is stopped with `on_stop: downgrade` (the kwargs are copied
  with the cheaper model, the span gets `llm.budget.downgraded_from`);
- `dry_run_applies`: the same budget in dry run (span attributes only);
- `no_guard_again`: `no_guard` once more: its `added_us` is the measurement's noise floor.

Reported (medians of the blocks, us): `added_us` = variant - no_guard; targets: <= 1 us when no budget
applies (the first two), <= 2 us when one does (the next two). `check_ns`: `BudgetGuard.check` alone
in a tight loop, for reference.
The guard's snapshot is published directly (no source, no refresher thread): this measures the hot path
only, which is all a call pays. Times are the thread's CPU time.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import wrapt
from openai.resources.chat.completions import Completions
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import costline
from costline import _budget_guard
from costline._budget_guard import BudgetGuard
from costline._budget_settings import GuardSettings
from costline._budget_state import BudgetState
from costline.instrumentor import CostlineInstrumentor
from sdk_fakes import CLOCK, MESSAGES, InnerClock, NullExporter, mock_transport

VARIANTS = (
    "no_guard",
    "other_budgets_stopped",
    "partial_match",
    "downgrade_applies",
    "dry_run_applies",
    "no_guard_again",
)
NO_BUDGET_APPLIES = ("other_budgets_stopped", "partial_match")
ONE_APPLIES = ("downgrade_applies", "dry_run_applies")
TARGET_NO_BUDGET_US = 1.0
TARGET_APPLIES_US = 2.0
WORKFLOW = "bench"
WARM_UP_CALLS = 6000  # per variant: with fewer, the first variants measured pay for the warm-up


def _state(scope: tuple[tuple[str, str], ...], on_stop: str, model: str | None) -> BudgetState:
    return BudgetState(
        scope=scope, period="monthly", spent_usd=Decimal(130), limit_usd=Decimal(100), stop_at=Decimal(120),
        on_stop=on_stop, downgrade_to=model, stopped=True, resets_at=datetime(2100, 1, 1, tzinfo=UTC),
        resets_in_s=1e9,
    )  # fmt: skip


def _guard(variant: str) -> BudgetGuard | None:
    if variant in ("no_guard", "no_guard_again"):
        return None
    states = [_state((("workflow_id", "someone_else"),), "block", None)]
    if variant != "other_budgets_stopped":  # this workflow, but another tenant: looked at, then passed
        states.append(_state((("workflow_id", WORKFLOW), ("tenant_id", "another_tenant")), "block", None))
    if variant in ONE_APPLIES:
        states.append(_state((("workflow_id", WORKFLOW),), "downgrade", "gpt-4o-mini"))
    settings = GuardSettings(url="http://unused", enforce=variant != "dry_run_applies", max_staleness_s=1e9)
    guard = BudgetGuard(settings, "bench")
    guard.published(states, time.monotonic())
    return guard


@contextmanager
def _active(guard: BudgetGuard | None) -> Iterator[None]:
    _budget_guard.activate(guard)
    try:
        yield
    finally:
        _budget_guard.activate(None)


def _outside_us(function: Callable[[], Any], clock: InnerClock) -> Callable[[int], float]:
    def measure(repeat: int) -> float:
        samples = []
        with costline.workflow(WORKFLOW, tenant_id="acme"):
            for _ in range(repeat):
                clock.total = 0
                start = CLOCK()
                function()
                samples.append(CLOCK() - start - clock.total)
        return statistics.median(samples) / 1000

    return measure


def _compare(
    measure: Callable[[int], float], guards: dict[str, BudgetGuard | None], calls: int
) -> dict[str, float]:
    block = 25
    found: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(max(calls // block, 1)):
        for name in VARIANTS:
            with _active(guards[name]):
                found[name].append(measure(block))
    return {name: statistics.median(values) for name, values in found.items()}


def _check_ns(guard: BudgetGuard, attribution: dict[str, str], repeat: int = 200_000) -> float:
    check = guard.check
    start = time.perf_counter_ns()
    for _ in range(repeat):
        check(attribution)
    return (time.perf_counter_ns() - start) / repeat


def run(calls: int) -> dict[str, Any]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NullExporter()))
    trace.set_tracer_provider(provider)
    clock = InnerClock()
    transport = mock_transport({})
    client = openai.OpenAI(
        api_key="k", max_retries=0, http_client=openai.DefaultHttpxClient(transport=transport)
    )
    wrapt.wrap_function_wrapper(Completions, "create", clock)
    instrumentor = CostlineInstrumentor()
    instrumentor.instrument()

    def chat() -> None:
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)  # type: ignore[arg-type]

    guards = {name: _guard(name) for name in VARIANTS}
    measure = _outside_us(chat, clock)
    try:
        _compare(measure, guards, WARM_UP_CALLS)  # the specializing interpreter settles, caches fill
        found = _compare(measure, guards, calls)
    finally:
        instrumentor.uninstrument()
        client.close()
        provider.shutdown()
    attribution = {"workflow_id": WORKFLOW, "tenant_id": "acme"}
    return {
        "outside_sdk_us": {name: round(value, 3) for name, value in found.items()},
        "added_us": {name: round(found[name] - found["no_guard"], 3) for name in VARIANTS[1:]},
        "check_ns": {
            name: round(_check_ns(guard, attribution), 1)
            for name, guard in guards.items()
            if guard is not None
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/budget_guard.json"))
    parser.add_argument("--calls", type=int, default=3000, help="calls per variant (>= 1000)")
    args = parser.parse_args()
    if args.calls < 1000:
        parser.error("--calls must be >= 1000")
    results = run(args.calls)
    added = results["added_us"]
    report = {
        "benchmark": "budget_guard",
        "command": "python bench/bench_budget_guard.py --out bench/results/budget_guard.json",
        "python": platform.python_version(),
        "openai": openai.__version__,
        "calls_per_variant": args.calls,
        "results": results,
        "targets": {"no_budget_applies_us": TARGET_NO_BUDGET_US, "budget_applies_us": TARGET_APPLIES_US},
        "meets_targets": max(added[name] for name in NO_BUDGET_APPLIES) <= TARGET_NO_BUDGET_US
        and max(added[name] for name in ONE_APPLIES) <= TARGET_APPLIES_US,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
