"""Ledger + metrics cost per LLM span: `Ledger.record()` and `CostMetrics.observe()` on realistic batches.

    .venv/bin/python bench/bench_ledger.py [--calls 50000] [--batch 512] [--synchronous FULL] [--dir PATH]
                                          [--budgets 0]

Prints one JSON object. The calls are built before timing (normalising and pricing are measured
elsewhere); each batch is one `record()` transaction, as one OTLP export request is in `costline serve`.
`--dir` should be on the disk the ledger will live on: fsync cost decides the FULL numbers.
`--budgets N` gives the metrics N budgets (daily and monthly per workflow, then per tenant): their spend is
kept up to date in `observe()`; `budget_state_us` is one `GET /v1/budgets` answer, `budget_seed_ms` the
start-up query over the ledger's calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from costline.attributes import FEATURE_ID, TENANT_ID, USER_ID, WORKFLOW_ID
from costline_processor.budgets import Budgets, BudgetTracker, budgets_document, parse_budgets
from costline_processor.ledger import Ledger
from costline_processor.metrics import CostMetrics
from costline_processor.model import Cost, LlmCall, PricedCall, Usage

# Spans of the last hour, as a live collector delivers them (the ledger places a call at its start time
# only when that is within the retention of its arrival: rows.Arrival).
T0 = time.time_ns() - 3_600 * 1_000_000_000


def make_calls(count: int, workflows: int) -> list[PricedCall]:
    calls = []
    rng = random.Random(7)  # trace ids are random, as the OTel SDK makes them (the same ones every run)
    trace_ids = [rng.randbytes(16) for _ in range(count // 3 + 1)]
    for n in range(count):
        usage = Usage(input_tokens=1200 + n % 500, output_tokens=300 + n % 97, cache_read_tokens=n % 400)
        call = LlmCall(
            trace_id=trace_ids[n // 3],  # three LLM calls per trace
            span_id=(n + 1).to_bytes(8, "big"),
            start_time_ns=T0 + n * 1000,
            end_time_ns=T0 + n * 1000 + 900,
            source="costline",
            provider="openai",
            operation="chat",
            request_model="gpt-4o-mini",
            response_model="gpt-4o-mini-2024-07-18",
            response_id=f"chatcmpl-{n:012d}",
            usage=usage,
            service_name=f"svc-{n % 4}",
            attribution={
                WORKFLOW_ID: f"wf-{n % workflows}",
                FEATURE_ID: f"f-{n % 3}",
                TENANT_ID: f"t-{n % 11}",
                USER_ID: f"user-{n % 1000}",
            },
        )
        cost = Cost(
            input=Decimal(usage.uncached_input_tokens) * Decimal("0.00000015"),
            cache_read=Decimal(usage.cache_read_tokens) * Decimal("0.000000075"),
            cache_write=Decimal(0),
            output=Decimal(usage.output_tokens) * Decimal("0.0000006"),
            source="genai-prices-0.2.3",
        )
        calls.append(PricedCall(call, cost))
    return calls


def make_budgets(count: int, workflows: int) -> Budgets:
    """`count` budgets: a daily and a monthly one per workflow, then monthly ones per tenant."""
    entries = [
        f"  - {{workflow_id: wf-{n // 2 % workflows}, period: {('daily', 'monthly')[n % 2]}, limit_usd: 100}}"
        if n < 2 * workflows
        else f"  - {{tenant_id: t-{n - 2 * workflows}, period: monthly, limit_usd: 100}}"
        for n in range(count)
    ]
    return parse_budgets("budgets:\n" + "\n".join(entries) + "\n") if entries else Budgets()


def run(  # noqa: PLR0917 - the command line's options
    calls: int, batch: int, synchronous: str, directory: Path, workflows: int, budgets: int
) -> dict[str, object]:
    priced = make_calls(calls, workflows)
    batches = [priced[i : i + batch] for i in range(0, calls, batch)]
    ledger = Ledger(directory / "bench-ledger.sqlite3", synchronous=synchronous)  # type: ignore[arg-type]
    metrics = CostMetrics(budgets=make_budgets(budgets, workflows))
    record_s = observe_s = record_cpu = observe_cpu = 0.0
    for chunk in batches:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = ledger.record(chunk)
        middle, middle_cpu = time.perf_counter(), time.process_time()
        metrics.observe(result)
        record_s, record_cpu = record_s + middle - start, record_cpu + middle_cpu - start_cpu
        observe_s += time.perf_counter() - middle
        observe_cpu += time.process_time() - middle_cpu
    start = time.perf_counter()
    redelivered = ledger.record(batches[0])  # a retried export request: dedupe path only
    redelivery_s = time.perf_counter() - start
    assert all(item.status == "redelivered" for item in redelivered.items)
    start = time.perf_counter()
    text = metrics.render_prometheus()
    render_s = time.perf_counter() - start
    start = time.perf_counter()
    CostMetrics().seed_from(ledger)
    seed_s = time.perf_counter() - start
    state_s, budget_seed_s = _budget_reads(metrics.budgets, ledger)
    size = os.path.getsize(ledger.path)
    assert ledger.totals().requests == calls
    ledger.close()
    return {
        "benchmark": "ledger_record_and_observe",
        "calls": calls,
        "batch_size": batch,
        "synchronous": synchronous,
        "record_us_per_span": round(record_s / calls * 1e6, 2),
        "observe_us_per_span": round(observe_s / calls * 1e6, 2),
        "total_us_per_span": round((record_s + observe_s) / calls * 1e6, 2),
        "spans_per_s_one_core": round(calls / (record_s + observe_s)),
        # CPU time of this process: on a shared machine wall time also counts other processes' turns
        "record_cpu_us_per_span": round(record_cpu / calls * 1e6, 2),
        "observe_cpu_us_per_span": round(observe_cpu / calls * 1e6, 2),
        "load_average_1m": os.getloadavg()[0],
        "redelivered_batch_us_per_span": round(redelivery_s / len(batches[0]) * 1e6, 2),
        "render_prometheus_ms": round(render_s * 1e3, 2),
        "metrics_text_bytes": len(text),
        "seed_from_ms": round(seed_s * 1e3, 2),
        "budgets": budgets,
        "budget_state_us": round(state_s * 1e6, 1),
        "budget_seed_ms": round(budget_seed_s * 1e3, 2),
        "ledger_bytes_per_call": round(size / calls),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "directory": str(directory),
    }


def _budget_reads(tracker: BudgetTracker, ledger: Ledger) -> tuple[float, float]:
    """Seconds of one GET /v1/budgets document (mean of 100) and of seeding a new tracker from the ledger."""
    start = time.perf_counter()
    for _ in range(100):
        budgets_document(*tracker.statuses())
    state_s = (time.perf_counter() - start) / 100
    start = time.perf_counter()
    BudgetTracker(Budgets(tracker.budgets)).seed(ledger)
    return state_s, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--budgets", type=int, default=0, help="budgets the metrics keep up to date")
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL")
    parser.add_argument("--dir", type=Path, default=None, help="where the ledger file is written")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON result to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        result = run(args.calls, args.batch, args.synchronous, Path(directory), args.workflows, args.budgets)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
