"""Overload of a real `costline serve`: 500 clients export at once over OTLP/gRPC, then over OTLP/HTTP.

Each client has its own connection and follows the OpenTelemetry Collector's OTLP exporter rules: gRPC
RESOURCE_EXHAUSTED is retried only when it carries a `google.rpc.RetryInfo` (else the batch is dropped as
a permanent error), UNAVAILABLE and the other transient codes are retried anyway; HTTP 429/502/503/504 are
retried after `Retry-After`, any other status is dropped. So every refusal must carry a retry delay, every
batch must end up accepted, and the ledger must hold every call's cost exactly, while the service's
memory and threads stay bounded.

Every call is a gpt-4o call priced by hand at the list price ($2.50 input / $10 output per million
tokens); client `i`'s call `n` has 1,000 + i input and 100 + n output tokens, so every cost is distinct.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from otlp_clients import GIVE_UP_AFTER_S, ClientLog, grpc_client, http_client
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from costline_processor.ledger import Ledger
from genai_spans import Call, encode_request, make_spans
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

CLIENTS = 500
CALLS_PER_EXPORT = 10
# Measured peak RSS of the serve process in this test: 81-89 MiB (gRPC), 78-82 MiB (HTTP); idle it is
# ~73 MiB. The bound leaves room for the machine, not for buffers that grow with the clients.
RSS_BOUND_BYTES = 160 * 1024 * 1024
THREADS_BOUND = 300  # 256 HTTP connections at most, 16 + 4 gRPC workers, a few service threads


def calls_of(client: int) -> list[Call]:
    return [
        Call("openai", "gpt-4o", 1_000 + client, 100 + n, response_id=f"chatcmpl-{client}-{n}")
        for n in range(CALLS_PER_EXPORT)
    ]


def list_price(call: Call) -> Decimal:
    return (call.input_tokens * Decimal("2.50") + call.output_tokens * Decimal(10)) / Decimal(1_000_000)


def expected_cost() -> Decimal:
    return sum((list_price(call) for client in range(CLIENTS) for call in calls_of(client)), Decimal(0))


@dataclass
class Load:
    logs: list[ClientLog]
    max_rss_bytes: int
    max_threads: int
    seconds: float

    @property
    def refusals(self) -> list[tuple[str, float | None]]:
        return [refusal for log in self.logs for refusal in log.refusals]

    def summary(self) -> str:
        without_delay = [status for status, delay in self.refusals if delay is None]
        return (
            f"{len(self.logs)} clients in {self.seconds:.1f}s: {len(self.refusals)} refusals "
            f"({len(without_delay)} without a retry delay: {sorted(set(without_delay))[:5]}), "
            f"{sum(1 for log in self.logs if log.dropped)} dropped "
            f"({[log.dropped for log in self.logs if log.dropped][:3]}), "
            f"max RSS {self.max_rss_bytes / 2**20:.0f} MiB, max threads {self.max_threads}"
        )


def run_clients(serve: ServeProcess, client: Callable[[bytes, threading.Barrier, ClientLog], None]) -> Load:
    """Start CLIENTS clients at once, each exporting its own request; sample the service while they run."""
    payloads = [encode_request(make_spans(calls_of(index))).SerializeToString() for index in range(CLIENTS)]
    logs = [ClientLog() for _ in range(CLIENTS)]
    start = threading.Barrier(CLIENTS + 1)
    threads = [
        threading.Thread(target=client, args=(payload, start, log), daemon=True)
        for payload, log in zip(payloads, logs, strict=True)
    ]
    for thread in threads:
        thread.start()
    start.wait(timeout=60)
    began = time.monotonic()
    max_rss = max_threads = 0
    while any(thread.is_alive() for thread in threads):
        max_rss, max_threads = max(max_rss, serve.rss_bytes()), max(max_threads, serve.thread_count())
        assert time.monotonic() - began < GIVE_UP_AFTER_S + 15, "clients did not finish"
        time.sleep(0.02)
    return Load(logs, max_rss, max_threads, time.monotonic() - began)


def check_nothing_lost(serve: ServeProcess, load: Load) -> None:
    print(load.summary())  # the numbers the docs quote (pytest -s shows them)
    assert [status for status, delay in load.refusals if delay is None] == [], load.summary()
    assert all(log.accepted for log in load.logs), load.summary()
    samples = serve.metrics()
    assert total(samples, names.PROM_REQUESTS_TOTAL) == CLIENTS * CALLS_PER_EXPORT
    refused = total(samples, names.SELF_REQUESTS_REFUSED, reason="overloaded")
    assert refused == len(load.refusals) > 0, load.summary()  # the burst was an overload, every one counted
    assert load.max_rss_bytes < RSS_BOUND_BYTES, load.summary()
    assert load.max_threads < THREADS_BOUND, load.summary()
    assert serve.stop() == 0, serve.log()
    with Ledger(serve.ledger_path, read_only=True) as ledger:
        totals = ledger.totals()
    assert totals.requests == CLIENTS * CALLS_PER_EXPORT
    assert totals.cost_total == expected_cost()  # exact, to the last decimal place


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def llm_span_count(tempo: GrpcTraceCapture) -> int:
    return len({s.span_id for s in tempo.spans if attr.GEN_AI_PROVIDER_NAME in s.attributes})


def test_500_concurrent_grpc_exports_are_all_priced_after_retries(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    serve = ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]).start()
    try:
        load = run_clients(serve, lambda p, s, log: grpc_client(serve.grpc_target, p, s, log))
        check_nothing_lost(serve, load)
    finally:
        serve.stop()
    assert llm_span_count(tempo) == CLIENTS * CALLS_PER_EXPORT


def test_500_concurrent_http_exports_are_all_priced_after_retries(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    serve = ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]).start()
    try:
        load = run_clients(serve, lambda p, s, log: http_client(serve.http_port, p, s, log))
        check_nothing_lost(serve, load)
    finally:
        serve.stop()
    assert llm_span_count(tempo) == CLIENTS * CALLS_PER_EXPORT
