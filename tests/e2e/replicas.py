"""N `costline serve` replicas on one PostgreSQL ledger: the calls they are sent and the checks that every
total is exact.

Every call is a gpt-4o call at its list price ($2.50 / $10 per million tokens), computed here by hand in
Decimal; each replica's /metrics must be its own share of the ledger, the shares summing to the whole.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_clients import EXPORT
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from costline_processor.ledger import open_ledger
from genai_spans import Call, encode_request, make_call_spans, make_spans
from postgres_server import PASSWORD

PER_BATCH = 8
SCOPES = ("opentelemetry.instrumentation.genai.openai", attr.INSTRUMENTATION_SCOPE)


def calls_of(tag: str, batches: int) -> list[list[Call]]:
    """`batches` lists of PER_BATCH distinct gpt-4o calls with varied usage."""
    return [
        [
            Call("openai", "gpt-4o", 1_000 + 7 * n + b, 100 + n % 9, response_id=f"chatcmpl-{tag}-{b}-{n}")
            for n in range(PER_BATCH)
        ]
        for b in range(batches)
    ]


def list_price(calls: Sequence[Call]) -> Decimal:
    """gpt-4o at $2.50 per million input tokens and $10 per million output tokens, exactly."""
    million = Decimal(1_000_000)
    return sum((c.input_tokens * Decimal("2.50") / million + c.output_tokens * Decimal(10) / million
                for c in calls), Decimal(0))  # fmt: skip


def payload(calls: Sequence[Call]) -> bytes:
    return encode_request(make_spans(calls)).SerializeToString()


def split_by_scope(calls: Sequence[Call], *, opposite_orders: bool = False) -> list[bytes]:
    """Each call traced by two instrumentations, as two export requests: one per instrumentation.

    `opposite_orders`: the second request lists its spans last call first. Two replicas recording the
    halves at once then insert the same call keys in opposite orders, and each waits for the other's lock.
    """
    request = encode_request(make_call_spans(calls, SCOPES))
    halves = [ExportTraceServiceRequest() for _ in SCOPES]
    for resource_spans in request.resource_spans:
        for half, scope_name in zip(halves, SCOPES, strict=True):
            kept = half.resource_spans.add()
            kept.resource.CopyFrom(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                if scope_spans.scope.name == scope_name:
                    kept.scope_spans.add().CopyFrom(scope_spans)
    if opposite_orders:
        for scope_spans in (ss for rs in halves[-1].resource_spans for ss in rs.scope_spans):
            spans = list(scope_spans.spans)
            del scope_spans.spans[:]
            scope_spans.spans.extend(reversed(spans))
    return [half.SerializeToString() for half in halves]


class Collector:
    """Keeps each export request until a replica acknowledges it; a refused one goes to the next replica."""

    def __init__(self, batches: Sequence[bytes], targets: Callable[[], list[str]]) -> None:
        self.batches = list(batches)
        self.targets = targets
        self.acked: set[int] = set()
        self.refusals: list[grpc.StatusCode] = []
        self._lock = threading.Lock()

    def send(self, target: str, index: int) -> bool:
        with grpc.insecure_channel(target) as channel:
            try:
                channel.unary_unary(EXPORT)(self.batches[index], timeout=10)
            except grpc.RpcError as error:
                with self._lock:
                    self.refusals.append(error.code())  # type: ignore[attr-defined]
                return False
        with self._lock:
            self.acked.add(index)
        return True

    def deliver(self, timeout_s: float = 90.0, pace_s: float = 0.0) -> None:
        """Send every batch, round robin over the replicas, until every one is acknowledged."""
        deadline = time.monotonic() + timeout_s
        attempt = 0
        while len(self.acked) < len(self.batches):
            assert time.monotonic() < deadline, f"{len(self.batches) - len(self.acked)} batches never acked"
            for index in range(len(self.batches)):
                if index in self.acked:
                    continue
                targets = self.targets()
                if not self.send(targets[(index + attempt) % len(targets)], index):
                    time.sleep(0.05)
                time.sleep(pace_s)
            attempt += 1


def start_replicas(
    stack: ExitStack, tmp_path: Path, url: str, names_: Sequence[str], args: Sequence[str] = ()
) -> list[ServeProcess]:
    replicas = []
    for name in names_:
        workdir = tmp_path / name
        workdir.mkdir()
        replica = ServeProcess(workdir, ledger_url=url, instance_id=name, args=args)
        replicas.append(stack.enter_context(replica))
    return replicas


def shares(url: str) -> tuple[dict[str, int], dict[str, Decimal]]:
    """Per replica: calls and cost (Decimal) as the shared ledger records them."""
    requests: dict[str, int] = {}
    cost: dict[str, Decimal] = {}
    with open_ledger(url) as reader:
        for row in reader.iter_calls():
            replica = str(row["replica"])
            requests[replica] = requests.get(replica, 0) + 1
            cost[replica] = cost.get(replica, Decimal(0)) + Decimal(str(row["cost_total"]))
    return requests, cost


def assert_exact(url: str, replicas: Sequence[ServeProcess], calls: Sequence[Call]) -> None:
    """Every call once at its list price, and each replica's /metrics exactly its share of the ledger."""
    with open_ledger(url) as reader:
        whole = reader.totals()
        assert reader.verify() == []
        rows = list(reader.iter_calls())
    assert whole.requests == len(calls) == len(rows)
    assert sorted(str(r["response_id"]) for r in rows) == sorted(str(c.response_id) for c in calls)
    assert whole.cost_total == list_price(calls)
    requests, cost = shares(url)
    assert sum(requests.values()) == len(calls)
    assert sum(cost.values(), Decimal(0)) == list_price(calls)
    for replica in replicas:
        samples = replica.metrics()
        share = replica.instance_id
        assert total(samples, names.PROM_REQUESTS_TOTAL) == requests.get(share, 0), share
        counted = total(samples, names.PROM_COST_USD_TOTAL)
        assert math.isclose(counted, float(cost.get(share, 0)), rel_tol=1e-12), share


def assert_no_password(*replicas: ServeProcess) -> None:
    for replica in replicas:
        assert PASSWORD not in replica.log()
        assert "Traceback" not in replica.log()


def at_once(*work: Callable[[], object]) -> None:
    barrier = threading.Barrier(len(work))

    def run(job: Callable[[], object]) -> None:
        barrier.wait()
        job()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
